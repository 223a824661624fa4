"""The replay's SVG chart: tests run per commit, the whole suite against each level.

Hand-written SVG (a few lines, one polyline per series): no plotting dependency for one chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from dryci.replay.engine import LevelResult

__all__ = ["svg_chart", "write_svg"]

_COLORS = {"all": "#888888", "file": "#1f77b4", "function": "#d62728"}
_LABELS = {"all": "all tests", "file": "file level", "function": "function level"}
# Series other than the levels (another tool replayed over the same commits, as the benchmark's
# testmon) are drawn after them, labelled by their own name.
_OTHER_COLORS = ("#2ca02c", "#9467bd", "#ff7f0e", "#000000")
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 720, 360, 60, 150, 40, 60


def _series(results: Sequence[LevelResult]) -> tuple[list[str], dict[str, list[int]]]:
    commits: list[str] = []
    series: dict[str, dict[str, int]] = {}
    for r in results:
        if r.commit not in commits:
            commits.append(r.commit)
        series.setdefault(r.level, {})[r.commit] = r.tests_total if r.level == "all" else r.tests_run
    return commits, {level: [runs.get(c, 0) for c in commits] for level, runs in series.items()}


def _styled(series: dict[str, list[int]]) -> list[tuple[str, str, list[int]]]:
    """(series, color, values): the levels in their fixed order, then the others as they came."""
    known = [level for level in _COLORS if level in series]
    others = [name for name in series if name not in _COLORS]
    return [(level, _COLORS[level], series[level]) for level in known] + [
        (name, _OTHER_COLORS[j % len(_OTHER_COLORS)], series[name]) for j, name in enumerate(others)
    ]


def svg_chart(results: Sequence[LevelResult], title: str = "Tests run per commit") -> str:
    commits, series = _series(results)
    top = max([1, *(n for values in series.values() for n in values)])
    width, height = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + (width * i / (len(commits) - 1) if len(commits) > 1 else width / 2)

    def y(n: int) -> float:
        return _TOP + height - height * n / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
        'font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{_LEFT}" y="24" font-size="15">{escape(title)}</text>',
        f'<line x1="{_LEFT}" y1="{_TOP + height}" x2="{_LEFT + width}" y2="{_TOP + height}" stroke="black"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + height}" stroke="black"/>',
    ]
    for tick in (0, top // 2, top):
        parts.append(f'<text x="{_LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
        parts.append(
            f'<line x1="{_LEFT}" y1="{y(tick):.1f}" x2="{_LEFT + width}" y2="{y(tick):.1f}" '
            'stroke="#eeeeee"/>'
        )
    step = max(1, len(commits) // 10)  # at most about ten labels under the axis
    for i in range(0, len(commits), step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{_TOP + height + 16}" text-anchor="end" '
            f'transform="rotate(-40 {x(i):.1f} {_TOP + height + 16})">{escape(commits[i][:7])}</text>'
        )
    for k, (level, color, values) in enumerate(_styled(series)):
        points = " ".join(f"{x(i):.1f},{y(n):.1f}" for i, n in enumerate(values))
        parts.append(
            f'<polyline class="{level}" fill="none" stroke="{color}" stroke-width="2" points="{points}"/>'
        )
        for i, n in enumerate(values):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(n):.1f}" r="3" fill="{color}"><title>{n}</title></circle>'
            )
        ly = _TOP + 10 + 20 * k
        parts.append(
            f'<line x1="{_W - _RIGHT + 15}" y1="{ly}" x2="{_W - _RIGHT + 40}" y2="{ly}" stroke="{color}" '
            'stroke-width="2"/>'
        )
        parts.append(f'<text x="{_W - _RIGHT + 46}" y="{ly + 4}">{escape(_LABELS.get(level, level))}</text>')
    parts.append(
        f'<text x="{_LEFT + width / 2:.0f}" y="{_H - 6}" text-anchor="middle">commit, oldest first</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_svg(path: Path, results: Sequence[LevelResult]) -> None:
    path.write_text(svg_chart(results), encoding="utf-8")
