"""Shadow mode: every test runs, and each one the cache would have skipped is remembered with why.

The answer comes from the same two places the real skipping reads, so shadow mode checks the engine
itself, not a copy of it: ``Selection.decide`` for a collected test, and ``Selection.uncollected``
for a test file the run would not even have imported (its every test is then "would skip", new ones
too: a test the entry does not know of is exactly what a whole-file shortcut hides). A test that
would have been skipped and then failed is a *missed failure*: a stale or forged entry, a missing
dependency rule, or a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from dryci.selection.decision import Decision, Level
from dryci.selection.plan import Selection

__all__ = ["ShadowSummary", "WouldSkip", "shadow_summary", "would_skip"]

_SHOWN = 16  # hex characters of a key shown: enough to find the row, short enough to read


@dataclass(frozen=True)
class WouldSkip:
    """Why the cache would have skipped one test, and what skipping it would have saved."""

    reason: str  # the cache's reason, naming the entry or record that said so
    level: Level
    seconds: float = 0.0


def would_skip(selection: Selection, path: str, name: str, whole_file: bool) -> WouldSkip | None:
    """What the real run would have done with this collected test, as a ``WouldSkip`` (None: it runs).

    ``whole_file``: the file is among ``selection.uncollected(...)`` of this run, so the real run
    would not have imported it.
    """
    file_plan = selection.plan.files.get(path)
    if file_plan is None or not selection.skip:
        return None
    decision: Decision | None = selection.decide(path, name)
    if whole_file and (decision is None or not decision.skip):
        verdict = selection.verdicts.get(path)
        if file_plan.fully_cached or verdict is None or selection.keys is None:
            entry = file_plan.key[:_SHOWN]
            return WouldSkip(f"its file's entry {entry} verified, so the file was not imported", Level.FILE)
        record = selection.keys.record_key(path)[:_SHOWN]
        reason = f"its file's record {record} holds no change, so the file was not imported"
        return WouldSkip(reason, Level.FUNCTION)
    if decision is None or not decision.skip:
        return None
    if decision.level is Level.FILE:
        where = f"entry {file_plan.key[:_SHOWN]}"
    else:
        where = f"record {selection.keys.record_key(path)[:_SHOWN]}" if selection.keys else "its record"
    return WouldSkip(f"{decision.reason} ({decision.level} level, {where})", decision.level, decision.seconds)


@dataclass(frozen=True)
class ShadowSummary:
    total: int  # tests that ran this run
    would_skip: int  # of those, the ones the cache would have skipped
    seconds: float  # their durations when they last passed
    missed: tuple[tuple[str, WouldSkip], ...]  # (node id, why) of those that failed, sorted


def shadow_summary(
    would: Mapping[str, WouldSkip], ran: Iterable[str], failed: Callable[[str], bool]
) -> ShadowSummary:
    """Count over the tests that ran (``-k``/``-m`` may have dropped some ``would`` holds)."""
    ran_ids: Collection[str] = list(ran)
    hits = [nodeid for nodeid in ran_ids if nodeid in would]
    missed = tuple((nodeid, would[nodeid]) for nodeid in sorted(hits) if failed(nodeid))
    return ShadowSummary(len(ran_ids), len(hits), sum(would[n].seconds for n in hits), missed)
