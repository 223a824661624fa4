"""``POST /api/v2/runs``: every run's usage, read tokens included, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import httpx
import pytest

from dryci.server.backends import open_backend, schema
from dryci.server.backends.base import UsageDay
from dryci.server.recorder import day_of
from tests.live_server import LiveServer, ProjectTokens

RUN = {
    "level": "file",
    "tests_total": 54,
    "tests_run": 3,
    "tests_skipped": 51,
    "seconds_run": 1.5,
    "seconds_saved": 120.0,
}


def report(server: LiveServer, token: str, body: object) -> httpx.Response:
    return httpx.post(
        server.url + "/api/v2/runs", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def usage_once_flushed(server: LiveServer, p: ProjectTokens, runs: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:  # usage is flushed about once a second
        days = httpx.get(server.url + "/api/v2/usage", headers=p.auth("read")).json()["days"]
        if (days and days[0]["runs"] >= runs) or time.monotonic() > deadline:
            assert len(days) == 1, days
            day: dict[str, Any] = days[0]
            return day
        time.sleep(0.2)


def test_a_read_token_may_report_its_run_and_it_is_counted(server: LiveServer) -> None:
    p = server.project()
    answer = report(server, p.read, RUN)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"may_publish": False}
    day = usage_once_flushed(server, p, 1)
    assert (day["runs"], day["tests_total"], day["tests_run"], day["tests_skipped"]) == (1, 54, 3, 51)
    assert (day["seconds_run"], day["seconds_saved"]) == (1.5, 120.0)
    assert (day["shadow_runs"], day["shadow_would_skip"], day["shadow_missed"]) == (0, 0, 0)


def test_a_shadow_runs_counts_and_missed_failures_are_stored(server: LiveServer) -> None:
    p = server.project()
    shadow = {**RUN, "tests_run": 54, "tests_skipped": 0, "seconds_saved": 0.0}
    shadow.update(shadow=True, would_skip=50, missed_failures=2)
    written = report(server, p.write, shadow)
    assert written.status_code == 200 and written.json() == {"may_publish": True}
    assert report(server, p.read, RUN).status_code == 200
    day = usage_once_flushed(server, p, 2)
    assert (day["runs"], day["shadow_runs"], day["shadow_would_skip"], day["shadow_missed"]) == (2, 1, 50, 2)
    assert day["tests_skipped"] == 51  # only the real run skipped anything


def test_a_run_report_without_a_valid_token_is_refused(server: LiveServer) -> None:
    assert report(server, "dryci_nope", RUN).status_code == 401
    assert httpx.post(server.url + "/api/v2/runs", json=RUN).status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"level": "line"}, "level"),
        ({"tests_total": -1}, "tests_total"),
        ({"tests_total": 1.5}, "tests_total"),
        ({"seconds_saved": "a lot"}, "seconds_saved"),
        ({"seconds_run": None}, "seconds_run"),
        ({"tests_skipped": 52}, "tests_total"),
        ({"shadow": "yes"}, "shadow"),
        ({"would_skip": 3}, "would_skip"),
        ({"missed_failures": 1}, "missed_failures"),
        ({"shadow": True, "would_skip": 55}, "would_skip"),
        ({"shadow": True, "would_skip": 2, "missed_failures": 3}, "missed_failures"),
        ({"passed": 3}, "passed"),
    ],
)
def test_a_bad_run_report_is_refused_naming_the_field(
    server: LiveServer, change: dict[str, object], field: str
) -> None:
    p = server.project()
    answer = report(server, p.read, {**RUN, **change})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field, answer.json()


def test_a_run_report_missing_a_field_is_refused_naming_it(server: LiveServer) -> None:
    body = {name: value for name, value in RUN.items() if name != "seconds_run"}
    answer = report(server, server.project().read, body)
    assert answer.status_code == 422
    assert answer.json()["field"] == "seconds_run"


def test_v2_publish_stats_are_not_counted_twice(server: LiveServer) -> None:
    # The run's report is the one source of "tests skipped" and "time saved"; a publish adds its stored tests.
    p = server.project()
    body = {
        "entries": {"a" * 64: {"tests": {"b" * 32: 1.0}}},
        "stats": {"skipped_by_cache": 51, "seconds_saved": 120.0},
    }
    published = httpx.post(server.url + "/api/v2/publish", json=body, headers=p.auth("write"), timeout=30)
    assert published.status_code == 200
    assert report(server, p.write, RUN).status_code == 200
    day = usage_once_flushed(server, p, 1)
    assert (day["tests_published"], day["tests_skipped"], day["seconds_saved"]) == (1, 51, 120.0)


def execute(db_url: str, sql: str) -> None:
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url[len("sqlite:///") :]) as conn:
            conn.execute(sql)
        conn.close()
    else:
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as pg:
            pg.execute(sql)


def test_the_migration_keeps_usage_rows_and_starts_the_run_counters_at_zero(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tuple(m for m in schema.MIGRATIONS if m.version < 6)
    with monkeypatch.context() as older:
        older.setattr(schema, "MIGRATIONS", before)
        older.setattr(schema, "LATEST", before[-1].version)
        backend = open_backend(db_url)
        try:
            assert backend.schema_version == 5
            project = backend.create_project("old", None, 0.0).id
        finally:
            backend.close()
        # As a version-5 server wrote it (its own columns only).
        execute(
            db_url,
            "INSERT INTO usage_daily (project_id, day, queries, hits, misses, tests_published, tests_skipped,"
            f" seconds_saved) VALUES ({project}, '{day_of(0.0)}', 3, 0, 0, 0, 7, 2.5)",
        )
    backend = open_backend(db_url)
    try:
        assert backend.schema_version == schema.LATEST >= 6
        (row,) = backend.usage(project, day_of(0.0))
        assert (row.queries, row.tests_skipped, row.seconds_saved) == (3, 7, 2.5)
        counters = (row.runs, row.tests_total, row.seconds_run, row.shadow_runs, row.shadow_missed)
        assert counters == (0, 0, 0, 0, 0)
        backend.add_usage([UsageDay(project, day_of(0.0), runs=1, shadow_runs=1, shadow_missed=2)])
        (row,) = backend.usage(project, day_of(0.0))
        assert (row.queries, row.runs, row.shadow_runs, row.shadow_missed) == (3, 1, 1, 2)
    finally:
        backend.close()
