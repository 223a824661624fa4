"""After the run: report its usage, publish the results (file level) and save the records (function
level).

Each returns the lines to say at the end of the run when something could not be kept; neither ever
changes the exit code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from dryci.exceptions import StoreUnavailable
from dryci.plugin.functions import RunOfFile, closures_claimed
from dryci.plugin.outcome import RunCounts, RunOutcome
from dryci.plugin.planning import Planned
from dryci.plugin.report import current_digests
from dryci.plugin.settings import provenance_from_env
from dryci.protocol import PublishStats
from dryci.protocol.usage import RunUsage
from dryci.recording.runtime import Recorded, Unrecordable
from dryci.selection.files import TestResult, entries_to_publish
from dryci.selection.shadow import ShadowSummary
from dryci.store.local import LastPass

__all__ = ["publish_results", "report_run", "save_records"]


def _results(outcome: RunOutcome) -> list[TestResult]:
    tracker = outcome.tracker
    results = [
        TestResult(
            path,
            name,
            tracker.passed(nodeid),
            tracker.seconds(nodeid),
            tracker.cached(nodeid),
            nodeid in outcome.cacheable,
        )
        for nodeid, (path, name) in outcome.index.items()
        if nodeid in tracker
    ]
    # A module skipped at import stands for one outcome, named by the empty test name.
    results += [TestResult(path, "", False, 0.0, skipped=True) for path in sorted(outcome.module_skips)]
    return results


def run_usage(outcome: RunOutcome, counts: RunCounts, level: str, shadow: ShadowSummary | None) -> RunUsage:
    tracker = outcome.tracker
    return RunUsage(
        level=level,
        tests_total=counts.cached + counts.ran,
        tests_run=counts.ran,
        tests_skipped=counts.cached,
        seconds_run=round(sum(tracker.seconds(n) for n in tracker.node_ids() if not tracker.cached(n)), 3),
        seconds_saved=round(counts.seconds_saved, 3),
        shadow=shadow is not None,
        would_skip=shadow.would_skip if shadow is not None else 0,
        missed_failures=len(shadow.missed) if shadow is not None else 0,
        provenance=provenance_from_env(os.environ),
    )


def report_run(planned: Planned, usage: RunUsage) -> tuple[list[str], bool | None]:
    """Tell the store how the run went, every run (fully cached ones and read tokens' included).

    Returns the lines to say and whether the run may publish (None: the store does not say). A store
    that already failed this run is not asked again (that was said once already).
    """
    store = planned.store
    if store is None or store.breaker_open:
        return [], None
    try:
        return [], store.report_run(usage)
    except StoreUnavailable as exc:
        return [f"dryci: could not report this run to the server: {exc.reason}"], None


def publish_results(outcome: RunOutcome, planned: Planned, counts: RunCounts) -> list[str]:
    store = planned.store
    if store is None:
        return []
    if store.breaker_open:
        # It failed this run (or a 429 still asks to wait), and that was said once already. Asked
        # here, not when planning: a server that rate-limited the query may take the publish.
        return []
    results = _results(outcome)
    entries = entries_to_publish(outcome.selection.plan, results, outcome.full_counts)
    if not entries:
        return []
    failed = sum(1 for n in outcome.tracker.node_ids() if outcome.tracker.failed(n))
    passed = sum(1 for r in results if r.passed)
    stats = PublishStats(
        total=counts.cached + counts.ran,
        passed=passed,
        failed=failed,
        skipped=counts.ran - failed - passed,
        skipped_by_cache=counts.cached,
        seconds_saved=round(counts.seconds_saved, 3),
    )
    try:
        store.publish(entries, provenance_from_env(os.environ), stats)
    except StoreUnavailable as exc:
        what = "save" if store is planned.local else "publish"
        return [f"dryci: could not {what} results: {exc.reason}"]
    return _save_last_passes(outcome, planned, {r.path for r in results if r.passed})


def _save_last_passes(outcome: RunOutcome, planned: Planned, paths: set[str]) -> list[str]:
    """What each passing file depended on, for ``--dryci-explain`` (local only)."""
    if planned.local is None:
        return []
    files = outcome.selection.plan.files
    analysis = planned.analysis
    common = dict(analysis.environment.parts) if analysis.environment is not None else None
    names: dict[str, list[str]] = {}
    for nodeid, (path, name) in outcome.index.items():
        if path in paths and nodeid not in outcome.cacheable:
            names.setdefault(path, []).append(name)
    passes = {
        path: LastPass(
            files[path].dependency_hash,
            current_digests(analysis, path),
            {f"dist:{name}": label for name, label in analysis.distribution_labels(path).items()},
            tuple(names.get(path, ())),
        )
        for path in sorted(paths)
    }
    try:
        planned.local.save_last_passes(passes, common)
    except StoreUnavailable as exc:
        return [f"dryci: could not save what the tests depended on (for --dryci-explain): {exc.reason}"]
    return []


def save_records(
    outcome: RunOutcome, planned: Planned, recordings: Callable[[], Recorded | None]
) -> list[str]:
    """``recordings``: this run's recording (:class:`Unrecordable` if it could not be made)."""
    functions = planned.functions
    if functions is None:
        return []
    if planned.store is not None and planned.store.breaker_open:
        return []  # the store failed this run, and that was said once already
    try:
        recorded = recordings()
    except Unrecordable as exc:
        return [f"dryci: nothing recorded for the function level this run: {exc}"]
    if recorded is None:
        return []
    selection, tracker = outcome.selection, outcome.tracker
    runs: dict[str, dict[str, Any]] = {}
    for nodeid, (path, name) in outcome.index.items():
        run = runs.setdefault(path, {"passed": {}, "carried": [], "skipped": [], "ran": False})
        canonical = f"{path}::{name}"
        if nodeid in outcome.cacheable:
            run["skipped"].append(canonical)
            run["ran"] = True
        elif nodeid in tracker and not tracker.cached(nodeid):
            run["ran"] = True
            if tracker.passed(nodeid):
                run["passed"][canonical] = (nodeid, tracker.seconds(nodeid))
        else:
            verdict = selection.verdicts.get(path)
            function_id = selection.function_id(path, name)
            if verdict is not None and function_id is not None and verdict.reason_for(function_id) is None:
                run["carried"].append(canonical)
    for path in outcome.module_skips:
        runs[path] = {"passed": {}, "carried": [], "skipped": [f"{path}::"], "ran": True}
    files = {
        path: RunOfFile(
            outcome.full_counts.get(path), run["passed"], run["carried"], run["skipped"], run["ran"]
        )
        for path, run in runs.items()
    }
    claimed = closures_claimed(planned.analysis, selection.plan.files)
    try:
        functions.save(recorded, files, selection.verdicts, claimed)
    except StoreUnavailable as exc:
        return [f"dryci: could not save the function-level records: {exc.reason}"]
    return []
