"""Function-level records over real HTTP (SQLite and PostgreSQL): ``/api/v2/records/query|publish``."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dryci.protocol import Provenance
from dryci.protocol.exchange import MAX_OBJECT_BYTES, RecordsPublish, answer_body, decode_records_publish
from dryci.protocol.records import Facts, encode_facts, encode_record, encode_snapshot, snapshot_id
from dryci.server.backends import open_backend
from dryci.server.backends.base import Principal
from dryci.store.remote import RemoteStore
from tests.live_server import LiveServer, live_server
from tests.server.helpers import key, tid

QUERY = "/api/v2/records/query"
PUBLISH = "/api/v2/records/publish"
SNAPSHOT = encode_snapshot({b"f" * 16: b"c" * 16})
SID = snapshot_id(SNAPSHOT)
FACTS = encode_facts(Facts(b"m" * 16, {b"n" * 16: b"p" * 16}))
FID = b"c" * 16


def record(n: int = 1) -> bytes:
    return encode_record(
        salt=b"s" * 16,
        snapshot=SID,
        closure=b"k" * 16,
        test_count=n,
        tests={bytes([i]) * 16: (0.5, [b"u" * 16]) for i in range(n)},
        shared=[b"v" * 16],
    )


def b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


def post(server: LiveServer, path: str, token: str, body: Any) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture
def stores(server: LiveServer) -> Iterator[Any]:
    made: list[RemoteStore] = []

    def make(token: str) -> RemoteStore:
        made.append(RemoteStore(server.url, token=token, timeout=10.0))
        return made[-1]

    yield make
    for store in made:
        store.close()


def test_records_snapshots_and_facts_round_trip_through_the_remote_store(
    server: LiveServer, stores: Any
) -> None:
    p = server.project()
    stores(p.write).save_records({key(1): record(2)}, {SID: SNAPSHOT}, {FID: FACTS})
    reader = stores(p.read)
    assert reader.records([key(1), key(2)]) == {key(1): record(2)}
    assert reader.snapshots([SID, b"x" * 16]) == {SID: SNAPSHOT}
    assert reader.facts([FID]) == {FID: FACTS}


def test_a_publish_replaces_the_record_under_its_key_and_keeps_the_first_facts(
    server: LiveServer, stores: Any
) -> None:
    p = server.project()
    writer = stores(p.write)
    writer.save_records({key(1): record(1)}, {SID: SNAPSHOT}, {FID: FACTS})
    other = encode_facts(Facts(b"o" * 16, None))
    writer.save_records({key(1): record(3)}, {}, {FID: other})
    assert writer.records([key(1)]) == {key(1): record(3)}
    assert writer.facts([FID]) == {FID: FACTS}  # content-addressed: the first copy stays


def test_records_stay_in_their_project_and_namespace(server: LiveServer, stores: Any) -> None:
    p, q = server.project(), server.project()
    pull_request = server.token(p.project, "pr-bot", "write", namespace="pr")
    stores(p.write).save_records({key(1): record(1)}, {}, {})
    stores(pull_request).save_records({key(1): record(2), key(2): record(2)}, {}, {})
    assert stores(q.read).records([key(1)]) == {}
    # The default namespace never reads "pr"; "pr" reads both, the latest write winning.
    assert stores(p.read).records([key(1), key(2)]) == {key(1): record(1)}
    assert stores(pull_request).records([key(1), key(2)]) == {key(1): record(2), key(2): record(2)}


def test_a_read_only_token_may_query_but_not_publish(server: LiveServer) -> None:
    p = server.project()
    answer = post(server, PUBLISH, p.read, {"records": {key(1): b64(record())}})
    assert answer.status_code == 403
    assert post(server, QUERY, p.read, {"records": [key(1)]}).json() == {
        "records": {},
        "snapshots": {},
        "facts": {},
    }


BAD_CASES = [
    (PUBLISH, {"records": {key(1): "!!!"}}, f"records.{key(1)}", "not valid base64"),
    (PUBLISH, {"records": {key(1): b64(b"DRR1 too short")}}, f"records.{key(1)}", "too short for a record"),
    (PUBLISH, {"records": {"abc": b64(record())}}, "records", "keys of 64 lowercase hex"),
    (PUBLISH, {"snapshots": {"0" * 32: b64(SNAPSHOT)}}, f"snapshots.{'0' * 32}", "hash of its bytes"),
    (PUBLISH, {"facts": {FID.hex(): b64(b"DRF1")}}, f"facts.{FID.hex()}", "too short for facts"),
    (PUBLISH, {"records": {key(1): b64(record())}, "extra": 1}, "extra", "unknown field"),
    (PUBLISH, {"records": []}, "records", "expected an object"),
    (QUERY, {"records": [key(1)], "facts": ["xyz"]}, "facts[0]", "an id of 32 lowercase hex"),
    (QUERY, {"records": [key(n) for n in range(4097)]}, "records", "at most 4096"),
]


@pytest.mark.parametrize(
    "path, body, field, words", BAD_CASES, ids=[c[2].split(".")[0] + "-" + c[3] for c in BAD_CASES]
)
def test_a_bad_body_is_refused_naming_the_kind_and_name(
    server: LiveServer, path: str, body: Any, field: str, words: str
) -> None:
    p = server.project()
    answer = post(server, path, p.write, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert words in answer.json()["detail"]


def test_one_bad_object_refuses_the_whole_publish(server: LiveServer) -> None:
    p = server.project()
    body = {
        "records": {key(1): b64(record()), key(2): b64(b"garbage")},
        "snapshots": {SID.hex(): b64(SNAPSHOT)},
    }
    assert post(server, PUBLISH, p.write, body).status_code == 422
    stored = post(server, QUERY, p.read, {"records": [key(1), key(2)], "snapshots": [SID.hex()]}).json()
    assert stored == {"records": {}, "snapshots": {}, "facts": {}}


def test_an_object_larger_than_the_cap_is_refused() -> None:
    big = b"\0" * (MAX_OBJECT_BYTES + 1)
    with pytest.raises(Exception, match="larger than"):
        decode_records_publish({"facts": {FID.hex(): b64(big)}})


def test_an_answer_lists_what_does_not_fit_under_more() -> None:
    found = {"records": {key(n): record(50) for n in range(3)}}
    one = len(b64(record(50))) + 70
    answer = json.loads(answer_body(found, limit=2 * one + 400))
    assert list(answer["records"]) == [key(0), key(1)]
    assert answer["more"] == {"records": [key(2)]}
    assert "more" not in json.loads(answer_body(found))


def test_the_openapi_document_and_the_api_page_show_both_endpoints(server: LiveServer) -> None:
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    assert "/api/v2/manifests/query" not in paths
    schema = paths[PUBLISH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"records", "snapshots", "facts", "provenance"}
    assert "403" in paths[PUBLISH]["post"]["responses"]
    page = httpx.get(server.url + "/api").text
    assert f"POST {QUERY}" in page and f"POST {PUBLISH}" in page


# -- purge, retention, counts -------------------------------------------------------------------


def token_id(token: str) -> str:
    return token.split("_")[1]


def test_purge_by_token_removes_every_record_it_wrote_even_if_replaced_since(
    server: LiveServer, stores: Any
) -> None:
    p = server.project()
    mallory = server.token(p.project, "mallory", "write")
    stores(mallory).save_records({key(1): record(1), key(2): record(1)}, {}, {FID: FACTS})
    # An honest run replaces key 1, but tests carried over from mallory's record may live on in it.
    stores(p.write).save_records({key(1): record(2), key(3): record(2)}, {SID: SNAPSHOT}, {FID: FACTS})
    out = json.loads(server.admin("--json", "purge", "--token", token_id(mallory)))
    assert out == {"removed": 0, "records": 2}
    reader = stores(p.read)
    assert list(reader.records([key(1), key(2), key(3)])) == [key(3)]
    assert reader.facts([FID]) == {} and reader.snapshots([SID]) == {SID: SNAPSHOT}


def test_purge_by_key_reaches_records_and_results_alike(server: LiveServer, stores: Any) -> None:
    p = server.project()
    stores(p.write).save_records({key(1): record(1), key(2): record(1)}, {}, {})
    results = {"entries": {key(1): {"test_count": 1, "tests": {tid(1): 1.0}}}}
    assert post(server, "/api/v2/publish", p.write, results).status_code == 200
    out = json.loads(server.admin("--json", "purge", "--hash", key(1), "--project", p.project))
    assert out == {"removed": 1, "records": 1}
    text = server.admin("purge", "--since", "1h", "--project", p.project)
    assert text.strip() == "removed 0 cached test results and 1 function-level records"
    assert stores(p.read).records([key(1), key(2)]) == {}


def test_projects_list_counts_records(server: LiveServer, stores: Any) -> None:
    p = server.project()
    stores(p.write).save_records({key(n): record(1) for n in range(3)}, {}, {})
    rows = json.loads(server.admin("--json", "projects", "list"))
    row = next(r for r in rows if r["project"] == p.project)
    assert row["records"] == 3 and row["entries"] == 0


def writer(backend: Any, project: str, token: str) -> Principal:
    backend.create_token(project, "ci", token, "h", "write", "", None, 0.0)
    row = backend.lookup_token(token)
    return Principal(token, row.project_id, project, "ci", "write", "")


def published(*ns: int, facts: bool = False) -> RecordsPublish:
    objects: dict[str, dict[str, bytes]] = {"records": {key(n): record(1) for n in ns}}
    if facts:
        objects["facts"] = {FID.hex(): FACTS}
    return RecordsPublish(objects)


def test_retention_evicts_records_and_facts_not_read_for_n_days(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        project = backend.create_project("old", None, 0.0)
        who = writer(backend, "old", "tok1")
        day = 86400.0
        backend.publish_records(who, published(1, facts=True), now=1000 * day)
        backend.publish_records(who, published(2), now=1020 * day)
        stale = backend.query_records(project.id, ("",), "records", [key(1)], now=1025 * day).stale_keys
        assert stale == [("", key(1))]
        backend.touch_records(project.id, "records", stale, now=1025 * day)
        assert backend.apply_retention(now=1045 * day, max_age_days=30, default_cap=None) == 0
        assert backend.apply_retention(now=1051 * day, max_age_days=30, default_cap=None) == 1
        left = backend.query_records(project.id, ("",), "records", [key(1), key(2)], now=1051 * day).found
        assert list(left) == [key(1)]  # key 2 was never read
        assert backend.query_records(project.id, ("",), "facts", [FID.hex()], now=1051 * day).found == {}
        assert backend.count_records(project.id) == 1
    finally:
        backend.close()


def test_the_project_cap_keeps_the_most_recently_read_records(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        small = backend.create_project("small", 2, 0.0)
        who = writer(backend, "small", "s")
        for n in range(4):
            backend.publish_records(who, published(n), now=100.0 + n)
        assert backend.apply_retention(now=200.0, max_age_days=30, default_cap=None) == 2
        kept = backend.query_records(small.id, ("",), "records", [key(n) for n in range(4)], now=200.0).found
        assert sorted(kept) == sorted([key(2), key(3)])
    finally:
        backend.close()


def test_a_publish_keeps_its_token_and_ci_provenance(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        backend.create_project("p", None, 0.0)
        who = writer(backend, "p", "tok1")
        prov = Provenance("main", "c0ffee", "https://ci/1")
        backend.publish_records(who, RecordsPublish({"records": {key(1): record()}}, prov), now=5.0)
        rows = backend._read(  # type: ignore[attr-defined]
            lambda c: c.execute(
                "SELECT token_id, branch, commit_sha, run_url, created_at FROM records"
            ).fetchall()
        )
        assert [tuple(r) for r in rows] == [("tok1", "main", "c0ffee", "https://ci/1", 5.0)]
    finally:
        backend.close()


def test_record_requests_count_against_the_token_rate_limit(tmp_path: Any) -> None:
    with live_server(
        f"sqlite:///{tmp_path / 'rl.db'}", ["--rate-limit", "0.5", "--rate-burst", "2"], log_dir=tmp_path
    ) as server:
        p = server.project()
        codes = [post(server, QUERY, p.write, {"records": [key(1)]}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
