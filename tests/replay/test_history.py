"""The commits replay walks and the lines each one changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dryci.replay.history import ReplayError, changed_lines, first_parent_commits, git
from tests.replay.repos import Repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "repo")
    repo.commit("one", {"a.py": "x = 1\ny = 2\nz = 3\n"})
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("side", {"b.py": "b = 1\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("two", {"a.py": "x = 1\ny = 20\nz = 3\n"})
    repo.git("merge", "-q", "--no-ff", "-m", "merge", "side")
    return repo


def test_commits_come_oldest_first_along_the_first_parent_line_with_the_warm_up_parent(repo: Repo) -> None:
    commits = first_parent_commits(repo.path, 2)
    assert [c.subject for c in commits] == ["one", "two", "merge"]
    assert commits[-1].is_merge
    assert not commits[0].is_merge


def test_a_merge_changed_what_it_brought_into_the_first_parent_line(repo: Repo) -> None:
    *_, two, merge = first_parent_commits(repo.path, 2)
    assert changed_lines(repo.path, merge) == {"b.py": {1}}
    assert changed_lines(repo.path, two) == {"a.py": {2}}


def test_a_deleted_file_changed_no_lines(repo: Repo) -> None:
    repo.git("rm", "-q", "b.py")
    repo.git("commit", "-q", "-m", "drop b")
    (last,) = first_parent_commits(repo.path, 1)[-1:]
    assert changed_lines(repo.path, last) == {}


def test_a_failing_git_command_is_one_replay_error_with_gits_words(tmp_path: Path) -> None:
    with pytest.raises(
        ReplayError, match=r"^git rev-parse --git-dir failed in .*: fatal: not a git repository"
    ):
        git(tmp_path, "rev-parse", "--git-dir")
