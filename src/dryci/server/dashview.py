"""What the dashboard shows, as HTML: totals across projects, then per project its numbers, the shadow
runs' soundness panel, time saved per day (SVG) and per week, and its recent runs.

Pure functions of plain records (usage days, reported runs) and the time: ``dashboard.py`` fetches,
this module renders. Everything a client sent is escaped.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass

from dryci.server.backends.base import ReportedRun, UsageDay
from dryci.server.recorder import day_of

DAYS = 30
WEEKS = 4
DAY = 86400.0


@dataclass(frozen=True)
class ProjectView:
    name: str
    days: list[UsageDay]
    runs: list[ReportedRun]

    def total(self, counter: str) -> float:
        return float(sum(getattr(d, counter) for d in self.days))

    @property
    def hits(self) -> int:
        return sum(d.hits for d in self.days)

    @property
    def lookups(self) -> int:
        return sum(d.hits + d.misses for d in self.days)


@dataclass(frozen=True)
class Week:
    """Seven days ending on ``last`` (both ``YYYY-MM-DD``, inclusive) and the seconds saved in them."""

    first: str
    last: str
    seconds_saved: float


def weeks(days: Sequence[UsageDay], now: float, count: int = WEEKS) -> list[Week]:
    """Time saved in each of the last ``count`` seven-day periods, the one ending today first."""
    per_day: dict[str, float] = {}
    for d in days:
        per_day[d.day] = per_day.get(d.day, 0.0) + d.seconds_saved
    out = []
    for w in range(count):
        labels = [day_of(now - (w * 7 + i) * DAY) for i in range(7)]
        out.append(Week(labels[-1], labels[0], sum(per_day.get(label, 0.0) for label in labels)))
    return out


# The chart's scale: the smallest of these at or above the busiest day, so the scale's label is a round
# number that names exactly the height of the bar area (a full bar is at most that much).
_SCALES = (
    *(round(m * 10.0**k, 6) for k in range(-3, 2) for m in (1, 2, 5)),  # 0.001 s .. 50 s
    *(60.0 * m for m in (1, 2, 5, 10, 20, 30)),  # 1 min .. 30 min
)


def chart_scale(busiest: float) -> float:
    """The top of the chart's scale for a busiest day of ``busiest`` seconds (at least 1 ms); from an
    hour up, 1, 2 or 5 times a power of ten hours."""
    for scale in _SCALES:
        if scale >= busiest:
            return scale
    hours = 1
    while True:
        for m in (1, 2, 5):
            if m * hours * 3600.0 >= busiest:
                return m * hours * 3600.0
        hours *= 10


def scale_label(seconds: float) -> str:
    """A scale value in its unit, with no rounding that could make it disagree with the bars."""
    if seconds >= 3600:
        return f"{round(seconds / 3600):,} h"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds:g} s"


def saved_chart(days: Sequence[UsageDay], now: float) -> str:
    """A bar chart of seconds saved per day over the last DAYS days, as inline SVG, under a scale line
    whose label is the value of a bar reaching it."""
    per_day: dict[str, float] = {}
    for d in days:
        per_day[d.day] = per_day.get(d.day, 0.0) + d.seconds_saved
    labels = [day_of(now - (DAYS - 1 - i) * DAY) for i in range(DAYS)]
    values = [per_day.get(label, 0.0) for label in labels]
    busiest = max(values)
    top = chart_scale(busiest)
    width, height, bar = 620, 160, 18
    full = height - 30  # the bar area: from y=10 (the scale line) to y=height-20 (the base line)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values)):
        h = round(value / top * full, 1)
        bars.append(
            f'<rect x="{10 + i * (bar + 2)}" y="{height - 20 - h}" width="{bar}" height="{h}" '
            f'fill="#3a7"><title>{label}: {_seconds(value)} saved</title></rect>'
        )
    caption = f"{scale_label(top)} per day" if busiest > 0 else f"no time saved in the last {DAYS} days"
    return (
        f'<svg class="saved-chart" role="img" aria-label="time saved per day" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" data-scale-seconds="{top:g}">'
        f'<line class="scale-line" x1="10" y1="10" x2="{width - 10}" y2="10" stroke="#bbb" '
        f'stroke-dasharray="3,3"/><text class="scale-label" x="12" y="8" font-size="11">{caption}</text>'
        f'{"".join(bars)}<text x="10" y="{height - 5}" font-size="10">{labels[0]}</text>'
        f'<text x="{width - 70}" y="{height - 5}" font-size="10">{labels[-1]}</text></svg>'
    )


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return _seconds(seconds)


def _seconds(seconds: float) -> str:
    # Below 10 s two decimals: a demo's or a small suite's savings are fractions of a second.
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def weekly_table(days: Sequence[UsageDay], now: float) -> str:
    rows = "".join(
        f'<tr><td>{w.first} to {w.last}</td><td class="week-saved">{duration(w.seconds_saved)}</td></tr>'
        for w in weeks(days, now)
    )
    return f'<table class="weekly"><tr><th>week</th><th>time saved</th></tr>{rows}</table>'


def render_totals(views: Sequence[ProjectView]) -> str:
    """The team's figures, summed over every project the viewer may see."""

    def total(counter: str) -> float:
        return sum(v.total(counter) for v in views)

    projects = f"{len(views)} project{'s' if len(views) != 1 else ''}"
    return (
        f'<section class="totals"><h2>All projects</h2><p class="numbers">'
        f'<span>runs <b class="total-runs">{int(total("runs")):,}</b></span>'
        f'<span>tests run <b class="total-tests-run">{int(total("tests_run")):,}</b></span>'
        f'<span>tests cached <b class="total-tests-cached">{int(total("tests_skipped")):,}</b></span>'
        f'<span>time saved <b class="total-time-saved">{duration(total("seconds_saved"))}</b></span>'
        f"<span>{projects}, last {DAYS} days</span></p></section>"
    )


