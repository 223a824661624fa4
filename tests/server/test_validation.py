"""Every validation error answers 4xx with a message naming the field; never a 500."""

from __future__ import annotations

import httpx
import pytest

from dryci.protocol import MAX_BODY_BYTES
from tests.live_server import LiveServer
from tests.server.helpers import key, tid

K, T = key(1), tid(1)

RAW_CASES = [
    # (path, raw body, expected field, words in the message)
    ("/api/v1/query-passed", b"", "body", "empty body"),
    ("/api/v1/query-passed", b"{not json", "body", "malformed JSON"),
    ("/api/v1/query-passed", b"\xff\xfe", "body", "not valid UTF-8"),
    (
        "/api/v1/query-passed",
        b'{"test_file_hashes": [], "test_file_hashes": []}',
        "test_file_hashes",
        "duplicate key",
    ),
    ("/api/v1/publish", b'{"passed_node_ids_per_test_file": {}, "total_test_count": NaN}', "body", "NaN"),
    (
        "/api/v1/publish",
        b'{"passed_node_ids_per_test_file": {}, "total_test_count": Infinity}',
        "body",
        "Infinity",
    ),
    (
        "/api/v1/publish",
        b'{"passed_node_ids_per_test_file": {}, "total_test_count": 1e999}',
        "body",
        "out of range",
    ),
    (
        "/api/v1/publish",
        b'{"passed_node_ids_per_test_file": {}, "total_test_count": ' + b"9" * 5000 + b"}",
        "body",
        "more than 20 digits",
    ),
    ("/api/v2/query", b'{"keys": ["\\ud800"]}', "\\ud800", "lone surrogate"),
    ("/api/v2/query", b'{"keys": ' + b"[" * 5000 + b"]" * 5000 + b"}", "body", "nested deeper"),
    ("/api/v2/query", b"[" * 200_000 + b"]" * 200_000, "body", "nested deeper"),
]

JSON_CASES = [
    ("/api/v1/query-passed", [], "body", "expected a JSON object"),
    ("/api/v1/query-passed", {}, "test_file_hashes", "missing required field"),
    ("/api/v1/query-passed", {"test_file_hashes": [K], "extra": 1}, "extra", "unknown field"),
    ("/api/v1/query-passed", {"test_file_hashes": K}, "test_file_hashes", "expected a list of keys"),
    ("/api/v1/query-passed", {"test_file_hashes": [K.upper()]}, "test_file_hashes[0]", "64 lowercase hex"),
    ("/api/v1/query-passed", {"test_file_hashes": [K, K[:-1]]}, "test_file_hashes[1]", "64 lowercase hex"),
    ("/api/v1/query-passed", {"test_file_hashes": [K] * 4097}, "test_file_hashes", "at most 4096 keys"),
    ("/api/v1/publish", {}, "passed_node_ids_per_test_file", "missing required field"),
    (
        "/api/v1/publish",
        {"passed_node_ids_per_test_file": []},
        "passed_node_ids_per_test_file",
        "expected an object",
    ),
    (
        "/api/v1/publish",
        {"passed_node_ids_per_test_file": {"zz": [T]}},
        "passed_node_ids_per_test_file",
        "64 lowercase hex",
    ),
    (
        "/api/v1/publish",
        {"passed_node_ids_per_test_file": {K: T}},
        f"passed_node_ids_per_test_file.{K}",
        "expected a list of test ids",
    ),
    (
        "/api/v1/publish",
        {"passed_node_ids_per_test_file": {K: [T + "0"]}},
        f"passed_node_ids_per_test_file.{K}[0]",
        "32 lowercase hex",
    ),
    (
        "/api/v1/publish",
        {"passed_node_ids_per_test_file": {K: [T] * 32_769}},
        f"passed_node_ids_per_test_file.{K}",
        # Over 1 MiB: refused by the typed decode, which says so in its own words.
        "expected `array` of length <= 32768",
    ),
    (
        "/api/v1/publish",
        {"passed_node_ids_per_test_file": {}, "total_test_count": -1},
        "total_test_count",
        "expected an integer",
    ),
    (
        "/api/v1/publish",
        {"passed_node_ids_per_test_file": {}, "failed_test_count": True},
        "failed_test_count",
        "expected an integer",
    ),
    (
        "/api/v1/publish",
        {"passed_node_ids_per_test_file": {}, "passed_test_count": 1.5},
        "passed_test_count",
        "expected an integer",
    ),
    ("/api/v1/publish", {"passed_node_ids_per_test_file": {}, "node_ids": []}, "node_ids", "unknown field"),
    ("/api/v2/query", {"test_file_hashes": [K]}, "test_file_hashes", "unknown field"),
    ("/api/v2/publish", {"entries": {K: []}}, f"entries.{K}", "expected an object"),
    ("/api/v2/publish", {"entries": {K: {"tests": {T: -1}}}}, f"entries.{K}.tests.{T}", "non-negative"),
    ("/api/v2/publish", {"entries": {K: {"tests": {T: "1s"}}}}, f"entries.{K}.tests.{T}", "duration"),
    ("/api/v2/publish", {"entries": {K: {"test_count": -2}}}, f"entries.{K}.test_count", "integer"),
    ("/api/v2/publish", {"entries": {K: {"tests": {}, "name": "x"}}}, f"entries.{K}", "unknown field"),
    ("/api/v2/publish", {"entries": {}, "provenance": {"branch": 5}}, "provenance.branch", "string"),
    ("/api/v2/publish", {"entries": {}, "provenance": {"branch": "b" * 513}}, "provenance.branch", "512"),
    (
        "/api/v2/publish",
        {"entries": {}, "provenance": {"author": "me"}},
        "provenance.author",
        "unknown field",
    ),
    (
        "/api/v2/publish",
        {"entries": {}, "stats": {"seconds_saved": -1}},
        "stats.seconds_saved",
        "non-negative",
    ),
    ("/api/v2/publish", {"entries": {}, "stats": {"total": 2**60}}, "stats.total", "integer"),
]


