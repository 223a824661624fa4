"""Precise-mode manifests on the server: the two endpoints over real HTTP, purge, retention, migration.

Every test runs on SQLite and on PostgreSQL (the ``server`` and ``db_url`` fixtures).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from dryci.precise.manifest import build_manifest, identity_key, identity_secret
from dryci.protocol import MAX_BODY_BYTES, MAX_KEYS_PER_REQUEST, FileEntry, Provenance, PublishRequest
from dryci.server.backends import open_backend, schema
from dryci.server.backends.base import Principal
from dryci.server.manifests import answer_body, decode_manifest_publish
from tests.live_server import LiveServer, live_server
from tests.server.helpers import key, tid

QUERY = "/api/v2/manifests/query"
PUBLISH = "/api/v2/manifests/publish"


def manifest(n: int = 1, version: int = 1) -> dict[str, Any]:
    """A real manifest's JSON (as pytest --dryci-precise publishes it)."""
    secret = identity_secret(f"tests/test_{n}.py\0cfg")
    body = f"def f():\n    return {version}\n".encode()
    built = build_manifest(secret, "salt", {"src/a.py": body}, [], {"t::x": [("src/a.py", "f")]})
    return dict(built.to_json())


def mkey(n: int) -> str:
    return identity_key(f"tests/test_{n}.py\0cfg")


def post(server: LiveServer, path: str, token: str, body: Any) -> httpx.Response:
    return httpx.post(server.url + path, headers={"Authorization": f"Bearer {token}"}, json=body, timeout=30)


def publish(server: LiveServer, token: str, manifests: dict[str, Any], **provenance: str) -> httpx.Response:
    body: dict[str, Any] = {"manifests": manifests}
    if provenance:
        body["provenance"] = provenance
    return post(server, PUBLISH, token, body)


def query(server: LiveServer, token: str, keys: list[str]) -> dict[str, Any]:
    answer = post(server, QUERY, token, {"keys": keys})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["manifests"]
    return found


# -- the endpoints ------------------------------------------------------------------------------


def test_published_manifests_are_answered_by_key_and_unknown_keys_left_out(server: LiveServer) -> None:
    p = server.project()
    answer = publish(server, p.write, {mkey(1): manifest(1), mkey(2): manifest(2)})
    assert answer.status_code == 200 and answer.json() == {"stored": 2}
    assert query(server, p.read, [mkey(1), mkey(3), mkey(2)]) == {mkey(1): manifest(1), mkey(2): manifest(2)}
    assert query(server, p.read, []) == {}


def test_test_durations_in_a_manifest_come_back_and_may_be_left_out(server: LiveServer) -> None:
    p = server.project()
    timed = {**manifest(1), "durations": {tid(1): 0.25}}
    untimed = {k: v for k, v in manifest(2).items() if k != "durations"}
    assert publish(server, p.write, {mkey(1): timed, mkey(2): untimed}).status_code == 200
    found = query(server, p.read, [mkey(1), mkey(2)])
    assert found[mkey(1)]["durations"] == {tid(1): 0.25}
    assert found[mkey(2)]["durations"] == {}  # stored in its canonical form


def test_a_publish_replaces_the_manifest_under_its_key(server: LiveServer) -> None:
    p = server.project()
    publish(server, p.write, {mkey(1): manifest(1, version=1)})
    publish(server, p.write, {mkey(1): manifest(1, version=2)})
    assert query(server, p.read, [mkey(1)]) == {mkey(1): manifest(1, version=2)}
    assert manifest(1, version=1) != manifest(1, version=2)


def test_manifests_stay_in_their_project_and_namespace(server: LiveServer) -> None:
    mine, other = server.project(), server.project()
    pr = server.token(mine.project, "pr-ci", "write", namespace="pr")
    publish(server, mine.write, {mkey(1): manifest(1)})
    publish(server, pr, {mkey(2): manifest(2)})
    assert query(server, other.read, [mkey(1), mkey(2)]) == {}
    # The default namespace never reads a pull request's manifests; the pull request reads both.
    assert query(server, mine.read, [mkey(1), mkey(2)]) == {mkey(1): manifest(1)}
    assert query(server, pr, [mkey(1), mkey(2)]) == {mkey(1): manifest(1), mkey(2): manifest(2)}


