"""What DryCI writes at the end of the run, below pytest's summary: the summary line (or the shadow
line), the canary's and shadow mode's loud sections, ``-v``'s cached files and ``--dryci-explain``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dryci.plugin.report import format_shadow
from dryci.selection.shadow import ShadowSummary

__all__ = ["write_end_of_run"]


def write_end_of_run(
    writer: Any,
    summary: Sequence[str],
    *,
    shadow: ShadowSummary | None,
    broken: Sequence[str],
    cached_files: Sequence[str],
    explanations: Sequence[str],
) -> None:
    """``writer``: pytest's terminal reporter; ``broken``: tests the canary re-ran that failed."""
    if shadow is not None:
        # The shadow line stands in for the summary line: "0 cached, N ran" says nothing there.
        _write_shadow(writer, shadow)
        summary = summary[1:]
    for line in summary:
        writer.write_line(line)
    if broken:
        writer.write_sep("=", "dryci CACHE ERROR", red=True, bold=True)
        writer.write_line(
            f"dryci: {len(broken)} test(s) the cache claimed passed failed when re-run by the canary "
            "(stale or poisoned cache entry, or a missing dependency rule):",
            red=True,
        )
        for nodeid in broken:
            writer.write_line(f"  {nodeid}", red=True)
    if cached_files:
        writer.write_sep("-", "dryci cached files")
        for line in cached_files:
            writer.write_line(line)
    if explanations:
        writer.write_sep("-", "dryci explain")
        for line in explanations:
            writer.write_line(line)


def _write_shadow(writer: Any, summary: ShadowSummary) -> None:
    missed = bool(summary.missed)
    writer.write_line(format_shadow(summary), red=missed, bold=missed)
    if not missed:
        return
    writer.write_sep("=", "dryci MISSED FAILURES", red=True, bold=True)
    writer.write_line(
        f"dryci: {len(summary.missed)} test(s) the cache would have skipped failed (a stale or "
        "forged cache entry, a missing dependency rule, or a DryCI bug):",
        red=True,
    )
    for nodeid, why in summary.missed:
        writer.write_line(f"  {nodeid}: would skip: {why.reason}", red=True)
