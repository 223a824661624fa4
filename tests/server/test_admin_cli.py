"""`dryci admin` against a live server: tokens, provenance-based purge, retention, caps, usage."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from dryci.cli import main as dryci_main
from dryci.protocol import FileEntry, PublishRequest
from dryci.server.backends import open_backend
from dryci.server.backends.base import Principal
from tests.live_server import LiveServer, admin
from tests.server.helpers import key, tid


def publish(server: LiveServer, token: str, entries: dict[str, list[str]], branch: str = "main") -> None:
    body = {
        "entries": {k: {"tests": dict.fromkeys(ids, 1.0)} for k, ids in entries.items()},
        "provenance": {"branch": branch, "commit": "c0ffee", "run_url": "https://ci.example/1"},
    }
    answer = httpx.post(
        server.url + "/api/v2/publish", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text


def cached(server: LiveServer, token: str, keys: list[str]) -> list[list[str]]:
    answer = httpx.post(
        server.url + "/api/v1/query-passed",
        json={"test_file_hashes": keys},
        headers={"Authorization": f"Bearer {token}"},
    )
    return answer.json()["node_ids"]


def test_tokens_list_shows_ids_scopes_and_namespaces_but_no_secret(server: LiveServer) -> None:
    p = server.project()
    listed = json.loads(server.admin("--json", "tokens", "list", "--project", p.project))
    assert {(t["user"], t["scope"]) for t in listed} == {("ci", "write"), ("pr", "read")}
    assert all(t["id"] in (p.write.split("_")[1], p.read.split("_")[1]) for t in listed)
    assert p.write.split("_")[2] not in json.dumps(listed)


def test_projects_and_users_can_be_created_and_listed(server: LiveServer) -> None:
    p = server.project()
    server.admin("users", "create", "--project", p.project, "dora")
    users = json.loads(server.admin("--json", "users", "list", "--project", p.project))
    assert sorted(u["user"] for u in users) == ["ci", "dora", "pr"]
    projects = json.loads(server.admin("--json", "projects", "list"))
    assert p.project in [row["project"] for row in projects]


def test_purge_by_token_removes_every_entry_that_token_touched(server: LiveServer) -> None:
    p = server.project()
    attacker = server.token(p.project, "mallory", "write")
    publish(server, p.write, {key(1): [tid(1)]})
    publish(server, attacker, {key(1): [tid(666)], key(2): [tid(667)]}, branch="evil")
    assert cached(server, p.read, [key(1), key(2)]) == [sorted([tid(1), tid(666)]), [tid(667)]]
    publish(server, p.write, {key(3): [tid(3)]})
    out = json.loads(server.admin("--json", "purge", "--token", attacker.split("_")[1]))
    # Whole entries the token touched go; the honest id under key 1 just runs once more.
    assert out == {"removed": 2, "records": 0}
    assert cached(server, p.read, [key(1), key(2), key(3)]) == [[], [], [tid(3)]]


def test_provenance_lists_every_publish_that_wrote_a_key(server: LiveServer) -> None:
    p = server.project()
    other = server.token(p.project, "mallory", "write")
    publish(server, p.write, {key(1): [tid(1)]}, branch="main")
    publish(server, other, {key(1): [tid(2)], key(2): [tid(3)]}, branch="evil")
    rows = json.loads(server.admin("--json", "provenance", "--hash", key(1), "--project", p.project))
    assert [(r["token"], r["branch"], r["commit"]) for r in rows] == [
        (p.write.split("_")[1], "main", "c0ffee"),
        (other.split("_")[1], "evil", "c0ffee"),
    ]
    assert rows[0]["run_url"] == "https://ci.example/1"


def test_purge_since_a_time_removes_later_publishes(server: LiveServer) -> None:
    p = server.project()
    publish(server, p.write, {key(1): [tid(1)]})
    time.sleep(1.1)
    cut = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(1.1)
    publish(server, p.write, {key(2): [tid(2)]})
    server.admin("purge", "--since", cut, "--project", p.project)
    assert cached(server, p.read, [key(1), key(2)]) == [[tid(1)], []]


def test_purge_by_hash_removes_that_key_only(server: LiveServer) -> None:
    p = server.project()
    publish(server, p.write, {key(1): [tid(1)], key(2): [tid(2)]})
    server.admin("purge", "--hash", key(1), "--project", p.project)
    assert cached(server, p.read, [key(1), key(2)]) == [[], [tid(2)]]


def _writer(backend: object, project: str, token: str) -> Principal:
    backend.create_token(project, "ci", token, "h", "write", "", None, 0.0)  # type: ignore[attr-defined]
    row = backend.lookup_token(token)  # type: ignore[attr-defined]
    return Principal(token, row.project_id, project, "ci", "write", "")


def test_retention_evicts_entries_not_read_for_n_days(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        project = backend.create_project("old", None, 0.0)
        who = _writer(backend, "old", "tok1")
        day = 86400.0
        backend.publish(who, PublishRequest({key(1): FileEntry({tid(1): 1.0})}), "v2", now=1000 * day)
        backend.publish(who, PublishRequest({key(2): FileEntry({tid(2): 1.0})}), "v2", now=1020 * day)
        # Reading key 1 on day 1025 keeps it alive (the server refreshes read times it finds stale).
        stale = backend.query(project.id, ("",), [key(1)], now=1025 * day).stale_keys
        assert stale == [("", key(1))]
        backend.touch(project.id, stale, now=1025 * day)
        assert backend.apply_retention(now=1045 * day, max_age_days=30, default_cap=None) == 0
        assert backend.apply_retention(now=1051 * day, max_age_days=30, default_cap=None) == 1
        entries = backend.query(project.id, ("",), [key(1), key(2)], now=1051 * day).entries
        assert [dict(e.tests) for e in entries] == [{tid(1): 1.0}, {}]  # key 2 was never read
    finally:
        backend.close()


def test_the_per_project_cap_keeps_the_most_recently_read_entries(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        small = backend.create_project("small", 2, 0.0)
        big = backend.create_project("big", None, 0.0)
        writers = [(small, _writer(backend, "small", "s")), (big, _writer(backend, "big", "b"))]
        for n in range(4):
            for _, who in writers:
                backend.publish(who, PublishRequest({key(n): FileEntry({tid(n): 1.0})}), "v1", now=100.0 + n)
        assert backend.apply_retention(now=200.0, max_age_days=30, default_cap=3) == 2 + 1
        assert backend.count_entries(small.id) == 2
        assert backend.count_entries(big.id) == 3
        kept = backend.query(small.id, ("",), [key(n) for n in range(4)], now=200.0).entries
        assert [bool(e.tests) for e in kept] == [False, False, True, True]
    finally:
        backend.close()


def test_admin_retention_command_evicts_stale_entries(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    backend = open_backend(db)
    try:
        backend.create_project("p", None, 0.0)
        who = _writer(backend, "p", "t")
        backend.publish(
            who, PublishRequest({key(1): FileEntry({tid(1): 1.0})}), "v1", now=time.time() - 3 * 86400
        )
        backend.publish(who, PublishRequest({key(2): FileEntry({tid(2): 1.0})}), "v1", now=time.time())
    finally:
        backend.close()
    assert json.loads(admin(db, "--json", "retention", "--days", "2")) == {"evicted": 1}
    assert json.loads(admin(db, "--json", "retention", "--days", "2")) == {"evicted": 0}


def test_usage_command_lists_counters_per_day(server: LiveServer) -> None:
    p = server.project()
    publish(server, p.write, {key(1): [tid(1), tid(2)]})
    deadline = time.monotonic() + 10
    rows: list[dict[str, object]] = []
    while time.monotonic() < deadline and not rows:
        rows = json.loads(server.admin("--json", "usage", "--project", p.project))
        time.sleep(0.2)
    assert rows[0]["tests_published"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["purge"], "purge: say what to purge"),
        (["purge", "--hash", "xyz"], "--hash: expected a key of 64 lowercase hex characters"),
        (["purge", "--since", "yesterday"], "--since: expected an ISO time"),
        (["tokens", "create", "--project", "nope", "--user", "u"], "no project named 'nope'"),
        (
            ["tokens", "create", "--project", "p", "--user", "u", "--expires", "soon"],
            "--expires: expected a duration",
        ),
        (["tokens", "revoke", "nope"], "no active token 'nope' to revoke"),
        (["projects", "create", "p"], "a project named 'p' already exists"),
        (["--db", "mysql://x/y", "projects", "list"], "--db: unsupported database URL"),
    ],
)
def test_admin_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    admin(db, "projects", "create", "p")
    capsys.readouterr()
    assert dryci_main(["admin", "--db", db, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dryci admin: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_the_server_applies_retention_and_the_cap_from_its_flags(tmp_path: Path) -> None:
    from tests.live_server import live_server

    db = f"sqlite:///{tmp_path / 'flags.db'}"
    backend = open_backend(db)
    try:
        backend.create_project("p", None, 0.0)
        who = _writer(backend, "p", "t")
        now = time.time()
        for n, age_days in enumerate((10, 0.5, 0.2, 0.1)):
            request = PublishRequest({key(n): FileEntry({tid(n): 1.0})})
            backend.publish(who, request, "v1", now=now - age_days * 86400)
    finally:
        backend.close()
    with live_server(db, ["--retention-days", "5", "--max-entries", "2"], log_dir=tmp_path) as server:
        reader = server.token("p", "r", "read")
        deadline = time.monotonic() + 10
        while True:  # retention runs in the background right after start
            found = cached(server, reader, [key(n) for n in range(4)])
            if [bool(ids) for ids in found] == [False, False, True, True] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert [bool(ids) for ids in found] == [False, False, True, True]
