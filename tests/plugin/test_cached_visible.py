"""Cached tests stay visible: each is a skipped testcase in the JUnit XML, and ``-v`` lists the cached files.

Real pytest runs with ``--junitxml``; the XML is read back as a CI dashboard would read it.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET

import pytest

from tests.plugin.conftest import ALL_TESTS, append

LEVELS = pytest.mark.parametrize("level", ["file", "function"])


def read_report(project: pytest.Pytester) -> tuple[dict[str, str], list[ET.Element]]:
    suite = ET.parse(project.path / "report.xml").getroot().find("testsuite")
    assert suite is not None
    return dict(suite.attrib), list(suite.iter("testcase"))


@LEVELS
def test_a_fully_cached_run_reports_each_cached_test_as_a_skipped_testcase(
    project: pytest.Pytester, level: str
) -> None:
    project.runpytest("--dryci", f"--dryci-level={level}").assert_outcomes(passed=ALL_TESTS)
    result = project.runpytest("--dryci", f"--dryci-level={level}", "--junitxml=report.xml")
    # pytest's own counts are untouched: nothing ran, and the cache is why (exit 0).
    result.assert_outcomes()
    assert result.ret == 0
    suite, cases = read_report(project)
    assert suite["tests"] == str(ALL_TESTS) and suite["skipped"] == str(ALL_TESTS)
    names = {(case.get("classname"), case.get("name")) for case in cases}
    assert ("tests.test_ops", "test_add") in names and ("tests.sub.test_fixture", "test_five") in names
    for case in cases:
        skipped = case.find("skipped")
        assert skipped is not None and skipped.get("message", "").startswith("dryci: passed before")


def test_only_the_cached_files_are_added_beside_the_tests_that_ran(project: pytest.Pytester) -> None:
    project.runpytest("--dryci")
    append(project.path / "src/calc/text.py")
    project.runpytest("--dryci", "--junitxml=report.xml").assert_outcomes(passed=1)
    suite, cases = read_report(project)
    assert suite["tests"] == str(ALL_TESTS)
    ran = [case for case in cases if case.find("skipped") is None]
    assert [(case.get("classname"), case.get("name")) for case in ran] == [("tests.test_text", "test_shout")]


def test_without_the_names_of_its_tests_a_cached_file_is_one_testcase_with_its_count(
    project: pytest.Pytester,
) -> None:
    project.runpytest("--dryci")
    # A cache written without names (as by a DryCI before they were kept, or filled on another
    # machine through a server): the local store knows the counts only.
    database = next(project.path.glob(".pytest_cache/d/dryci/*.sqlite*"))
    with sqlite3.connect(database) as db:
        db.execute("UPDATE last_passes SET tests = '[]'")
    project.runpytest("--dryci", "--junitxml=report.xml")
    suite, cases = read_report(project)
    assert suite["tests"] == "4"  # one per cached file
    names = {(case.get("classname"), case.get("name")) for case in cases}
    assert ("tests.test_ops", "[2 tests cached]") in names
    assert ("tests.test_text", "[1 test cached]") in names


def test_verbose_lists_the_cached_files_with_their_test_counts(project: pytest.Pytester) -> None:
    project.runpytest("--dryci")
    result = project.runpytest("--dryci", "-v")
    result.stdout.fnmatch_lines(
        [
            "*dryci cached files*",
            "tests/sub/test_fixture.py: 1 test cached (file level, not imported)",
            "tests/test_ops.py: 2 tests cached (file level, not imported)",
        ]
    )
    assert "dryci cached files" not in project.runpytest("--dryci").stdout.str()


def test_under_xdist_the_controller_reports_the_cached_tests(project: pytest.Pytester) -> None:
    project.runpytest("--dryci", "-n", "2", "-p", "xdist").assert_outcomes(passed=ALL_TESTS)
    project.runpytest("--dryci", "-n", "2", "-p", "xdist", "--junitxml=report.xml")
    suite, _cases = read_report(project)
    assert suite["tests"] == str(ALL_TESTS) and suite["skipped"] == str(ALL_TESTS)
