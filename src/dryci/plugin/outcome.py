"""What a run did, gathered once at its end: the input of the summary, the publish and the records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dryci.plugin.results import ResultTracker
from dryci.selection.decision import Level
from dryci.selection.plan import Selection, Uncollected

__all__ = ["RunCounts", "RunOutcome"]


@dataclass(frozen=True)
class RunOutcome:
    selection: Selection
    index: Mapping[str, tuple[str, str]]  # pytest node id -> (test file, test name)
    tracker: ResultTracker
    full_counts: Mapping[str, int]  # tests per file, for the files this run collected whole
    cacheable: frozenset[str]  # node ids skipped or xfailed for a reason the key decides
    module_skips: frozenset[str]  # test files skipped at import by importorskip
    uncollected: Mapping[str, Uncollected]  # files not imported, inside this run's scope

    def ran_by_file(self) -> dict[str, list[str]]:
        """Test file -> names of its tests that ran (were not skipped by the cache)."""
        ran: dict[str, list[str]] = {}
        for nodeid in self.tracker.node_ids():
            if self.tracker.cached(nodeid):
                continue
            path, name = self.index.get(nodeid) or (nodeid.split("::", 1)[0], "")
            ran.setdefault(path, []).append(name)
        return ran


@dataclass(frozen=True)
class RunCounts:
    cached: int
    seconds_saved: float
    ran: int
    files_changed: int
    files_with_new_or_failed: int = 0
    files_not_analyzed: int = 0
    cached_by_function: int = 0
    first_run: bool = False  # the cache knew nothing of any file: everything is new

    @classmethod
    def of(cls, outcome: RunOutcome) -> RunCounts:
        selection = outcome.selection
        cached = by_function = 0
        saved = 0.0
        for nodeid in outcome.tracker.node_ids():
            located = outcome.index.get(nodeid)
            if located is None or not outcome.tracker.cached(nodeid):
                continue
            decision = selection.decide(*located)
            if decision is not None and decision.skip:
                cached += 1
                saved += decision.seconds
                by_function += decision.level is Level.FUNCTION
        for uncollected in outcome.uncollected.values():
            cached += uncollected.tests
            saved += uncollected.seconds
            if uncollected.level is Level.FUNCTION:
                by_function += uncollected.tests
        files = selection.plan.files
        ran = outcome.ran_by_file()
        changed = [p for p in ran if p in files and not files[p].has_entry]
        partly = [p for p in ran if p in files and files[p].has_entry]
        return cls(
            cached=cached,
            seconds_saved=saved,
            ran=sum(len(names) for names in ran.values()),
            files_changed=len(changed),
            files_with_new_or_failed=len(partly),
            files_not_analyzed=len(ran) - len(changed) - len(partly),
            cached_by_function=by_function,
            first_run=not selection.verdicts and not any(f.has_entry for f in files.values()),
        )
