"""Request bodies: the typed decode refuses the wrong shape without building it; integral floats count."""

from __future__ import annotations

import tracemalloc

import httpx
import pytest

from dryci.exceptions import ProtocolError
from dryci.protocol import MAX_BODY_BYTES
from dryci.server.bodies import decode_body
from tests.live_server import LiveServer
from tests.server.helpers import key, tid

HOSTILE = b"[" + b"{}," * ((MAX_BODY_BYTES - 10) // 3) + b"{}]"  # valid JSON, 2.8 million objects


def post(server: LiveServer, path: str, token: str, body: object) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_an_8_mib_array_of_objects_is_refused_without_building_it() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError) as refused:
            decode_body("v2_query", HOSTILE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.field == "body" and "expected `object`, got `array`" in refused.value.message
    assert peak < 1024 * 1024  # json.loads would build 2.8 million dicts (hundreds of MB)


def test_a_large_body_of_the_wrong_shape_inside_is_refused_naming_the_key() -> None:
    body = b'{"entries": {"' + key(1).encode() + b'": {"tests": [' + b"{}," * 400_000 + b"{}]}}}"
    with pytest.raises(ProtocolError) as refused:
        decode_body("v2_publish", body)
    assert refused.value.field == f"entries.{key(1)}.tests"
    assert "expected `object`, got `array`" in refused.value.message


def test_a_large_deeply_nested_body_is_refused_in_one_line() -> None:
    body = b'{"entries": {"' + key(1).encode() + b'": ' + b"[" * 600_000 + b"]" * 600_000 + b"}}"
    with pytest.raises(ProtocolError, match="nested deeper"):
        decode_body("v2_publish", body)


def test_an_8_mib_array_of_objects_is_answered_422_over_http(server: LiveServer) -> None:
    p = server.project()
    answer = httpx.post(
        server.url + "/api/v2/publish",
        content=HOSTILE,
        headers={"Authorization": f"Bearer {p.write}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 422
    assert answer.json() == {"detail": "expected `object`, got `array`", "field": "body"}


def test_integral_floats_are_integers_as_the_schema_says(server: LiveServer) -> None:
    p = server.project()
    body = {
        "entries": {key(1): {"test_count": 2.0, "tests": {tid(1): 1.0, tid(2): 0.5}}},
        "stats": {"total": 567.0, "passed": 2.0},
    }
    answer = post(server, "/api/v2/publish", p.write, body)
    assert answer.status_code == 200, answer.text
    (entry,) = post(server, "/api/v2/query", p.read, {"keys": [key(1)]}).json()["entries"]
    assert entry["test_count"] == 2 and isinstance(entry["test_count"], int)
    v1 = {"passed_node_ids_per_test_file": {}, "total_test_count": 567.0}
    assert post(server, "/api/v1/publish", p.write, v1).status_code == 200
    fraction = post(server, "/api/v2/publish", p.write, {"entries": {}, "stats": {"total": 1.5}})
    assert fraction.status_code == 422 and fraction.json()["field"] == "stats.total"
