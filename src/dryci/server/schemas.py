"""JSON Schemas of the request and response bodies, for the OpenAPI document.

The server validates bodies itself (dryci.protocol + jsonbody, stricter than a schema can say); these
schemas describe the same rules so that generated clients and fuzzers know the contract.
"""

from __future__ import annotations

from typing import Any

from dryci.protocol import MAX_IDS_PER_KEY, MAX_KEYS_PER_REQUEST, MAX_PROVENANCE_CHARS
from dryci.protocol.exchange import MAX_OBJECT_BYTES

KEY = {
    "type": "string",
    "pattern": "^[0-9a-f]{64}$",
    "description": "SHA-256 of a test file's dependency hash",
}
TEST_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "keyed hash of a test's node id"}
COUNT = {"type": "integer", "minimum": 0, "maximum": 2**53}
SECONDS = {"type": "number", "minimum": 0}
ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "field": {"type": ["string", "null"]}},
    "required": ["detail"],
}

V1_QUERY = {
    "type": "object",
    "properties": {"test_file_hashes": {"type": "array", "items": KEY, "maxItems": MAX_KEYS_PER_REQUEST}},
    "required": ["test_file_hashes"],
    "additionalProperties": False,
}
V1_QUERY_RESPONSE = {
    "type": "object",
    "properties": {"node_ids": {"type": "array", "items": {"type": "array", "items": TEST_ID}}},
    "required": ["node_ids"],
}
V1_PUBLISH = {
    "type": "object",
    "properties": {
        "passed_node_ids_per_test_file": {
            "type": "object",
            "propertyNames": KEY,
            "additionalProperties": {"type": "array", "items": TEST_ID, "maxItems": MAX_IDS_PER_KEY},
            "maxProperties": MAX_KEYS_PER_REQUEST,
        },
        "total_test_count": COUNT,
        "passed_test_count": COUNT,
        "failed_test_count": COUNT,
        "skipped_test_count": COUNT,
        "skipped_by_cache_test_count": COUNT,
    },
    "required": ["passed_node_ids_per_test_file"],
    "additionalProperties": False,
}
EMPTY = {"type": "object", "additionalProperties": False}

ENTRY = {
    "type": "object",
    "properties": {
        "test_count": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_IDS_PER_KEY},
        "tests": {
            "type": "object",
            "propertyNames": TEST_ID,
            "additionalProperties": SECONDS,
            "maxProperties": MAX_IDS_PER_KEY,
        },
        "skipped": {
            "type": "array",
            "items": TEST_ID,
            "maxItems": MAX_IDS_PER_KEY,
            "description": "tests skipped for a reason the key decides",
        },
        "tag": {
            "anyOf": [{"type": "string", "pattern": "^[0-9a-f]{32}$"}, {"type": "null"}],
            "description": "keyed MAC over test_count, tests and skipped (see dryci.protocol.entry_tag)",
        },
    },
    "additionalProperties": False,
}
TEXT = {"type": ["string", "null"], "maxLength": MAX_PROVENANCE_CHARS}
V2_QUERY = {
    "type": "object",
    "properties": {"keys": {"type": "array", "items": KEY, "maxItems": MAX_KEYS_PER_REQUEST}},
    "required": ["keys"],
    "additionalProperties": False,
}
V2_QUERY_RESPONSE = {
    "type": "object",
    "properties": {"entries": {"type": "array", "items": ENTRY}},
    "required": ["entries"],
}
PROVENANCE = {
    "type": ["object", "null"],
    "properties": {"branch": TEXT, "commit": TEXT, "run_url": TEXT},
    "additionalProperties": False,
}
V2_PUBLISH = {
    "type": "object",
    "properties": {
        "entries": {
            "type": "object",
            "propertyNames": KEY,
            "additionalProperties": ENTRY,
            "maxProperties": MAX_KEYS_PER_REQUEST,
        },
        "provenance": PROVENANCE,
        "stats": {
            "type": ["object", "null"],
            "properties": {
                "total": COUNT,
                "passed": COUNT,
                "failed": COUNT,
                "skipped": COUNT,
                "skipped_by_cache": COUNT,
                "seconds_saved": SECONDS,
            },
            "additionalProperties": False,
        },
    },
    "required": ["entries"],
    "additionalProperties": False,
}
V2_PUBLISH_RESPONSE = {"type": "object", "properties": {"stored": COUNT}, "required": ["stored"]}
RUNS_RESPONSE = {
    "type": "object",
    "properties": {"may_publish": {"type": "boolean", "description": "the token may publish results"}},
    "required": ["may_publish"],
}
RUNS = {
    "type": "object",
    "description": "one run's usage; tests_run + tests_skipped <= tests_total; would_skip and "
    "missed_failures only when shadow is true, missed_failures <= would_skip <= tests_total",
    "properties": {
        "level": {"type": "string", "enum": ["file", "function"]},
        "tests_total": COUNT,
        "tests_run": COUNT,
        "tests_skipped": COUNT,
        "seconds_run": SECONDS,
        "seconds_saved": SECONDS,
        "shadow": {"type": "boolean"},
        "would_skip": COUNT,
        "missed_failures": COUNT,
        "provenance": PROVENANCE,
    },
    "required": ["level", "tests_total", "tests_run", "tests_skipped", "seconds_run", "seconds_saved"],
    "additionalProperties": False,
}

