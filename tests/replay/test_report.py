"""The table, the summary lines and the chart, from results made by hand."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from dryci.replay.chart import svg_chart
from dryci.replay.engine import LevelResult
from dryci.replay.report import summary_lines, table, to_json


def result(commit: str, level: str, run: int, missed: tuple[str, ...] = ()) -> LevelResult:
    return LevelResult(
        commit=commit,
        subject="s",
        level=level,
        tests_total=10,
        tests_run=run,
        tests_failed=0,
        files_total=4,
        files_run=1 if level != "all" else 4,
        seconds=1.0,
        cpu_seconds=2.0 if level == "all" else 0.5,
        seconds_saved=1.5,
        missed_failures=len(missed),
        missed=missed,
    )


RESULTS = [
    result("a" * 40, "all", 10),
    result("a" * 40, "file", 3),
    result("b" * 40, "all", 10),
    result("b" * 40, "file", 0, missed=("tests/test_x.py::test_y",)),
]


def test_the_table_has_one_row_per_commit_and_level() -> None:
    lines = table(RESULTS)
    assert len(lines) == 2 + len(RESULTS)
    assert lines[3].split()[:4] == ["aaaaaaaaaa", "file", "3", "of"]


def test_the_summary_says_what_each_level_ran_and_names_every_missed_failure() -> None:
    lines = summary_lines(RESULTS)
    assert lines[0].startswith("file: ran 3 of 20 tests (15%) over 2 commits, 75% of test files skipped")
    assert "CPU 1.0s against 4.0s for the plain suite; missed failures: 1" in lines[0]
    assert lines[1] == (
        "MISSED file bbbbbbbbbb: tests/test_x.py::test_y failed in the plain run but was skipped"
    )


def test_the_json_rows_carry_the_skipped_counts() -> None:
    data = to_json(RESULTS, Path("/repo"))
    assert data["runs"][1]["tests_skipped"] == 7
    assert data["levels"]["file"]["missed_failures"] == 1


def test_a_chart_of_one_commit_puts_its_points_in_the_middle() -> None:
    svg = svg_chart(RESULTS[:2])
    assert '<polyline class="file"' in svg
    assert svg.count("<circle ") == 2


def test_a_series_of_another_tool_is_drawn_after_the_levels_under_its_own_name() -> None:
    other = [dataclasses.replace(r, level="testmon") for r in RESULTS if r.level == "file"]
    svg = svg_chart([*other, *RESULTS])
    assert svg.index('<polyline class="all"') < svg.index('<polyline class="file"')
    assert svg.index('<polyline class="file"') < svg.index('<polyline class="testmon"')
    assert ">testmon</text>" in svg
