"""``dryci replay`` over a small history, run as a real process: counts, misses, JSON and SVG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.replay.repos import build_history


def dryci_replay(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRYCI_")}
    return subprocess.run(
        [sys.executable, "-m", "dryci.cli", "replay", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("replay")
    repo, shas = build_history(base / "repo")
    status_before = repo.git("status", "--porcelain")
    result = dryci_replay(
        "--commits",
        "6",
        "--verify",
        "--mutate",
        "1",
        "--json",
        str(base / "out.json"),
        "--plot",
        str(base / "out.svg"),
        cwd=repo.path,
    )
    data = json.loads((base / "out.json").read_text())
    rows = {(shas_role(shas, row["commit"]), row["level"]): row for row in data["runs"]}
    return {
        "result": result,
        "rows": rows,
        "data": data,
        "svg": (base / "out.svg").read_text(),
        "repo": repo,
        "status_before": status_before,
    }


def shas_role(shas: dict[str, str], sha: str) -> str:
    return next(role for role, known in shas.items() if known == sha)


def test_replay_walks_the_first_parent_commits_oldest_first(replayed: dict[str, Any]) -> None:
    roles = list(dict.fromkeys(role for role, _ in replayed["rows"]))
    assert roles == ["module", "docs", "merge", "break", "data", "hidden"]
    stderr = replayed["result"].stderr
    assert "replay: commit 1 of 6: " in stderr
    assert "replay: commit 6 of 6: " in stderr
    assert "ETA" in stderr


def test_a_module_change_reruns_its_importers_at_file_level_and_only_its_callers_at_function_level(
    replayed: dict[str, Any],
) -> None:
    rows = replayed["rows"]
    assert rows["module", "all"]["tests_run"] == 5
    assert rows["module", "file"]["tests_run"] == 2  # test_add and test_mul import pkg.mod
    assert rows["module", "function"]["tests_run"] == 1  # only test_mul calls mul
    assert rows["module", "file"]["files_run"] == 2
    assert rows["module", "function"]["files_skipped"] == 4


def test_a_docs_only_commit_runs_nothing(replayed: dict[str, Any]) -> None:
    for level in ("file", "function"):
        row = replayed["rows"]["docs", level]
        assert (row["tests_run"], row["tests_total"], row["files_skipped"]) == (0, 5, 5)


def test_a_merge_commit_is_replayed_against_its_first_parent(replayed: dict[str, Any]) -> None:
    rows = replayed["rows"]
    assert rows["merge", "file"]["merge"] is True
    assert rows["merge", "file"]["tests_run"] == 2
    assert rows["merge", "function"]["tests_run"] == 1  # only test_add calls add


def test_a_broken_test_runs_and_fails_and_is_no_missed_failure(replayed: dict[str, Any]) -> None:
    for level in ("file", "function"):
        row = replayed["rows"]["break", level]
        assert row["tests_failed"] == 1
        assert row["missed_failures"] == 0


def test_verify_finds_the_failure_behind_a_dependency_no_rule_sees(replayed: dict[str, Any]) -> None:
    for level in ("file", "function"):
        row = replayed["rows"]["data", level]
        assert row["missed_failures"] == 1
        assert row["missed"] == ["tests/test_data.py::test_data"]
    assert "MISSED file " in replayed["result"].stdout


def test_mutate_finds_a_changed_function_whose_failing_test_was_not_selected(
    replayed: dict[str, Any],
) -> None:
    rows = replayed["rows"]
    assert rows["hidden", "file"]["mutants"] == 1
    assert rows["hidden", "file"]["mutants_missed"] == [
        "pkg/hidden.py::answer: tests/test_hidden.py::test_answer"
    ]
    # The mutants of functions the tests import plainly are all caught.
    for role in ("module", "merge"):
        for level in ("file", "function"):
            assert rows[role, level]["mutants"] == 1
            assert rows[role, level]["mutants_missed"] == []


def test_missed_failures_make_the_exit_code_1_and_the_table_shows_every_commit(
    replayed: dict[str, Any],
) -> None:
    result = replayed["result"]
    assert result.returncode == 1, result.stderr
    header = result.stdout.splitlines()[0]
    assert header.split()[:2] == ["commit", "level"]
    assert result.stdout.count(" (merge)") == 3  # all, file, function


def test_the_json_has_every_field_the_issue_asks_for(replayed: dict[str, Any]) -> None:
    for row in replayed["data"]["runs"]:
        assert {"commit", "level", "tests_total", "tests_run", "tests_failed", "missed_failures"} <= set(row)
    assert set(replayed["data"]["levels"]) == {"all", "file", "function"}


def test_the_chart_draws_all_tests_against_each_level(replayed: dict[str, Any]) -> None:
    svg = replayed["svg"]
    assert svg.startswith("<svg ")
    for series in ("all", "file", "function"):
        assert f'<polyline class="{series}"' in svg


def test_the_users_checkout_and_worktree_list_are_left_as_they_were(replayed: dict[str, Any]) -> None:
    repo = replayed["repo"]
    assert repo.git("status", "--porcelain") == replayed["status_before"]
    assert len(repo.git("worktree", "list").splitlines()) == 1
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_a_folder_that_is_no_repository_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    result = dryci_replay("--repo", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"dryci replay: error: git rev-parse --git-dir failed in {tmp_path}: ")
    assert len(result.stderr.strip().splitlines()) == 1
