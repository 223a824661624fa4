"""The commits to replay and the scratch worktree they are checked out in.

The user's checkout is never touched: every commit is checked out in a detached ``git worktree``
under a temporary folder, removed at the end even when the replay fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dryci.exceptions import DryciError

__all__ = [
    "Commit",
    "ReplayError",
    "changed_lines",
    "checkout",
    "first_parent_commits",
    "git",
    "scratch_worktree",
]


class ReplayError(DryciError):
    """The replay cannot go on: not a git repository, a git command failed, a bad argument."""


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:10]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


def git(repo: Path, *args: str) -> str:
    """``git -C repo args``: its stdout, or a ReplayError with git's own first line of complaint."""
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise ReplayError("git is not installed (or not on PATH)") from exc
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        complaint = lines[0] if lines else f"exit code {result.returncode}"
        raise ReplayError(f"git {' '.join(args[:2])} failed in {repo}: {complaint}")
    return result.stdout


def first_parent_commits(repo: Path, count: int, rev: str = "HEAD") -> list[Commit]:
    """The last ``count`` commits on ``rev``'s first-parent line, oldest first; with one more, the
    parent of the oldest (for warming the cache), when it exists, first in the list."""
    out = git(repo, "log", "--first-parent", f"--max-count={count + 1}", "--format=%H%x00%P%x00%s", rev)
    commits = []
    for line in out.splitlines():
        sha, parents, subject = line.split("\x00", 2)
        commits.append(Commit(sha, tuple(parents.split()), subject))
    commits.reverse()
    return commits


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def changed_lines(repo: Path, commit: Commit) -> dict[str, set[int]]:
    """``{path: line numbers in the new file}`` that ``commit`` added or changed against its first
    parent (for a merge, what the merge brought into the first-parent line)."""
    if not commit.parents:
        return {}
    out = git(repo, "diff", "--unified=0", "--no-color", "--no-ext-diff", commit.parents[0], commit.sha)
    lines: dict[str, set[int]] = {}
    path: str | None = None
    for line in out.splitlines():
        if line.startswith("+++ "):
            target = line[4:]
            path = target[2:] if target.startswith("b/") else None  # /dev/null: the file was deleted
        elif path is not None and (match := _HUNK.match(line)):
            start, length = int(match.group(1)), int(match.group(2) or "1")
            # A pure deletion (length 0) still changed the code around line ``start``.
            lines.setdefault(path, set()).update(range(start, start + max(length, 1)))
    return lines


@contextmanager
def scratch_worktree(repo: Path) -> Iterator[Path]:
    """A detached worktree of ``repo`` in a temporary folder, removed (with git's record of it) at the end."""
    git(repo, "rev-parse", "--git-dir")  # a clear error before anything is made
    parent = Path(tempfile.mkdtemp(prefix="dryci-replay-"))
    path = parent / "worktree"
    git(repo, "worktree", "add", "--detach", "--quiet", str(path), "HEAD")
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "remove", "--force", str(path)], capture_output=True
        )
        shutil.rmtree(parent, ignore_errors=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)


def checkout(worktree: Path, sha: str) -> None:
    """Check out ``sha`` and drop every file the previous commit's run left behind.

    ``__pycache__`` goes too: a .pyc is trusted by its source's mtime (whole seconds) and size, and a
    same-size edit checked out within the second would otherwise run the previous commit's code.
    """
    git(worktree, "checkout", "--detach", "--force", "--quiet", sha)
    git(worktree, "clean", "-fdxq")
