"""Usage counters and read times, batched in memory and written by one background thread.

Queries are the hot path: writing a usage row per query would serialize them on one row. Instead the
counters are summed here and flushed every ``interval`` seconds (and on shutdown). A crash loses at
most that interval of statistics, never a cached result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from dryci.exceptions import DryciError
from dryci.server.backends.base import Backend, UsageDay

log = logging.getLogger("dryci.server")


@dataclass
class _Counts:
    queries: int = 0
    hits: int = 0
    misses: int = 0
    tests_published: int = 0
    tests_skipped: int = 0
    seconds_saved: float = 0.0


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
            counts.tests_published += tests
            counts.tests_skipped += skipped
            counts.seconds_saved += seconds_saved

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, defaultdict(_Counts)
            touches, self._touches = self._touches, defaultdict(set)
            record_touches, self._record_touches = self._record_touches, defaultdict(set)
        days = [
            UsageDay(
                pid, day, c.queries, c.hits, c.misses, c.tests_published, c.tests_skipped, c.seconds_saved
            )
            for (pid, day), c in counts.items()
        ]
        try:
            if days:
                self.backend.add_usage(days)
            now = time.time()
            for project_id, items in touches.items():
                self.backend.touch(project_id, sorted(items), now)
            for (project_id, kind), items in record_touches.items():
                self.backend.touch_records(project_id, kind, sorted(items), now)
        except DryciError as exc:
            log.warning("dryci: could not write usage counters: %s", exc)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()
