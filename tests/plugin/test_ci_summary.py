"""The GitHub Actions job summary ($GITHUB_STEP_SUMMARY): counts, time saved, files that ran and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from dryci.plugin.ci_summary import MAX_FILES, github_step_summary, shadow_markdown, summary_markdown
from dryci.plugin.outcome import RunCounts
from dryci.plugin.report import Explanation
from dryci.selection.decision import Level
from dryci.selection.shadow import ShadowSummary, WouldSkip
from tests.plugin.conftest import ALL_TESTS, append

CHANGED = Explanation("tests/test_ops.py", "since the cached pass, changed: src/calc/ops.py", 2)


def test_the_summary_has_the_counts_time_saved_and_each_file_that_ran_with_its_reason() -> None:
    counts = RunCounts(cached=1204, seconds_saved=372.0, ran=106, files_changed=3, cached_by_function=1100)
    markdown = summary_markdown(counts, [CHANGED])
    assert markdown.startswith("### DryCI: 1,204 of 1,310 tests cached, ~6m 12s saved\n")
    assert "| tests cached | 1,204 (1,100 at function level) |" in markdown
    assert "| tests that ran | 106 |" in markdown
    assert "| time saved (their earlier durations) | ~6m 12s |" in markdown
    assert "<details open><summary>1 test file ran</summary>" in markdown
    assert "| `tests/test_ops.py` | 2 | since the cached pass, changed: src/calc/ops.py |" in markdown


def test_a_fully_cached_run_says_no_file_ran() -> None:
    markdown = summary_markdown(RunCounts(cached=5, seconds_saved=3.0, ran=0, files_changed=0), [])
    assert "Every test was cached: no test file ran." in markdown
    assert "<details" not in markdown


def test_function_level_reasons_follow_the_file_reason_and_pipes_cannot_break_the_table() -> None:
    tests = tuple((f"test_{i}", f"src/a.py::f{i} changed | x") for i in range(7))
    explained = Explanation("tests/test_a.py", "since the cached pass, changed: src/a.py", 7, tests)
    row = next(
        line
        for line in summary_markdown(RunCounts(0, 0.0, 7, 1), [explained]).splitlines()
        if "test_a.py" in line
    )
    assert row.startswith("| `tests/test_a.py` | 7 | since the cached pass, changed: src/a.py<br>`test_0`: ")
    assert "src/a.py::f0 changed \\| x" in row
    assert row.endswith("<br>and 2 more |")


def test_a_run_that_re_ran_many_files_lists_the_first_hundred_folded() -> None:
    explained = [Explanation(f"tests/test_{i:04d}.py", "no cached results for it yet", 1) for i in range(250)]
    markdown = summary_markdown(RunCounts(0, 0.0, 250, 250, first_run=True), explained)
    assert "<details><summary>250 test files ran</summary>" in markdown
    assert markdown.count("| `tests/test_") == MAX_FILES
    assert "| and 150 more files | | |" in markdown


def test_a_real_run_appends_its_summary_to_the_step_summary_file(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    summary = project.path / "step_summary.md"
    env.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    assert "### DryCI: 0 of 5 tests cached" in summary.read_text()
    append(project.path / "src" / "calc" / "ops.py")
    project.runpytest("--dryci").assert_outcomes(passed=2)
    second = summary.read_text().split("### DryCI: ")[-1]  # appended: the last run's summary is last
    assert second.startswith("3 of 5 tests cached")
    assert "| `tests/test_ops.py` | 2 | since the cached pass, changed: src/calc/ops.py |" in second


def test_without_the_variable_nothing_is_written_and_nothing_is_explained() -> None:
    def explain() -> list[Explanation]:
        raise AssertionError("the reasons are read only for a summary")

    assert github_step_summary(None, explain, environ={}) == []  # type: ignore[arg-type]


def test_an_unwritable_summary_file_is_one_line_never_a_failure(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "summary.md"
    notes = github_step_summary(None, list, environ={"GITHUB_STEP_SUMMARY": str(target)})  # type: ignore[arg-type]
    assert notes == [f"dryci: could not write the job summary to {target}: No such file or directory"]


def test_a_shadow_run_summary_lists_each_missed_failure_with_its_reason() -> None:
    missed = WouldSkip("passed under the same dependency hash (file level, entry 0123abcd)", Level.FILE, 1.0)
    markdown = shadow_markdown(ShadowSummary(10, 8, 12.0, (("tests/test_a.py::test_x[a|b]", missed),)))
    assert markdown.startswith(
        "### DryCI shadow: would have skipped 8 of 10 tests (~12s saved); 1 of them failed\n"
    )
    assert "| `tests/test_a.py::test_x[a\\|b]` | passed under the same dependency hash" in markdown
    assert "Missed failures" not in shadow_markdown(ShadowSummary(10, 8, 12.0, ()))


def test_a_real_shadow_run_writes_the_shadow_summary(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    summary = project.path / "step_summary.md"
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    env.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.runpytest("--dryci-shadow").assert_outcomes(passed=ALL_TESTS)
    text = summary.read_text()
    assert text.startswith(f"### DryCI shadow: would have skipped {ALL_TESTS} of {ALL_TESTS} tests")
    assert "test file" not in text  # every test ran: no "why it ran" table