def render_shadow(view: ProjectView) -> str:
    """The soundness panel: what the shadow runs (``pytest --dryci-shadow``) found."""
    runs = int(view.total("shadow_runs"))
    if not runs:
        return (
            '<p class="shadow numbers">no shadow runs in the last '
            f"{DAYS} days (<code>pytest --dryci-shadow</code> checks the cache)</p>"
        )
    missed = int(view.total("shadow_missed"))
    # A missed failure is a test the cache would have skipped that failed: it must stand out.
    flagged = ' class="shadow-missed missed"' if missed else ' class="shadow-missed"'
    return (
        '<p class="shadow numbers">'
        f'<span>shadow runs <b class="shadow-runs">{runs:,}</b></span>'
        f'<span>tests they would have skipped <b class="shadow-would-skip">'
        f"{int(view.total('shadow_would_skip')):,}</b>"
        f"</span><span>missed failures <b{flagged}>{missed:,}</b></span></p>"
    )


def _run_row(r: ReportedRun) -> str:
    e, u, prov = html.escape, r.usage, r.usage.provenance
    if u.shadow:
        kind = f"shadow: {u.would_skip:,} would skip, {u.missed_failures:,} missed"
        css = "shadow-run missed" if u.missed_failures else "shadow-run"
    elif u.tests_total and not u.tests_run:
        kind, css = "fully cached", "fully-cached"
    else:
        kind, css = "", "run"
    return (
        f'<tr class="{css}"><td>{e(time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.created_at)))}</td>'
        f'<td class="user">{e(r.user)}</td><td>{e(prov.branch or "")}</td>'
        f"<td>{e((prov.commit or '')[:12])}</td><td>{u.tests_total:,}</td><td>{u.tests_run:,}</td>"
        f"<td>{u.tests_skipped:,}</td><td>{duration(u.seconds_saved)}</td><td>{e(kind)}</td>"
        f"<td>{_link(prov.run_url)}</td></tr>"
    )


def render_project(view: ProjectView, now: float) -> str:
    rate = f"{100.0 * view.hits / view.lookups:.1f}%" if view.lookups else "n/a"
    name = html.escape(view.name)
    this_week = weeks(view.days, now, 1)[0].seconds_saved
    return (
        f'<section class="project" data-project="{name}"><h2>{name}</h2><p class="numbers">'
        f'<span>runs <b class="runs">{int(view.total("runs")):,}</b></span>'
        f'<span>hit rate <b class="hit-rate">{rate}</b></span>'
        f'<span>tests skipped <b class="tests-skipped">{int(view.total("tests_skipped")):,}</b></span>'
        f'<span>time saved <b class="time-saved">{duration(view.total("seconds_saved"))}</b></span>'
        f'<span>last 7 days <b class="saved-this-week">{duration(this_week)}</b></span>'
        f"<span>last {DAYS} days</span></p>{render_shadow(view)}"
        f'<div class="saved">{saved_chart(view.days, now)}{weekly_table(view.days, now)}</div>'
        f'<h3>Recent runs</h3><table class="runs"><tr><th>time (UTC)</th><th>user</th><th>branch</th>'
        f"<th>commit</th><th>tests</th><th>ran</th><th>cached</th><th>saved</th><th></th><th>run</th>"
        f"</tr>{''.join(_run_row(r) for r in view.runs)}</table></section>"
    )


def _link(url: str | None) -> str:
    if not url or not url.startswith(("https://", "http://")):
        return html.escape(url or "")
    return f'<a href="{html.escape(url)}" rel="nofollow noopener">link</a>'
