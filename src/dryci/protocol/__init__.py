"""The wire protocol shared by the remote store (client) and the server.

Version 1 is exactly the protocol of pytest-dryci 0.1.x::

    POST /api/v1/query-passed  {"test_file_hashes": [KEY, ...]}
                            -> {"node_ids": [[ID, ...], ...]}          one list per KEY, in order
    POST /api/v1/publish       {"passed_node_ids_per_test_file": {KEY: [ID, ...]},
                                "total_test_count": n, "passed_test_count": n, "failed_test_count": n,
                                "skipped_test_count": n, "skipped_by_cache_test_count": n}   (counts optional)
                            -> {}

Version 2 adds what the plugin needs beyond v1: a duration per test (for "time saved") and, per
KEY, how many tests the test file produced, the tests it skipped, and a tag that lets a reader check
that claim (for the collection shortcut), plus provenance::

    POST /api/v2/query         {"keys": [KEY, ...]}
                            -> {"entries": [ENTRY, ...]}                       one per KEY, in order
    POST /api/v2/publish       {"entries": {KEY: ENTRY},
                                "provenance": {"branch": s, "commit": s, "run_url": s},   (optional)
                                "stats": {"total": n, "passed": n, "failed": n, "skipped": n,
                                          "skipped_by_cache": n, "seconds_saved": x}}     (optional)
                            -> {"stored": n}

    ENTRY = {"test_count": n | null, "tests": {ID: seconds}, "skipped": [ID, ...], "tag": TAG | null}
            ("skipped" and "tag" are optional: entries of older clients have neither)

Every run also reports its usage, whatever its token may do: ``POST /api/v2/runs``
(``dryci.protocol.usage``).

KEY is the SHA-256 (64 lowercase hex) of a test file's dependency hash; ID is a 32-hex keyed hash of a
test's node id with the dependency hash as key. The server never learns file names, test names or the
dependency hash itself.

TAG (32 hex) is :func:`entry_tag`: a MAC over the test count, the passed ids and the skipped ids, keyed
with the dependency hash. The publisher attaches it only when every test of the file was collected and
passed or was skipped for a reason the key decides; the reader skips collecting the file only when the
tag it recomputes over what the server returned matches. Whoever does not hold the sources cannot
compute the dependency hash, so neither a server nor another token holder can forge "all passed": they
can only withhold entries, which costs time, never a false skip. Servers store ``skipped`` and ``tag``
together with ``test_count`` and replace the three on each publish that carries a ``test_count``.

This module is plain Python (no pydantic) because the plugin imports it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from dryci.exceptions import ProtocolError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_IDS_PER_KEY",
    "MAX_KEYS_PER_REQUEST",
    "FileEntry",
    "Provenance",
    "PublishRequest",
    "PublishStats",
    "QueryRequest",
    "check_object",
    "decode_provenance",
    "decode_v1_publish_request",
    "decode_v1_query_request",
    "decode_v1_query_response",
    "decode_v2_publish_request",
    "decode_v2_query_request",
    "decode_v2_query_response",
    "entry_tag",
    "hash_node_id",
    "is_key",
    "is_test_id",
    "key_for",
    "keyed_items",
]

KEY_RE = re.compile(r"[0-9a-f]{64}")
ID_RE = re.compile(r"[0-9a-f]{32}")
MAX_IDS_PER_KEY = 32_768
MAX_KEYS_PER_REQUEST = 4_096
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_PROVENANCE_CHARS = 512


def key_for(dependency_hash: str) -> str:
    """The key a server sees for a dependency hash: its SHA-256, so the hash itself stays secret."""
    return hashlib.sha256(b"dryci-key-v1\0" + dependency_hash.encode()).hexdigest()


def hash_node_id(dependency_hash: str, node_id: str) -> str:
    """A test's id on the wire: the node id keyed with the (secret) dependency hash, 32 hex chars."""
    return hmac.new(dependency_hash.encode(), node_id.encode(), hashlib.sha256).hexdigest()[:32]