def _post_raw(server: LiveServer, path: str, token: str, raw: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return httpx.post(server.url + path, content=raw, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("path", "raw", "field", "words"), RAW_CASES, ids=[c[3] + "-" + c[0] for c in RAW_CASES]
)
def test_malformed_json_is_rejected_with_422_naming_the_problem(
    server: LiveServer, path: str, raw: bytes, field: str, words: str
) -> None:
    answer = _post_raw(server, path, _project(server), raw)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert words in answer.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "field", "words"), JSON_CASES, ids=[f"{c[0]}-{c[2][:30]}-{c[3]}" for c in JSON_CASES]
)
def test_bodies_that_break_the_protocol_are_rejected_with_422_naming_the_field(
    server: LiveServer, path: str, body: object, field: str, words: str
) -> None:
    answer = httpx.post(
        server.url + path, json=body, headers={"Authorization": f"Bearer {_project(server)}"}, timeout=30
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert words in answer.json()["detail"]


_tokens: dict[int, str] = {}


def _project(server: LiveServer) -> str:
    """One write token per server for the many validation cases (creating one each would be slow)."""
    if id(server) not in _tokens:
        _tokens[id(server)] = server.project().write
    return _tokens[id(server)]


def test_a_declared_body_over_8_mib_is_refused_with_413(server: LiveServer) -> None:
    raw = b'{"test_file_hashes": [' + b" " * MAX_BODY_BYTES + b"]}"
    answer = _post_raw(server, "/api/v1/query-passed", _project(server), raw)
    assert answer.status_code == 413
    assert "larger than the limit" in answer.json()["detail"]


def test_a_streamed_body_over_8_mib_without_content_length_is_refused_with_413(server: LiveServer) -> None:
    def chunks() -> object:
        yield b'{"test_file_hashes": ['
        for _ in range(9):
            yield b" " * (1024 * 1024)
        yield b"]}"

    headers = {"Authorization": f"Bearer {_project(server)}"}
    answer = httpx.post(server.url + "/api/v1/query-passed", content=chunks(), headers=headers, timeout=30)
    assert answer.status_code == 413


def test_a_body_just_under_the_limit_is_accepted(server: LiveServer) -> None:
    raw = b'{"test_file_hashes": [' + b" " * (MAX_BODY_BYTES - 100) + b"]}"
    assert _post_raw(server, "/api/v1/query-passed", _project(server), raw).status_code == 200


def test_a_bad_query_parameter_is_a_422_naming_it(server: LiveServer) -> None:
    answer = httpx.get(
        server.url + "/api/v2/usage?days=0", headers={"Authorization": f"Bearer {_project(server)}"}
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "days"
