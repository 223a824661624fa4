"""The replay's table for a person and its JSON for machines."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dryci.replay.engine import LevelResult

__all__ = ["summary_lines", "table", "to_json", "write_json"]

_HEADER = (
    "commit",
    "level",
    "tests run",
    "files run",
    "failed",
    "missed",
    "mutants missed",
    "CPU s",
    "saved s",
)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _row(r: LevelResult) -> tuple[str, ...]:
    commit = r.commit[:10] + (" (merge)" if r.merge else "")
    missed = "-" if r.missed_failures is None else str(r.missed_failures)
    mutants = f"{len(r.mutants_missed)} of {r.mutants}" if r.mutants and r.level != "all" else "-"
    return (
        commit,
        r.level,
        f"{r.tests_run} of {r.tests_total}",
        f"{r.files_run} of {r.files_total}",
        str(r.tests_failed),
        missed,
        mutants,
        _cell(r.cpu_seconds),
        _cell(r.seconds_saved) if r.level != "all" else "-",
    )


def table(results: Sequence[LevelResult]) -> list[str]:
    """A fixed-width table, one row per commit and level, oldest commit first."""
    rows = [_HEADER, *(_row(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return [lines[0], "  ".join("-" * w for w in widths), *lines[1:]]


def _by_level(results: Sequence[LevelResult]) -> dict[str, list[LevelResult]]:
    levels: dict[str, list[LevelResult]] = {}
    for r in results:
        levels.setdefault(r.level, []).append(r)
    return levels


def level_summary(rows: Sequence[LevelResult]) -> dict[str, Any]:
    """Totals of one level over all commits."""
    cpu = [r.cpu_seconds for r in rows if r.cpu_seconds is not None]
    verified = [r.missed_failures for r in rows if r.missed_failures is not None]
    skipped_share = [r.files_skipped / r.files_total for r in rows if r.files_total]
    return {
        "commits": len(rows),
        "tests_total": sum(r.tests_total for r in rows),
        "tests_run": sum(r.tests_run for r in rows),
        "cpu_seconds": sum(cpu) if len(cpu) == len(rows) else None,
        "seconds_saved": sum(r.seconds_saved for r in rows),
        "missed_failures": sum(verified) if verified else None,
        "mutants": sum(r.mutants for r in rows),
        "mutants_missed": sum(len(r.mutants_missed) for r in rows),
        "median_files_skipped": statistics.median(skipped_share) if skipped_share else None,
    }


def summary_lines(results: Sequence[LevelResult]) -> list[str]:
    """One line per level: what it ran, what it saved, what it missed."""
    levels = _by_level(results)
    plain_cpu = level_summary(levels["all"])["cpu_seconds"] if "all" in levels else None
    lines = []
    for level, rows in levels.items():
        if level == "all":
            continue
        s = level_summary(rows)
        share = f"{s['tests_run'] / s['tests_total']:.0%}" if s["tests_total"] else "-"
        line = f"{level}: ran {s['tests_run']:,} of {s['tests_total']:,} tests ({share})"
        line += f" over {s['commits']} commits"
        if s["median_files_skipped"] is not None:
            line += f", {s['median_files_skipped']:.0%} of test files skipped on the median commit"
        if plain_cpu is not None and s["cpu_seconds"] is not None:
            line += f"; CPU {s['cpu_seconds']:.1f}s against {plain_cpu:.1f}s for the plain suite"
        if s["missed_failures"] is not None:
            line += f"; missed failures: {s['missed_failures']}"
        if s["mutants"]:
            line += f"; mutants: {s['mutants']} caught by the suite, tests missed: {s['mutants_missed']}"
        lines.append(line)
    for r in results:
        for test in r.missed:
            lines.append(f"MISSED {r.level} {r.commit[:10]}: {test} failed in the plain run but was skipped")
        for miss in r.mutants_missed:
            lines.append(f"MISSED {r.level} {r.commit[:10]}: mutant {miss} was not selected")
    return lines


def to_json(results: Sequence[LevelResult], repo: Path) -> dict[str, Any]:
    runs = []
    for r in results:
        row = dataclasses.asdict(r)
        row.update(tests_skipped=r.tests_skipped, files_skipped=r.files_skipped)
        row["missed"], row["mutants_missed"] = list(r.missed), list(r.mutants_missed)
        runs.append(row)
    levels = {level: level_summary(rows) for level, rows in _by_level(results).items()}
    return {"repo": str(repo), "runs": runs, "levels": levels}


def write_json(path: Path, results: Sequence[LevelResult], repo: Path) -> None:
    path.write_text(json.dumps(to_json(results, repo), indent=2) + "\n", encoding="utf-8")
