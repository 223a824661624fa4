"""The GitLab view: the run's summary as one testcase of the JUnit report, read back as GitLab reads it.

GitLab's parser (``lib/gitlab/ci/parsers/test/junit.rb``) lists every testcase with its classname and
name, and shows the text of its ``skipped`` (or ``failure``/``error``) element as the test's details;
it reads nothing else. ``gitlab_view`` below reads the report the same way.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from dryci.plugin.gitlab_summary import shadow_text, summary_text
from dryci.plugin.outcome import RunCounts
from dryci.plugin.report import Explanation
from dryci.selection.decision import Level
from dryci.selection.shadow import ShadowSummary, WouldSkip
from tests.plugin.conftest import ALL_TESTS, append

CHANGED = Explanation("tests/test_ops.py", "since the cached pass, changed: src/calc/ops.py", 2)


def gitlab_view(project: pytest.Pytester) -> list[tuple[str, str, str, str]]:
    """(classname, name, status, details) of every testcase, as GitLab's test report shows them."""
    root = ET.parse(project.path / "report.xml").getroot()
    rows = []
    for case in root.iter("testcase"):
        status, details = "success", ""
        for tag, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            element = case.find(tag)
            if element is not None:
                status, details = name, element.text or ""
                break
        rows.append((case.get("classname", ""), case.get("name", ""), status, details))
    return rows


def summary_case(project: pytest.Pytester) -> tuple[str, str, str, str]:
    (case,) = [row for row in gitlab_view(project) if row[0] == "dryci"]
    return case


def properties(project: pytest.Pytester) -> dict[str, str]:
    suite = ET.parse(project.path / "report.xml").getroot().find("testsuite")
    assert suite is not None
    return {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}


def test_the_text_has_the_counts_time_saved_and_each_file_that_ran_with_its_reason() -> None:
    tests = tuple((f"test_{i}", f"src/calc/ops.py::f{i} changed") for i in range(7))
    counts = RunCounts(cached=1204, seconds_saved=372.0, ran=106, files_changed=3, cached_by_function=1100)
    text = summary_text(counts, [CHANGED, Explanation("tests/test_a.py", "new test file", 7, tests)])
    assert text.splitlines()[:5] == [
        "DryCI: 1,204 of 1,310 tests cached, ~6m 12s saved",
        "tests cached: 1,204 (1,100 at function level)",
        "tests that ran: 106",
        "time saved (their earlier durations): ~6m 12s",
        "2 test files ran:",
    ]
    assert "  tests/test_ops.py (2 tests): since the cached pass, changed: src/calc/ops.py\n" in text
    assert "    test_0: src/calc/ops.py::f0 changed\n" in text
    assert text.endswith("    and 2 more\n")


def test_a_shadow_runs_text_lists_each_missed_failure_with_its_reason() -> None:
    missed = WouldSkip("passed under the same dependency hash (file level, entry 0123abcd)", Level.FILE, 1.0)
    text = shadow_text(ShadowSummary(10, 8, 12.0, (("tests/test_a.py::test_x", missed),)))
    assert text.splitlines() == [
        "DryCI shadow: would have skipped 8 of 10 tests (~12s saved); 1 of them failed",
        "Missed failures (tests the cache would have skipped that failed):",
        "  tests/test_a.py::test_x: passed under the same dependency hash (file level, entry 0123abcd)",
    ]


def test_under_gitlab_ci_the_report_has_one_summary_testcase(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    env.setenv("GITLAB_CI", "true")
    project.runpytest("--dryci", "--junitxml=report.xml").assert_outcomes(passed=ALL_TESTS)
    _, name, status, details = summary_case(project)
    assert name.startswith(f"DryCI: 0 of {ALL_TESTS} tests cached")
    assert status == "skipped"
    assert "tests that ran: 5" in details
    assert "tests/test_ops.py (2 tests): no cached results for it yet" in details
    append(project.path / "src" / "calc" / "ops.py")
    result = project.runpytest("--dryci", "--junitxml=report.xml")
    result.assert_outcomes(passed=2)  # pytest's own counts are untouched by the summary testcase
    _, name, _, details = summary_case(project)
    assert name.startswith(f"DryCI: 3 of {ALL_TESTS} tests cached")
    assert "tests/test_ops.py (2 tests): since the cached pass, changed: src/calc/ops.py" in details
    found = properties(project)
    assert (found["dryci_tests_cached"], found["dryci_tests_ran"]) == ("3", "2")
    assert float(found["dryci_seconds_saved"]) > 0.0  # the cached tests' earlier durations


def test_a_fully_cached_run_says_so_in_its_summary_testcase(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    env.setenv("GITLAB_CI", "true")
    result = project.runpytest("--dryci", "--junitxml=report.xml")
    assert result.ret == 0
    _, name, _, details = summary_case(project)
    assert name.startswith(f"DryCI: {ALL_TESTS} of {ALL_TESTS} tests cached")
    assert "Every test was cached: no test file ran." in details
    assert sum(1 for row in gitlab_view(project) if row[2] == "skipped") == ALL_TESTS + 1


def test_a_shadow_run_under_gitlab_ci_names_its_summary_testcase_after_the_shadow_line(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    env.setenv("GITLAB_CI", "true")
    project.runpytest("--dryci-shadow", "--junitxml=report.xml").assert_outcomes(passed=ALL_TESTS)
    _, name, _, _ = summary_case(project)
    assert name.startswith(f"DryCI shadow: would have skipped {ALL_TESTS} of {ALL_TESTS} tests")
    assert name.endswith("0 of them failed")


def test_outside_gitlab_ci_the_report_has_no_summary_testcase(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    project.runpytest("--dryci", "--junitxml=report.xml").assert_outcomes(passed=ALL_TESTS)
    assert [row for row in gitlab_view(project) if row[0] == "dryci"] == []
    assert properties(project) == {}
