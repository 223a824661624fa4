"""Entry tags over real HTTP (SQLite and PostgreSQL): skipped ids and tags are stored with the count."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dryci.server.backends import open_backend, schema
from dryci.server.backends.packing import pack
from tests.live_server import LiveServer, live_server
from tests.server.helpers import key, tid

TAG = "ab" * 16
OTHER_TAG = "cd" * 16


def post(server: LiveServer, path: str, token: str, body: object) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def query(server: LiveServer, token: str, *keys: str) -> list[dict[str, Any]]:
    answer = post(server, "/api/v2/query", token, {"keys": list(keys)})
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def test_a_v2_query_returns_the_skipped_ids_and_the_tag_that_were_published(server: LiveServer) -> None:
    p = server.project()
    entry = {"test_count": 3, "tests": {tid(1): 0.5, tid(2): 0.25}, "skipped": [tid(3)], "tag": TAG}
    assert post(server, "/api/v2/publish", p.write, {"entries": {key(1): entry}}).status_code == 200
    assert query(server, p.read, key(1), key(2)) == [entry, {"test_count": None, "tests": {}}]


def test_a_publish_with_a_count_replaces_skipped_ids_and_tag_together(server: LiveServer) -> None:
    p = server.project()
    first = {"test_count": 2, "tests": {tid(1): 1.0}, "skipped": [tid(2)], "tag": TAG}
    post(server, "/api/v2/publish", p.write, {"entries": {key(1): first}})
    # The same file, a test now failing: the publisher claims nothing, so the old tag must not survive.
    post(server, "/api/v2/publish", p.write, {"entries": {key(1): {"test_count": 2, "tests": {}}}})
    assert query(server, p.read, key(1)) == [{"test_count": 2, "tests": {tid(1): 1.0}}]


def test_a_publish_without_a_count_keeps_the_claim(server: LiveServer) -> None:
    p = server.project()
    first = {"test_count": 2, "tests": {tid(1): 1.0}, "skipped": [tid(2)], "tag": TAG}
    post(server, "/api/v2/publish", p.write, {"entries": {key(1): first}})
    post(server, "/api/v1/publish", p.write, {"passed_node_ids_per_test_file": {key(1): [tid(1)]}})
    assert query(server, p.read, key(1)) == [first]
    # v1 answers are exactly those of 0.1.x: passed ids only.
    v1 = post(server, "/api/v1/query-passed", p.read, {"test_file_hashes": [key(1)]})
    assert v1.json() == {"node_ids": [[tid(1)]]}


def test_a_namespaced_token_reads_its_own_claim_over_the_default_one(server: LiveServer) -> None:
    p = server.project()
    pull_request = server.token(p.project, "pr-bot", "write", namespace="pr")
    default = {"test_count": 2, "tests": {tid(1): 1.0}, "skipped": [tid(2)], "tag": TAG}
    own = {"test_count": 2, "tests": {tid(1): 2.0, tid(2): 0.5}, "tag": OTHER_TAG}
    post(server, "/api/v2/publish", p.write, {"entries": {key(1): default}})
    post(server, "/api/v2/publish", pull_request, {"entries": {key(1): own}})
    (merged,) = query(server, pull_request, key(1))
    assert merged["tag"] == OTHER_TAG and merged["test_count"] == 2
    assert merged["skipped"] == [tid(2)] and set(merged["tests"]) == {tid(1), tid(2)}
    assert query(server, p.read, key(1)) == [default]  # the default namespace never reads "pr"


def test_the_schema_describes_skipped_ids_and_tags(server: LiveServer) -> None:
    document = httpx.get(server.url + "/openapi.json").json()
    body = document["paths"]["/api/v2/publish"]["post"]["requestBody"]["content"]["application/json"]
    entry = body["schema"]["properties"]["entries"]["additionalProperties"]
    assert {"skipped", "tag"} <= set(entry["properties"])


def test_a_database_from_before_tags_is_migrated_and_keeps_its_entries(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old:  # the server as it was at schema version 2
        old.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        old.setattr(schema, "LATEST", 2)
        backend: Any = open_backend(db_url)
        try:
            assert backend.schema_version == 2
            backend.create_project("acme", None, 0.0)
            project_id = backend.list_projects()[0].id
            ids, seconds = pack({bytes.fromhex(tid(1)): 1.5})
            now = time.time()  # recent: the server's retention keeps it
            backend._write(
                lambda c: backend.ops.run(
                    c,
                    "INSERT INTO entries (project_id, namespace, key, test_count, ids, seconds, created_at,"
                    " last_read_at) VALUES (?, '', ?, 1, ?, ?, ?, ?)",
                    (project_id, key(1), ids, seconds, now, now),
                )
            )
        finally:
            backend.close()
    with live_server(db_url, ["--rate-limit", "0"], log_dir=tmp_path) as server:
        assert httpx.get(server.url + "/healthz").json()["schema_version"] == schema.LATEST
        token = server.token("acme")
        assert query(server, token, key(1)) == [{"test_count": 1, "tests": {tid(1): 1.5}}]
        tagged = {"test_count": 1, "tests": {tid(1): 1.5}, "tag": TAG}
        assert post(server, "/api/v2/publish", token, {"entries": {key(1): tagged}}).status_code == 200
        assert query(server, token, key(1)) == [tagged]