def entry_tag(
    dependency_hash: str, test_count: int, passed: Iterable[str], skipped: Iterable[str] = ()
) -> str:
    """The MAC that makes an entry's "every test passed or was skipped" claim checkable (32 hex).

    Keyed with the dependency hash, so only someone holding the same sources can compute it; it covers
    the count and both id sets, so no id can be swapped, added or dropped without breaking it.
    """
    message = "\0".join(
        ("dryci-entry-v1", str(test_count), ",".join(sorted(passed)), ",".join(sorted(skipped)))
    )
    return hmac.new(dependency_hash.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def is_key(value: object) -> bool:
    return isinstance(value, str) and KEY_RE.fullmatch(value) is not None


def is_test_id(value: object) -> bool:
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


@dataclass(frozen=True)
class FileEntry:
    """What a store holds for one KEY: passed tests with durations, the file's test count, the tests
    it skipped, and the tag over those (see :func:`entry_tag`; None when the publisher gave none)."""

    tests: Mapping[str, float] = field(default_factory=dict)
    test_count: Optional[int] = None
    skipped: frozenset[str] = frozenset()
    tag: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"test_count": self.test_count, "tests": dict(self.tests)}
        if self.skipped:
            body["skipped"] = sorted(self.skipped)
        if self.tag is not None:
            body["tag"] = self.tag
        return body

    def verified(self, dependency_hash: str) -> bool:
        """True when the tag proves, under ``dependency_hash``, that every test of the file is here."""
        if self.tag is None or self.test_count is None or self.test_count <= 0:
            return False
        if len(self.tests) + len(self.skipped) != self.test_count or self.skipped & self.tests.keys():
            return False
        expected = entry_tag(dependency_hash, self.test_count, self.tests, self.skipped)
        return hmac.compare_digest(expected, self.tag)


@dataclass(frozen=True)
class Provenance:
    """Where a publish came from, when CI variables reveal it."""

    branch: Optional[str] = None
    commit: Optional[str] = None
    run_url: Optional[str] = None

    def to_json(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (("branch", self.branch), ("commit", self.commit), ("run_url", self.run_url))
            if v
        }


@dataclass(frozen=True)
class PublishStats:
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    skipped_by_cache: int = 0
    seconds_saved: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "skipped_by_cache": self.skipped_by_cache,
            "seconds_saved": self.seconds_saved,
        }

    def to_v1_counts(self) -> dict[str, int]:
        return {
            "total_test_count": self.total,
            "passed_test_count": self.passed,
            "failed_test_count": self.failed,
            "skipped_test_count": self.skipped,
            "skipped_by_cache_test_count": self.skipped_by_cache,
        }


def _ids(value: object, where: str) -> list[str]:
    if not isinstance(value, list):
        raise ProtocolError("expected a list of test ids", field=where)
    if len(value) > MAX_IDS_PER_KEY:
        raise ProtocolError(f"at most {MAX_IDS_PER_KEY} test ids per key", field=where)
    for i, item in enumerate(value):
        if not is_test_id(item):
            raise ProtocolError("expected a test id of 32 lowercase hex characters", field=f"{where}[{i}]")
    return value


