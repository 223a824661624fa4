"""Every run's report kept as a row (``run_reports``), on SQLite and PostgreSQL: the recent runs."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from dryci.protocol import Provenance
from dryci.protocol.usage import RunUsage
from dryci.server.backends import open_backend, runsql, schema
from dryci.server.backends.base import Principal, RunReport
from dryci.server.recorder import UsageRecorder, day_of
from tests.live_server import LiveServer
from tests.server.test_runs import execute

DAY = 86400.0
CACHED = {
    "level": "file",
    "tests_total": 54,
    "tests_run": 0,
    "tests_skipped": 54,
    "seconds_run": 0.0,
    "seconds_saved": 12.5,
}


def report(server: LiveServer, token: str, body: object) -> None:
    answer = httpx.post(
        server.url + "/api/v2/runs", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text


def runs_on_dashboard(server: LiveServer, token: str, rows: int) -> tuple[str, list[tuple[str, ...]]]:
    """The page and its recent runs (class, user, branch) once ``rows`` are listed (flushed ~1/s)."""
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
        browser.post("/login", data={"token": token})
        while True:
            page = browser.get("/").text
            found = re.findall(
                r'<tr class="([^"]+)"><td>[^<]*</td><td class="user">([^<]*)</td><td>([^<]*)<', page
            )
            if len(found) >= rows or time.monotonic() > deadline:
                return page, found
            time.sleep(0.2)


def test_a_fully_cached_run_of_a_read_token_is_listed_with_its_users_name(server: LiveServer) -> None:
    p = server.project()  # users "ci" (write) and "pr" (read)
    report(server, p.write, {**CACHED, "tests_run": 4, "tests_skipped": 50, "provenance": {"branch": "main"}})
    time.sleep(0.01)  # distinct times: newest first
    report(server, p.read, {**CACHED, "provenance": {"branch": "feature/<b>", "commit": "c0ffee" * 7}})
    page, rows = runs_on_dashboard(server, p.read, 2)
    assert rows == [("fully-cached", "pr", "feature/&lt;b&gt;"), ("run", "ci", "main")]
    assert "c0ffeec0ffee<" in page
    for token in (p.read, p.write):  # neither the secret nor the token id
        assert token not in page and token.split("_")[1] not in page


def test_run_reports_round_trip_newest_first_per_project(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        a = backend.create_project("a", None, 0.0).id
        b = backend.create_project("b", None, 0.0).id
        backend.create_token("a", "alice", "tokena", "h", "read", "pr", None, 0.0)
        backend.create_token("b", "bob", "tokenb", "h", "write", "", None, 0.0)
        shadow = RunUsage("function", 9, 9, 0, 3.5, 0.0, shadow=True, would_skip=7, missed_failures=1)
        cached = RunUsage("file", 9, 0, 9, 0.0, 2.25, provenance=Provenance("main", "abc", "https://ci/9"))
        backend.add_run_reports(
            [
                RunReport(a, "pr", "tokena", 100.0, shadow),
                RunReport(a, "pr", "tokena", 200.0, cached),
                RunReport(b, "", "tokenb", 150.0, cached),
                RunReport(a, "", "gone", 50.0, cached),  # a token that cannot be joined still lists
            ]
        )
        runs = backend.reported_runs(a, 10)
        assert [(r.user, r.namespace, r.created_at, r.usage) for r in runs] == [
            ("alice", "pr", 200.0, cached),
            ("alice", "pr", 100.0, shadow),
            ("(unknown)", "", 50.0, cached),
        ]
        assert [r.project for r in backend.reported_runs(None, 2)] == ["a", "b"]
        assert [r.user for r in backend.reported_runs(b, 10)] == ["bob"]
    finally:
        backend.close()


def test_retention_drops_old_run_reports_and_keeps_each_projects_newest(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runsql, "MAX_REPORTS_PER_PROJECT", 3)
    backend = open_backend(db_url)
    usage = RunUsage("file", 1, 1, 0, 0.1, 0.0)
    try:
        a = backend.create_project("a", None, 0.0).id
        b = backend.create_project("b", None, 0.0).id
        now = 100 * DAY
        backend.add_run_reports(
            [RunReport(a, "", "t", now - n * 60.0, usage) for n in range(5)]  # five recent: two too many
            + [RunReport(a, "", "t", now - n * 60.0, usage) for n in (0, 0)]  # same times as the newest
            + [RunReport(b, "", "t", now - 31 * DAY, usage), RunReport(b, "", "t", now - 29 * DAY, usage)]
        )
        assert backend.apply_retention(now, max_age_days=30, default_cap=None) == 0  # no entry removed
        assert [r.created_at for r in backend.reported_runs(a, 10)] == [now, now, now]
        assert [r.created_at for r in backend.reported_runs(b, 10)] == [now - 29 * DAY]
    finally:
        backend.close()


def test_the_recorder_writes_the_reports_it_received_and_bounds_those_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dryci.server.recorder as recorder_module

    monkeypatch.setattr(recorder_module, "MAX_PENDING_REPORTS", 2)
    backend = open_backend(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        project = backend.create_project("p", None, 0.0).id
        backend.create_token("p", "carol", "tokenc", "h", "read", "", None, 0.0)
        who = Principal("tokenc", project, "p", "carol", "read", "")
        recorder = UsageRecorder(backend, interval=3600.0)
        for n in range(3):
            recorder.run(who, 1000.0 + n, RunUsage("file", 5, 0, 5, 0.0, 1.0))
        recorder.flush()
        assert [r.created_at for r in backend.reported_runs(project, 10)] == [1001.0, 1000.0]
        (day,) = backend.usage(project, day_of(0.0))
        assert (day.runs, day.tests_skipped) == (3, 15)  # every report counted, listed or not
    finally:
        backend.close()


def test_the_migration_to_run_reports_keeps_what_a_version_6_server_wrote(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tuple(m for m in schema.MIGRATIONS if m.version < 7)
    with monkeypatch.context() as older:
        older.setattr(schema, "MIGRATIONS", before)
        older.setattr(schema, "LATEST", 6)
        backend = open_backend(db_url)
        try:
            assert backend.schema_version == 6
            project = backend.create_project("old", None, 0.0).id
        finally:
            backend.close()
        execute(
            db_url,
            f"INSERT INTO usage_daily VALUES ({project}, '{day_of(0.0)}', 3, 1, 2, 0, 7, 2.5, "
            + "1, 9, 2, 1.0, 0, 0, 0)",
        )
    backend = open_backend(db_url)
    try:
        assert backend.schema_version == schema.LATEST == 7
        (row,) = backend.usage(project, day_of(0.0))
        assert (row.queries, row.runs, row.tests_skipped) == (3, 1, 7)
        assert backend.reported_runs(project, 10) == []
        backend.add_run_reports([RunReport(project, "", "t", 1.0, RunUsage("file"))])
        assert len(backend.reported_runs(project, 10)) == 1
    finally:
        backend.close()
