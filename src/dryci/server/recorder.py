"""Usage counters, run reports and read times, batched in memory and written by one background thread.

Queries are the hot path: writing a usage row per query would serialize them on one row. Instead the
counters are summed here and flushed every ``interval`` seconds (and on shutdown), with the run reports
received meanwhile. A crash loses at most that interval of statistics, never a cached result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, fields
from typing import Any

from dryci.exceptions import DryciError
from dryci.protocol import MAX_IDS_PER_KEY, MAX_KEYS_PER_REQUEST
from dryci.protocol.usage import RunUsage
from dryci.server.backends.base import Backend, Principal, RunReport, UsageDay

log = logging.getLogger("dryci.server")


@dataclass
class _Counts:
    queries: int = 0
    hits: int = 0
    misses: int = 0
    tests_published: int = 0
    tests_skipped: int = 0
    seconds_saved: float = 0.0
    runs: int = 0
    tests_total: int = 0
    tests_run: int = 0
    seconds_run: float = 0.0
    shadow_runs: int = 0
    shadow_would_skip: int = 0
    shadow_missed: int = 0


# What one publish may add to a day's counters: the most tests a run can hold (4,096 keys of 32,768
# tests) and a year of seconds. A day's counter stops at COUNTER_CAP, far below a bigint's range, so
# neither a client's claim nor a sum of them can overflow a column.
MAX_TESTS_PER_PUBLISH = MAX_KEYS_PER_REQUEST * MAX_IDS_PER_KEY
MAX_SECONDS_PER_PUBLISH = 366 * 86400.0
COUNTER_CAP = 2**53
# Run reports waiting for the next flush: beyond this many (a flood between two flushes) a report is
# still counted in the usage counters, only not listed as a row: memory stays bounded.
MAX_PENDING_REPORTS = 10_000


def _clamp(value: int) -> int:
    return max(0, min(value, COUNTER_CAP))


def _clamped(counts: _Counts) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields(counts):
        value = getattr(counts, field.name)
        out[field.name] = min(value, float(COUNTER_CAP)) if isinstance(value, float) else _clamp(value)
    return out


def day_of(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


class UsageRecorder:
    def __init__(self, backend: Backend, interval: float) -> None:
        self.backend = backend
        self.interval = interval
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, str], _Counts] = defaultdict(_Counts)
        self._touches: dict[int, set[tuple[str, str]]] = defaultdict(set)
        self._record_touches: dict[tuple[int, str], set[tuple[str, str]]] = defaultdict(set)
        self._reports: list[RunReport] = []
        self._dropped_reports = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dryci-usage", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def query(
        self, project_id: int, now: float, hits: int, misses: int, stale: list[tuple[str, str]]
    ) -> None:
        with self._lock:
            counts = self._counts[(project_id, day_of(now))]
            counts.queries += 1
            counts.hits += hits
            counts.misses += misses
            if stale:
                self._touches[project_id].update(stale)

    def records_read(self, project_id: int, kind: str, stale: list[tuple[str, str]]) -> None:
        """Records, snapshots or facts read: only their read times (retention), no usage counters."""
        if stale:
            with self._lock:
                self._record_touches[project_id, kind].update(stale)

    def publish(self, project_id: int, now: float, tests: int, skipped: int, seconds_saved: float) -> None:
        with self._lock:
            counts = self._counts[(project_id, day_of(now))]
            counts.tests_published += min(tests, MAX_TESTS_PER_PUBLISH)
            counts.tests_skipped += min(skipped, MAX_TESTS_PER_PUBLISH)
            counts.seconds_saved += min(seconds_saved, MAX_SECONDS_PER_PUBLISH)

    def run(self, principal: Principal, now: float, usage: RunUsage) -> None:
        """One run's own report (any token): the source of the per-run counters (see protocol.usage),
        and a row of the recent runs."""

        def tests(n: int) -> int:
            return min(n, MAX_TESTS_PER_PUBLISH)

        def seconds(s: float) -> float:
            return min(s, MAX_SECONDS_PER_PUBLISH)

        report = RunReport(principal.project_id, principal.namespace, principal.token_id, now, usage)
        with self._lock:
            if len(self._reports) < MAX_PENDING_REPORTS:
                self._reports.append(report)
            else:
                self._dropped_reports += 1
            counts = self._counts[(principal.project_id, day_of(now))]
            counts.runs += 1
            counts.tests_total += tests(usage.tests_total)
            counts.tests_run += tests(usage.tests_run)
            counts.tests_skipped += tests(usage.tests_skipped)
            counts.seconds_run += seconds(usage.seconds_run)
            counts.seconds_saved += seconds(usage.seconds_saved)
            if usage.shadow:
                counts.shadow_runs += 1
                counts.shadow_would_skip += tests(usage.would_skip)
                counts.shadow_missed += tests(usage.missed_failures)

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, defaultdict(_Counts)
            touches, self._touches = self._touches, defaultdict(set)
            record_touches, self._record_touches = self._record_touches, defaultdict(set)
            reports, self._reports = self._reports, []
            dropped, self._dropped_reports = self._dropped_reports, 0
        if dropped:
            log.warning("dryci: %d run reports came faster than they could be written; not listed", dropped)
        if reports:  # before the counters: a run that is counted is already listed
            try:
                self.backend.add_run_reports(reports)
            except DryciError as exc:
                log.warning("dryci: could not write %d run reports: %s", len(reports), exc)
        days = [UsageDay(pid, day, **_clamped(c)) for (pid, day), c in counts.items()]
        if days:
            self._add_usage(days)
        try:
            now = time.time()
            for project_id, items in touches.items():
                self.backend.touch(project_id, sorted(items), now)
            for (project_id, kind), items in record_touches.items():
                self.backend.touch_records(project_id, kind, sorted(items), now)
        except DryciError as exc:
            log.warning("dryci: could not write usage counters: %s", exc)

    def _add_usage(self, days: list[UsageDay]) -> None:
        """All projects' counters in one write; if that fails, each project's alone, so that one
        tenant's row that cannot be written never costs the others theirs."""
        try:
            self.backend.add_usage(days)
            return
        except DryciError as exc:
            if len({d.project_id for d in days}) == 1:
                log.warning("dryci: could not write usage counters: %s", exc)
                return
        by_project: dict[int, list[UsageDay]] = defaultdict(list)
        for d in days:
            by_project[d.project_id].append(d)
        for project_id, own in sorted(by_project.items()):
            try:
                self.backend.add_usage(own)
            except DryciError as exc:
                log.warning("dryci: could not write the usage counters of project %d: %s", project_id, exc)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()
