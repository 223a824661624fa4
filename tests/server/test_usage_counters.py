"""Usage counters on SQLite and PostgreSQL: client claims are bounded, sums clamped, tenants isolated."""

from __future__ import annotations

import time

from dryci.server.backends import open_backend
from dryci.server.backends.base import UsageDay
from dryci.server.recorder import (
    COUNTER_CAP,
    MAX_SECONDS_PER_PUBLISH,
    MAX_TESTS_PER_PUBLISH,
    UsageRecorder,
    day_of,
)


def test_one_tenants_absurd_counters_are_clamped_and_never_drop_another_tenants(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        greedy = backend.create_project("greedy", None, 0.0).id
        honest = backend.create_project("honest", None, 0.0).id
        recorder = UsageRecorder(backend, interval=3600.0)
        now = time.time()
        for _ in range(2000):  # 2,000 claims of 2^53 cached tests: far past a bigint when summed
            recorder.publish(greedy, now, tests=1, skipped=2**53, seconds_saved=1e300)
        recorder.publish(honest, now, tests=3, skipped=7, seconds_saved=1.5)
        recorder.query(honest, now, hits=2, misses=1, stale=[])
        recorder.flush()
        for _ in range(2):  # and again into the same rows
            for _ in range(100):
                recorder.publish(greedy, now, tests=1, skipped=2**53, seconds_saved=1e300)
            recorder.flush()
        rows = {row.project_id: row for row in backend.usage(None, day_of(now))}
        assert (rows[honest].tests_published, rows[honest].tests_skipped) == (3, 7)
        assert (rows[honest].queries, rows[honest].hits, rows[honest].misses) == (1, 2, 1)
        assert rows[honest].seconds_saved == 1.5
        assert rows[greedy].tests_skipped == 2200 * MAX_TESTS_PER_PUBLISH
        assert rows[greedy].tests_published == 2200
        assert rows[greedy].seconds_saved == 2200 * MAX_SECONDS_PER_PUBLISH
        # Sums in the database stop at the cap too, whatever was there.
        capped = UsageDay(greedy, day_of(now), tests_skipped=COUNTER_CAP, seconds_saved=float(COUNTER_CAP))
        backend.add_usage([capped])
        backend.add_usage([capped])
        (row,) = backend.usage(greedy, day_of(now))
        assert row.tests_skipped == COUNTER_CAP and row.seconds_saved == COUNTER_CAP
    finally:
        backend.close()


def test_one_publish_counts_at_most_the_tests_a_run_can_hold(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        project = backend.create_project("p", None, 0.0).id
        recorder = UsageRecorder(backend, interval=3600.0)
        now = time.time()
        recorder.publish(project, now, tests=5, skipped=2**53, seconds_saved=0.0)
        recorder.flush()
        (row,) = backend.usage(project, day_of(now))
        assert row.tests_skipped == MAX_TESTS_PER_PUBLISH
    finally:
        backend.close()