HEX32 = {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "snapshot or facts id"}
B64 = {"type": "string", "contentEncoding": "base64", "maxLength": (MAX_OBJECT_BYTES + 2) // 3 * 4}
RECORD_KEY = {**KEY, "description": "record key of a test file (function level)"}
RECORDS_NAMES = {
    "records": {"type": "array", "items": RECORD_KEY, "maxItems": MAX_KEYS_PER_REQUEST},
    "snapshots": {"type": "array", "items": HEX32, "maxItems": MAX_KEYS_PER_REQUEST},
    "facts": {"type": "array", "items": HEX32, "maxItems": MAX_KEYS_PER_REQUEST},
}
RECORDS_OBJECTS = {
    "records": {
        "type": "object",
        "propertyNames": RECORD_KEY,
        "additionalProperties": {**B64, "description": "a DRR1 record (dryci.protocol.records)"},
    },
    "snapshots": {
        "type": "object",
        "propertyNames": HEX32,
        "additionalProperties": {**B64, "description": "a DRS1 snapshot, stored under the hash of its bytes"},
    },
    "facts": {
        "type": "object",
        "propertyNames": HEX32,
        "additionalProperties": {**B64, "description": "DRF1 closure facts"},
    },
}
RECORDS_QUERY = {"type": "object", "properties": RECORDS_NAMES, "additionalProperties": False}
RECORDS_QUERY_RESPONSE = {
    "type": "object",
    "properties": {
        **RECORDS_OBJECTS,
        "more": {
            "type": "object",
            "properties": RECORDS_NAMES,
            "description": "names left out to stay under 8 MiB: ask again",
        },
    },
    "required": ["records", "snapshots", "facts"],
}
RECORDS_PUBLISH = {
    "type": "object",
    "properties": {**RECORDS_OBJECTS, "provenance": PROVENANCE},
    "additionalProperties": False,
}


def body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body the handler reads itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def responses(ok: dict[str, Any], *codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        401: "missing, unknown, expired or revoked token",
        403: "the token's scope does not allow this",
        413: "body larger than 8 MiB",
        422: "malformed body; `field` names where",
        429: "rate limit; see Retry-After",
        503: "database unavailable",
    }
    out: dict[int | str, dict[str, Any]] = {
        200: {"description": "OK", "content": {"application/json": {"schema": ok}}}
    }
    for code in codes:
        out[code] = {"description": described[code], "content": {"application/json": {"schema": ERROR}}}
    return out
