"""What the dashboard renders, from plain usage days and run reports (no server)."""

from __future__ import annotations

import re

import pytest

from dryci.protocol import Provenance
from dryci.protocol.usage import RunUsage
from dryci.server.backends.base import ReportedRun, UsageDay
from dryci.server.dashview import (
    ProjectView,
    Week,
    chart_scale,
    render_project,
    render_totals,
    saved_chart,
    weeks,
)
from dryci.server.recorder import day_of

DAY = 86400.0
NOW = 1_764_806_400.0 + 12 * 3600  # 2025-12-04 12:00 UTC
FULL = 130.0  # the chart's bar area in pixels


def label_seconds(svg: str) -> float:
    """The seconds the chart's scale label names."""
    match = re.search(r'class="scale-label"[^>]*>([0-9.,]+) (s|min|h) per day<', svg)
    assert match, svg
    return float(match[1].replace(",", "")) * {"s": 1.0, "min": 60.0, "h": 3600.0}[match[2]]


def heights(svg: str) -> list[float]:
    return [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', svg)]


def test_the_chart_has_one_bar_per_day_scaled_to_its_label() -> None:
    svg = saved_chart(
        [UsageDay(1, day_of(NOW), seconds_saved=100.0), UsageDay(1, day_of(NOW - DAY), seconds_saved=50.0)],
        NOW,
    )
    assert svg.count("<rect") == 30
    assert label_seconds(svg) == 120.0  # 2 min: the next round value above the busiest day
    assert heights(svg)[-2:] == [round(50 / 120 * FULL, 1), round(100 / 120 * FULL, 1)]
    assert f"{day_of(NOW)}: 100.0 s saved" in svg


def test_a_full_bar_of_a_fraction_of_a_second_is_not_labelled_zero() -> None:
    # The old chart said "max 0.0 s per day" above a full bar of 0.04 s (seen on the old code).
    svg = saved_chart([UsageDay(1, day_of(NOW), seconds_saved=0.04)], NOW)
    assert "0.05 s per day" in svg
    assert heights(svg)[-1] == round(0.04 / 0.05 * FULL, 1)
    assert f"{day_of(NOW)}: 0.04 s saved" in svg


BUSIEST = [0.0004, 0.04, 0.3, 1.0, 7.5, 59.9, 60.0, 61.0, 1799.0, 3600.0, 9e4, 4e8, 2.0**53]


@pytest.mark.parametrize("busiest", BUSIEST)
def test_the_scale_label_names_the_height_of_the_bar_area(busiest: float) -> None:
    svg = saved_chart([UsageDay(1, day_of(NOW), seconds_saved=busiest)], NOW)
    top = label_seconds(svg)
    assert top == pytest.approx(chart_scale(busiest))
    assert busiest <= top < busiest * 3 or top == 0.001  # round, never far above the busiest day
    assert heights(svg)[-1] == pytest.approx(busiest / top * FULL, abs=0.05)


def test_a_chart_with_nothing_saved_says_so_and_draws_no_bar() -> None:
    svg = saved_chart([], NOW)
    assert "no time saved in the last 30 days" in svg
    assert set(heights(svg)) == {0.0}


def test_weeks_are_the_seven_day_periods_ending_today() -> None:
    days = [
        UsageDay(1, day_of(NOW), seconds_saved=10.0),
        UsageDay(2, day_of(NOW), seconds_saved=5.0),  # another project's day: summed (the totals)
        UsageDay(1, day_of(NOW - 6 * DAY), seconds_saved=1.0),
        UsageDay(1, day_of(NOW - 7 * DAY), seconds_saved=100.0),
        UsageDay(1, day_of(NOW - 28 * DAY), seconds_saved=1e6),  # before the fourth week
    ]
    assert weeks(days, NOW) == [
        Week("2025-11-28", "2025-12-04", 16.0),
        Week("2025-11-21", "2025-11-27", 100.0),
        Week("2025-11-14", "2025-11-20", 0.0),
        Week("2025-11-07", "2025-11-13", 0.0),
    ]


def reported(user: str, usage: RunUsage, n: int = 1) -> ReportedRun:
    return ReportedRun(n, "webshop", user, "", NOW - n * 60, usage)


def test_a_project_shows_its_runs_with_user_names_and_the_fully_cached_ones_marked() -> None:
    cached = RunUsage("file", tests_total=54, tests_skipped=54, seconds_saved=90.0)
    ran = RunUsage(
        "file", tests_total=54, tests_run=3, tests_skipped=51, provenance=Provenance("main", "c0ffee" * 7)
    )
    shadow = RunUsage("file", tests_total=54, tests_run=54, shadow=True, would_skip=50, missed_failures=2)
    view = ProjectView(
        "webshop",
        [UsageDay(1, day_of(NOW), runs=3, seconds_saved=90.0)],
        [reported("alice", cached, 1), reported("<ci>", ran, 2), reported("nightly", shadow, 3)],
    )
    page = render_project(view, NOW)
    rows = re.findall(r'<tr class="([^"]+)"><td>[^<]*</td><td class="user">([^<]*)</td>', page)
    assert rows == [("fully-cached", "alice"), ("run", "&lt;ci&gt;"), ("shadow-run missed", "nightly")]
    assert "c0ffeec0ffee<" in page  # the commit, shortened to 12
    assert "shadow: 50 would skip, 2 missed" in page
    assert '<b class="saved-this-week">1.5 min</b>' in page


def test_the_totals_sum_every_project() -> None:
    today = day_of(NOW)
    a = ProjectView("a", [UsageDay(1, today, runs=2, tests_run=5, tests_skipped=40, seconds_saved=3000)], [])
    b = ProjectView(
        "b",
        [
            UsageDay(2, day_of(NOW), runs=1, tests_run=1, tests_skipped=9, seconds_saved=300.0),
            UsageDay(2, day_of(NOW - DAY), runs=4, tests_run=0, tests_skipped=1000, seconds_saved=300.0),
        ],
        [],
    )
    totals = render_totals([a, b])
    found = dict(re.findall(r'<b class="total-([a-z-]+)">([^<]+)</b>', totals))
    assert found == {"runs": "7", "tests-run": "6", "tests-cached": "1,049", "time-saved": "1.0 h"}
    assert "2 projects, last 30 days" in totals