def _duration(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError("expected a duration in seconds", field=where)
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ProtocolError("expected a finite, non-negative duration in seconds", field=where)
    return seconds


def decode_file_entry(value: object, where: str) -> FileEntry:
    """Validate one v2 ENTRY (see the module docstring)."""
    if not isinstance(value, dict):
        raise ProtocolError("expected an object with test_count and tests", field=where)
    unknown = set(value) - {"test_count", "tests", "skipped", "tag"}
    if unknown:
        raise ProtocolError(f"unknown field {sorted(unknown)[0]!r}", field=where)
    count = _integral(value.get("test_count"))
    if count is not None and (
        isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_IDS_PER_KEY
    ):
        raise ProtocolError(
            f"expected null or an integer from 0 to {MAX_IDS_PER_KEY}", field=f"{where}.test_count"
        )
    tests = value.get("tests", {})
    if not isinstance(tests, dict):
        raise ProtocolError("expected an object mapping test ids to seconds", field=f"{where}.tests")
    if len(tests) > MAX_IDS_PER_KEY:
        raise ProtocolError(f"at most {MAX_IDS_PER_KEY} test ids per key", field=f"{where}.tests")
    checked: dict[str, float] = {}
    for test_id, seconds in tests.items():
        if not is_test_id(test_id):
            raise ProtocolError("expected test ids of 32 lowercase hex characters", field=f"{where}.tests")
        checked[test_id] = _duration(seconds, f"{where}.tests.{test_id}")
    skipped = frozenset(_ids(value.get("skipped", []), f"{where}.skipped"))
    tag = value.get("tag")
    if tag is not None and not is_test_id(tag):
        raise ProtocolError("expected null or a tag of 32 lowercase hex characters", field=f"{where}.tag")
    return FileEntry(tests=checked, test_count=count, skipped=skipped, tag=tag)


def decode_v1_query_response(body: object, keys: Sequence[str]) -> list[FileEntry]:
    """Validate a v1 ``query-passed`` response for ``keys``; durations are unknown (0.0)."""
    if not isinstance(body, dict) or not isinstance(body.get("node_ids"), list):
        raise ProtocolError("expected an object with a node_ids list", field="node_ids")
    lists = body["node_ids"]
    if len(lists) != len(keys):
        raise ProtocolError(f"expected {len(keys)} lists, got {len(lists)}", field="node_ids")
    return [FileEntry(tests=dict.fromkeys(_ids(ids, f"node_ids[{i}]"), 0.0)) for i, ids in enumerate(lists)]


def decode_v2_query_response(body: object, keys: Sequence[str]) -> list[FileEntry]:
    """Validate a v2 ``query`` response for ``keys``."""
    if not isinstance(body, dict) or not isinstance(body.get("entries"), list):
        raise ProtocolError("expected an object with an entries list", field="entries")
    entries = body["entries"]
    if len(entries) != len(keys):
        raise ProtocolError(f"expected {len(keys)} entries, got {len(entries)}", field="entries")
    return [decode_file_entry(entry, f"entries[{i}]") for i, entry in enumerate(entries)]


# --- request side (the server validates with these; clients may use them to self-check) -------------


@dataclass(frozen=True)
class QueryRequest:
    """A validated query: the keys asked for, in order."""

    keys: tuple[str, ...]


@dataclass(frozen=True)
class PublishRequest:
    """A validated publish, v1 or v2: entries per key, provenance and run statistics."""

    entries: Mapping[str, FileEntry]
    provenance: Provenance = Provenance()
    stats: PublishStats = PublishStats()


V1_COUNT_FIELDS = {
    "total_test_count": "total",
    "passed_test_count": "passed",
    "failed_test_count": "failed",
    "skipped_test_count": "skipped",
    "skipped_by_cache_test_count": "skipped_by_cache",
}
MAX_COUNT = 2**53


def check_object(body: object, allowed: set[str], required: set[str], where: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ProtocolError("expected a JSON object", field=where)
    prefix = "" if where == "body" else f"{where}."
    for name in body:
        if name not in allowed:
            expected = ", ".join(sorted(allowed))
            raise ProtocolError(f"unknown field (expected one of {expected})", field=f"{prefix}{name}")
    for name in sorted(required):
        if name not in body:
            raise ProtocolError("missing required field", field=f"{prefix}{name}")
    return body


def _keys(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ProtocolError("expected a list of keys", field=where)
    if len(value) > MAX_KEYS_PER_REQUEST:
        raise ProtocolError(f"at most {MAX_KEYS_PER_REQUEST} keys per request", field=where)
    for i, item in enumerate(value):
        if not is_key(item):
            raise ProtocolError("expected a key of 64 lowercase hex characters", field=f"{where}[{i}]")
    return tuple(value)


def keyed_items(value: object, where: str, values: str) -> Iterator[tuple[str, Any]]:
    """The items of an object of at most MAX_KEYS_PER_REQUEST keys, each key checked as it is reached."""
    if not isinstance(value, dict):
        raise ProtocolError(f"expected an object mapping keys to {values}", field=where)
    if len(value) > MAX_KEYS_PER_REQUEST:
        raise ProtocolError(f"at most {MAX_KEYS_PER_REQUEST} keys per request", field=where)
    for key, item in value.items():
        if not is_key(key):
            raise ProtocolError("expected keys of 64 lowercase hex characters", field=where)
        yield key, item


def _integral(value: object) -> object:
    """567.0 is the integer 567, as JSON Schema says (and some JSON encoders write it)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _count(value: object, where: str) -> int:
    value = _integral(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ProtocolError(f"expected an integer from 0 to {MAX_COUNT}", field=where)
    return value


def _text(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_PROVENANCE_CHARS:
        raise ProtocolError(f"expected a string of at most {MAX_PROVENANCE_CHARS} characters", field=where)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("string contains a lone surrogate", field=where) from None
    return value or None


def decode_provenance(value: object) -> Provenance:
    """The optional ``provenance`` object of a publish (absent or null: nothing known)."""
    if value is None:
        return Provenance()
    prov = check_object(value, {"branch", "commit", "run_url"}, set(), "provenance")
    return Provenance(**{name: _text(prov.get(name), f"provenance.{name}") for name in prov})


def decode_v1_query_request(body: object) -> QueryRequest:
    """Validate ``{"test_file_hashes": [KEY, ...]}``."""
    data = check_object(body, {"test_file_hashes"}, {"test_file_hashes"})
    return QueryRequest(keys=_keys(data["test_file_hashes"], "test_file_hashes"))


def decode_v1_publish_request(body: object) -> PublishRequest:
    """Validate a 0.1.x publish body; the counts are optional, durations unknown (0.0)."""
    where = "passed_node_ids_per_test_file"
    data = check_object(body, {where, *V1_COUNT_FIELDS}, {where})
    entries = {
        key: FileEntry(tests=dict.fromkeys(_ids(ids, f"{where}.{key}"), 0.0))
        for key, ids in keyed_items(data[where], where, "lists of test ids")
    }
    counts = {V1_COUNT_FIELDS[name]: _count(data[name], name) for name in V1_COUNT_FIELDS if name in data}
    return PublishRequest(entries=entries, stats=PublishStats(**counts))


def decode_v2_query_request(body: object) -> QueryRequest:
    """Validate ``{"keys": [KEY, ...]}``."""
    data = check_object(body, {"keys"}, {"keys"})
    return QueryRequest(keys=_keys(data["keys"], "keys"))


def decode_v2_publish_request(body: object) -> PublishRequest:
    """Validate a v2 publish body (entries, optional provenance and stats)."""
    data = check_object(body, {"entries", "provenance", "stats"}, {"entries"})
    entries = {
        key: decode_file_entry(raw, f"entries.{key}")
        for key, raw in keyed_items(data["entries"], "entries", "entries")
    }
    provenance = decode_provenance(data.get("provenance"))
    stats = PublishStats()
    if data.get("stats") is not None:
        names = {"total", "passed", "failed", "skipped", "skipped_by_cache", "seconds_saved"}
        raw_stats = check_object(data["stats"], names, set(), "stats")
        counts: dict[str, Any] = {
            name: _count(value, f"stats.{name}")
            for name, value in raw_stats.items()
            if name != "seconds_saved"
        }
        if "seconds_saved" in raw_stats:
            counts["seconds_saved"] = _duration(raw_stats["seconds_saved"], "stats.seconds_saved")
        stats = PublishStats(**counts)
    return PublishRequest(entries=entries, provenance=provenance, stats=stats)
