"""pytest-testmon driven over the commits ``dryci replay`` walks, the way replay drives DryCI.

    PY bench/_testmon_replay.py --repo R --commits N --mutate K --json OUT [-- PYTEST ARGS]

Run by ``bench/replay_bench.py`` with the benchmark's venv (which has pytest-testmon) and DryCI on
PYTHONPATH: this module only imports ``dryci.replay``, so both tools meet the same commits, the same
scratch worktree handling, the same mutants and the same JUnit reading. Per commit, oldest first:

1. the plain suite (testmon off): the ground truth, and the CPU a plain run costs;
2. per mutant of a function the commit changed (``dryci.replay.mutants``): the plain run with the
   mutant, then ``--testmon --testmon-nocollect`` (select, write nothing), so the data still holds
   what the parent commit left; every test the plain run saw failing must have been selected;
3. ``--testmon`` as CI would run it: it selects and writes ``.testmondata``, which lives outside the
   worktree (``TESTMON_DATAFILE``) and so is carried from commit to commit.

Before the first commit its parent runs once under ``--testmon``, unreported: a warm start, as
replay warms DryCI's caches. The JSON has replay's shape: level "all" is the plain suite, level
"testmon" the tool.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dryci.replay.engine import LevelResult
from dryci.replay.history import Commit, changed_lines, checkout, first_parent_commits, git, scratch_worktree
from dryci.replay.mutants import mutants_of, mutated, read_sources
from dryci.replay.report import write_json
from dryci.replay.runs import PytestRun, child_env, run_pytest

# --testmon-forceselect: a project whose addopts carry ``-m`` (click: ``-m 'not stress'``) would
# otherwise make testmon run everything ("selection automatically deactivated because -m was used").
TESTMON = ("--testmon", "--testmon-forceselect")


class Pass:
    """The scratch worktree, its environment and the files of one testmon pass."""

    def __init__(self, worktree: Path, folder: Path, pytest_args: Sequence[str], timeout: float | None):
        self.worktree = worktree
        self.junit = folder / "junit.xml"
        self.env = child_env(worktree)
        self.env["TESTMON_DATAFILE"] = str(folder / ".testmondata")
        self.args = tuple(pytest_args)
        self.timeout = timeout

    def run(self, *args: str) -> PytestRun:
        return run_pytest(self.worktree, ["-q", *args, *self.args], self.junit, self.env, self.timeout)

    def plain(self) -> PytestRun:
        return self.run("-p", "no:cacheprovider", "-p", "no:testmon")

    def testmon(self, *, write: bool) -> PytestRun:
        return self.run(*TESTMON) if write else self.run(*TESTMON, "--testmon-nocollect")


def _mutants(p: Pass, commit: Commit, limit: int, baseline: set[str]) -> tuple[int, list[str]]:
    """How many mutants the plain suite caught, and "mutant: test" for each failing one testmon
    did not select."""
    changed = changed_lines(p.worktree, commit)
    caught, missed = 0, []
    for mutant in mutants_of(changed, read_sources(p.worktree, sorted(changed)), limit):
        path = p.worktree / mutant.path
        original = path.read_text(encoding="utf-8")
        path.write_text(mutated(original, mutant), encoding="utf-8")
        try:
            failing = p.plain().failed - baseline  # failing without the mutant: --verify's business
            if not failing:
                continue
            caught += 1
            selected = p.testmon(write=False).executed
            missed += [f"{mutant}: {test}" for test in sorted(failing - selected)]
        finally:
            path.write_text(original, encoding="utf-8")
    return caught, missed


def _commit(p: Pass, commit: Commit, mutate: int) -> list[LevelResult]:
    checkout(p.worktree, commit.sha)
    plain = p.plain()
    caught, mutants_missed = _mutants(p, commit, mutate, plain.failed) if mutate else (0, [])
    run = p.testmon(write=True)
    total, files = len(plain.outcomes), len(plain.files())
    missed = sorted(plain.failed - run.executed)
    common = dict(commit=commit.sha, subject=commit.subject, tests_total=total, files_total=files)
    return [
        LevelResult(
            **common,
            level="all",
            tests_run=total,
            tests_failed=len(plain.failed),
            files_run=files,
            seconds=plain.wall_seconds,
            cpu_seconds=plain.cpu_seconds,
            seconds_saved=0.0,
            missed_failures=0,
            mutants=caught,
            merge=commit.is_merge,
        ),
        LevelResult(
            **common,
            level="testmon",
            # testmon deselects: what it ran is what the JUnit file lists.
            tests_run=len(run.executed),
            tests_failed=len(run.failed),
            files_run=len(run.files()),
            seconds=run.wall_seconds,
            cpu_seconds=run.cpu_seconds,
            seconds_saved=0.0,  # testmon prints no estimate
            missed_failures=len(missed),
            missed=tuple(missed),
            mutants=caught,
            mutants_missed=tuple(mutants_missed),
            merge=commit.is_merge,
        ),
    ]


def replay_testmon(
    repo: Path, commits: int, mutate: int, pytest_args: Sequence[str], timeout: float | None
) -> list[LevelResult]:
    git(repo, "rev-parse", "--git-dir")
    history = first_parent_commits(repo, commits)
    chosen = history[-commits:]
    warm = history[0] if len(history) > commits else None
    folder = Path(tempfile.mkdtemp(prefix="testmon-replay-"))
    results: list[LevelResult] = []
    try:
        with scratch_worktree(repo) as worktree:
            p = Pass(worktree, folder, pytest_args, timeout)
            if warm is not None:
                print(f"testmon: warming .testmondata at {warm.short}", file=sys.stderr, flush=True)
                checkout(worktree, warm.sha)
                p.testmon(write=True)
            for i, commit in enumerate(chosen):
                print(
                    f"testmon: commit {i + 1} of {len(chosen)}: {commit.short} {commit.subject[:50]}",
                    file=sys.stderr,
                    flush=True,
                )
                results += _commit(p, commit, mutate)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def main(argv: list[str]) -> int:
    own, pytest_args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--commits", type=int, default=10)
    parser.add_argument("--mutate", type=int, default=0)
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(own)
    results = replay_testmon(args.repo.resolve(), args.commits, args.mutate, pytest_args, args.timeout)
    write_json(args.json, results, args.repo.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