def test_a_namespaced_reader_gets_the_latest_of_both_namespaces(server: LiveServer) -> None:
    p = server.project()
    pr = server.token(p.project, "pr-ci", "write", namespace="pr")
    publish(server, p.write, {mkey(1): manifest(1, version=1)})
    publish(server, pr, {mkey(1): manifest(1, version=2)})
    assert query(server, pr, [mkey(1)]) == {mkey(1): manifest(1, version=2)}
    assert query(server, p.read, [mkey(1)]) == {mkey(1): manifest(1, version=1)}


def test_a_read_only_token_may_query_but_not_publish(server: LiveServer) -> None:
    p = server.project()
    refused = publish(server, p.read, {mkey(1): manifest(1)})
    assert refused.status_code == 403
    assert "write" in refused.json()["detail"]
    assert query(server, p.read, [mkey(1)]) == {}


@pytest.mark.parametrize("path", [QUERY, PUBLISH])
def test_a_wrong_or_missing_token_is_refused(server: LiveServer, path: str) -> None:
    body = {"keys": []} if path == QUERY else {"manifests": {}}
    assert post(server, path, "dryci_nope_nope", body).status_code == 401
    assert httpx.post(server.url + path, json=body).status_code == 401


BAD = mkey(1)


def broken(change: dict[str, Any]) -> dict[str, Any]:
    return {**manifest(1), **change}


VALIDATION_CASES = [
    # (path, body, field, words in the detail)
    (QUERY, {"keys": ["nothex"]}, "keys[0]", "64 lowercase hex"),
    (QUERY, {"keys": [BAD] * (MAX_KEYS_PER_REQUEST + 1)}, "keys", f"at most {MAX_KEYS_PER_REQUEST}"),
    (QUERY, {"manifests": {}}, "manifests", "unknown field"),
    (PUBLISH, {"manifests": {"KEY": manifest(1)}}, "manifests", "64 lowercase hex"),
    (PUBLISH, {}, "manifests", "missing required field"),
    (PUBLISH, {"manifests": [manifest(1)]}, "manifests", "expected an object"),
    (PUBLISH, {"manifests": {BAD: broken({"salt": "x"})}}, f"manifests.{BAD}.salt", "32 lowercase hex"),
    (PUBLISH, {"manifests": {BAD: broken({"version": 9})}}, f"manifests.{BAD}.version", "expected version 1"),
    (PUBLISH, {"manifests": {BAD: broken({"shared": "all"})}}, f"manifests.{BAD}.shared", "expected a list"),
    (PUBLISH, {"manifests": {BAD: {"version": 1}}}, f"manifests.{BAD}", "missing"),
    (PUBLISH, {"manifests": {BAD: "{}"}}, f"manifests.{BAD}", "expected an object"),
    (
        PUBLISH,
        {"manifests": {BAD: broken({"tests": {"t": []}})}},
        f"manifests.{BAD}.tests key",
        "32 lowercase hex",
    ),
    (
        PUBLISH,
        {"manifests": {BAD: broken({"durations": {tid(1): -1}})}},
        f"manifests.{BAD}.durations.{tid(1)}",
        "non-negative number of seconds",
    ),
    (PUBLISH, {"manifests": {}, "provenance": {"branch": 1}}, "provenance.branch", "string"),
    (PUBLISH, {"manifests": {}, "extra": 1}, "extra", "unknown field"),
]


@pytest.mark.parametrize(
    "path, body, field, words",
    VALIDATION_CASES,
    ids=[f"{c[0].rsplit('/')[-1]}-{c[2]}" for c in VALIDATION_CASES],
)
def test_a_bad_body_is_refused_naming_the_key_and_field(
    server: LiveServer, path: str, body: Any, field: str, words: str
) -> None:
    p = server.project()
    answer = post(server, path, p.write, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert words in answer.json()["detail"]
    assert query(server, p.read, [BAD]) == {}  # nothing of a refused publish is stored


def test_one_bad_manifest_refuses_the_whole_publish(server: LiveServer) -> None:
    p = server.project()
    answer = publish(server, p.write, {mkey(1): manifest(1), mkey(2): broken({"salt": "x"})})
    assert answer.status_code == 422
    assert query(server, p.read, [mkey(1), mkey(2)]) == {}


def test_an_oversized_body_is_refused_with_413(server: LiveServer) -> None:
    p = server.project()
    big = {**manifest(1), "shared": ["0" * 32] * (MAX_BODY_BYTES // 34 + 1)}
    answer = publish(server, p.write, {mkey(1): big})
    assert answer.status_code == 413
    assert "larger than the limit" in answer.json()["detail"]


def test_manifest_requests_count_against_the_token_rate_limit(tmp_path: Any) -> None:
    with live_server(
        f"sqlite:///{tmp_path / 'rl.db'}", ["--rate-limit", "0.5", "--rate-burst", "2"], log_dir=tmp_path
    ) as server:
        p = server.project()
        codes = [
            publish(server, p.write, {mkey(1): manifest(1)}).status_code,
            post(server, QUERY, p.write, {"keys": [mkey(1)]}).status_code,
            post(server, QUERY, p.write, {"keys": [mkey(1)]}).status_code,
        ]
        assert codes == [200, 200, 429]
        limited = publish(server, p.write, {mkey(1): manifest(1)})
        assert limited.status_code == 429 and "retry-after" in limited.headers


def test_the_openapi_document_and_the_api_page_show_both_endpoints(server: LiveServer) -> None:
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    publish_schema = paths[PUBLISH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert publish_schema["required"] == ["manifests"]
    assert set(paths[QUERY]["post"]["responses"]) >= {"200", "401", "413", "422", "429", "503"}
    assert "403" in paths[PUBLISH]["post"]["responses"]
    page = httpx.get(server.url + "/api").text
    assert f"POST {QUERY}" in page and f"POST {PUBLISH}" in page


def test_an_answer_lists_the_manifests_past_the_size_limit_under_more() -> None:
    stored = decode_manifest_publish({"manifests": {mkey(n): manifest(n) for n in range(3)}}).bodies
    one = len(json.dumps(manifest(0), separators=(",", ":"))) + 70
    body, count = answer_body(stored, limit=2 * one + 200)
    answer = json.loads(body)
    assert count == 2 and len(body) <= 2 * one + 200
    assert answer == {"manifests": {mkey(0): manifest(0), mkey(1): manifest(1)}, "more": [mkey(2)]}
    assert json.loads(answer_body(stored)[0]) == {"manifests": {mkey(n): manifest(n) for n in range(3)}}


# -- purge, retention, counts -------------------------------------------------------------------


def token_id(token: str) -> str:
    return token.split("_")[1]


def test_purge_by_token_removes_every_manifest_it_wrote_even_if_replaced_since(server: LiveServer) -> None:
    p = server.project()
    mallory = server.token(p.project, "mallory", "write")
    publish(server, mallory, {mkey(1): manifest(1), mkey(2): manifest(2)})
    # An honest pass replaces key 1, but carried records of mallory's manifest may live on in it.
    publish(server, p.write, {mkey(1): manifest(1, version=2), mkey(3): manifest(3)})
    out = json.loads(server.admin("--json", "purge", "--token", token_id(mallory)))
    assert out == {"removed": 0, "manifests": 2}
    assert list(query(server, p.read, [mkey(1), mkey(2), mkey(3)])) == [mkey(3)]


def test_purge_by_key_and_since_reach_manifests_and_results_alike(server: LiveServer) -> None:
    p = server.project()
    publish(server, p.write, {mkey(1): manifest(1), mkey(2): manifest(2)})
    results = {"entries": {mkey(1): {"test_count": 1, "tests": {tid(1): 1.0}}}}
    assert post(server, "/api/v2/publish", p.write, results).status_code == 200
    out = json.loads(server.admin("--json", "purge", "--hash", mkey(1), "--project", p.project))
    assert out == {"removed": 1, "manifests": 1}
    assert list(query(server, p.read, [mkey(1), mkey(2)])) == [mkey(2)]
    text = server.admin("purge", "--since", "1h", "--project", p.project)
    assert text.strip() == "removed 0 cached test results and 1 precise manifests"
    assert query(server, p.read, [mkey(2)]) == {}


def test_projects_list_counts_manifests(server: LiveServer) -> None:
    p = server.project()
    publish(server, p.write, {mkey(n): manifest(n) for n in range(3)})
    rows = json.loads(server.admin("--json", "projects", "list"))
    row = next(r for r in rows if r["project"] == p.project)
    assert row["manifests"] == 3 and row["entries"] == 0


def writer(backend: Any, project: str, token: str) -> Principal:
    backend.create_token(project, "ci", token, "h", "write", "", None, 0.0)
    row = backend.lookup_token(token)
    return Principal(token, row.project_id, project, "ci", "write", "")


def stored(*ns: int) -> Any:
    return decode_manifest_publish({"manifests": {mkey(n): manifest(n) for n in ns}}).bodies


def test_retention_evicts_manifests_not_read_for_n_days(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        project = backend.create_project("old", None, 0.0)
        who = writer(backend, "old", "tok1")
        day = 86400.0
        backend.publish_manifests(who, stored(1), Provenance(), now=1000 * day)
        backend.publish_manifests(who, stored(2), Provenance(), now=1020 * day)
        stale = backend.query_manifests(project.id, ("",), [mkey(1)], now=1025 * day).stale_keys
        assert stale == [("", mkey(1))]
        backend.touch_manifests(project.id, stale, now=1025 * day)
        assert backend.apply_retention(now=1045 * day, max_age_days=30, default_cap=None) == 0
        assert backend.apply_retention(now=1051 * day, max_age_days=30, default_cap=None) == 1
        left = backend.query_manifests(project.id, ("",), [mkey(1), mkey(2)], now=1051 * day).bodies
        assert list(left) == [mkey(1)]  # key 2 was never read
        assert backend.count_manifests(project.id) == 1
    finally:
        backend.close()


def test_the_project_cap_keeps_the_most_recently_read_manifests(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        small = backend.create_project("small", 2, 0.0)
        who = writer(backend, "small", "s")
        for n in range(4):
            backend.publish_manifests(who, stored(n), Provenance(), now=100.0 + n)
        assert backend.apply_retention(now=200.0, max_age_days=30, default_cap=None) == 2
        kept = backend.query_manifests(small.id, ("",), [mkey(n) for n in range(4)], now=200.0).bodies
        assert sorted(kept) == sorted([mkey(2), mkey(3)])
    finally:
        backend.close()


def test_a_publish_keeps_its_token_and_ci_provenance(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        backend.create_project("p", None, 0.0)
        who = writer(backend, "p", "tok1")
        backend.publish_manifests(who, stored(1), Provenance("main", "c0ffee", "https://ci/1"), now=5.0)
        rows = backend._read(  # type: ignore[attr-defined]
            lambda c: c.execute(
                "SELECT token_id, branch, commit_sha, run_url, created_at FROM manifests"
            ).fetchall()
        )
        assert [tuple(r) for r in rows] == [("tok1", "main", "c0ffee", "https://ci/1", 5.0)]
    finally:
        backend.close()


# -- migration ----------------------------------------------------------------------------------


def test_a_database_from_before_manifests_is_migrated_and_keeps_its_results(
    db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old:  # the server as it was at schema version 1
        old.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        old.setattr(schema, "LATEST", 1)
        backend = open_backend(db_url)
        try:
            assert backend.schema_version == 1
            backend.create_project("acme", None, 0.0)
            who = writer(backend, "acme", "tok1")
            entry = PublishRequest({key(1): FileEntry({tid(1): 1.5})})
            backend.publish(who, entry, "v2", now=time.time())  # recent: the server's retention keeps it
        finally:
            backend.close()
    with live_server(db_url, ["--rate-limit", "0"], log_dir=tmp_path) as server:
        assert httpx.get(server.url + "/healthz").json()["schema_version"] == schema.LATEST == 2
        token = server.token("acme")
        entries = post(server, "/api/v2/query", token, {"keys": [key(1)]}).json()["entries"]
        assert entries == [{"test_count": None, "tests": {tid(1): 1.5}}]
        assert publish(server, token, {mkey(1): manifest(1)}).json() == {"stored": 1}
        assert query(server, token, [mkey(1)]) == {mkey(1): manifest(1)}
