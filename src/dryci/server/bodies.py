"""Request bodies: a typed msgspec decode first, then the strict JSON reading and protocol validation.

``json.loads`` builds the whole tree of a body before any field is checked, so an 8 MiB
``[{},{},...]`` (valid JSON, two bytes per object) cost hundreds of MB and, on the event loop, seconds.
Every body is therefore first decoded by msgspec into the typed structure of its route, with the
protocol's limits (key patterns, list and map sizes, ranges) as constraints: the wrong shape is
refused at the first byte that cannot fit, and nothing generic is built. Only a body that fits is
read again by ``jsonbody.loads_strict`` and ``dryci.protocol``, which add what msgspec cannot say
(duplicate keys, lone surrogates, exact messages). The typed shapes are never stricter than the
protocol: a body they refuse, the protocol refuses too.

A body the typed decode refuses is explained by the strict path when it is small (its messages name
the key and field exactly); a larger one gets msgspec's message, so that explaining a hostile body
never costs what refusing it saved.

Large bodies are decoded in worker threads, at most ``decode_slots`` at once (see ``handling.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

import msgspec

from dryci.exceptions import ProtocolError
from dryci.protocol import MAX_COUNT, MAX_IDS_PER_KEY, MAX_KEYS_PER_REQUEST, MAX_PROVENANCE_CHARS
from dryci.protocol.exchange import MAX_OBJECT_BYTES
from dryci.server.jsonbody import MAX_DEPTH, loads_strict

__all__ = ["EXPLAIN_BYTES", "INLINE_BYTES", "decode_body"]

INLINE_BYTES = 64 * 1024  # bodies up to this size decode where they are (microseconds)
EXPLAIN_BYTES = 1024 * 1024  # refused bodies up to this size are explained by the strict path

Key = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
Id = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{32}$")]
Keys = Annotated[list[Key], msgspec.Meta(max_length=MAX_KEYS_PER_REQUEST)]
Ids = Annotated[list[Id], msgspec.Meta(max_length=MAX_IDS_PER_KEY)]
# Counts are numbers here: the protocol takes 567.0 for 567 (JSON Schema's integer) and refuses 1.5.
Count = Annotated[float, msgspec.Meta(ge=0, le=MAX_COUNT)]
Seconds = Annotated[float, msgspec.Meta(ge=0)]
Text = Optional[Annotated[str, msgspec.Meta(max_length=MAX_PROVENANCE_CHARS)]]
Blob = Annotated[str, msgspec.Meta(max_length=(MAX_OBJECT_BYTES + 2) // 3 * 4)]


class _Shape(msgspec.Struct, forbid_unknown_fields=True):
    pass


class V1Query(_Shape):
    test_file_hashes: Keys


# Maps of keys hold their values raw and decode each one on its own, so that an error names the key.
Keyed = Annotated[dict[Key, msgspec.Raw], msgspec.Meta(max_length=MAX_KEYS_PER_REQUEST)]


class V1Publish(_Shape):
    passed_node_ids_per_test_file: Keyed
    total_test_count: Count = 0
    passed_test_count: Count = 0
    failed_test_count: Count = 0
    skipped_test_count: Count = 0
    skipped_by_cache_test_count: Count = 0


class V2Query(_Shape):
    keys: Keys


class Entry(_Shape):
    test_count: Optional[Annotated[float, msgspec.Meta(ge=0, le=MAX_IDS_PER_KEY)]] = None
    tests: Annotated[dict[Id, Seconds], msgspec.Meta(max_length=MAX_IDS_PER_KEY)] = {}
    skipped: Ids = []
    tag: Optional[Id] = None


class Provenance(_Shape):
    branch: Text = None
    commit: Text = None
    run_url: Text = None


class Stats(_Shape):
    total: Count = 0
    passed: Count = 0
    failed: Count = 0
    skipped: Count = 0
    skipped_by_cache: Count = 0
    seconds_saved: Seconds = 0.0


class V2Publish(_Shape):
    entries: Keyed
    provenance: Optional[Provenance] = None
    stats: Optional[Stats] = None


class RecordsQuery(_Shape):
    records: Keys = []
    snapshots: Annotated[list[Id], msgspec.Meta(max_length=MAX_KEYS_PER_REQUEST)] = []
    facts: Annotated[list[Id], msgspec.Meta(max_length=MAX_KEYS_PER_REQUEST)] = []


KeyedBlobs = Annotated[dict[Key, Blob], msgspec.Meta(max_length=MAX_KEYS_PER_REQUEST)]
IdBlobs = Annotated[dict[Id, Blob], msgspec.Meta(max_length=MAX_KEYS_PER_REQUEST)]


class RecordsPublish(_Shape):
    records: KeyedBlobs = {}
    snapshots: IdBlobs = {}
    facts: IdBlobs = {}
    provenance: Optional[Provenance] = None


class RunsReport(_Shape):
    level: Literal["file", "function"]
    tests_total: Count
    tests_run: Count
    tests_skipped: Count
    seconds_run: Seconds
    seconds_saved: Seconds
    shadow: bool = False
    would_skip: Count = 0
    missed_failures: Count = 0


# route -> (field whose raw values decode as, their decoder)
KEYED: dict[str, tuple[str, msgspec.json.Decoder[Any]]] = {
    "v1_publish": ("passed_node_ids_per_test_file", msgspec.json.Decoder(Ids)),
    "v2_publish": ("entries", msgspec.json.Decoder(Entry)),
}
DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    name: msgspec.json.Decoder(shape)
    for name, shape in (
        ("v1_query", V1Query),
        ("v1_publish", V1Publish),
        ("v2_query", V2Query),
        ("v2_publish", V2Publish),
        ("records_query", RecordsQuery),
        ("records_publish", RecordsPublish),
        ("v2_runs", RunsReport),
    )
}


def _field(message: str) -> tuple[str, str]:
    """msgspec's ``Expected ... - at `$.a[0].b``` as (detail, field)."""
    detail, sep, where = message.rpartition(" - at `")
    if not sep:
        return message, "body"
    path = where.rstrip("`")
    if path.startswith("key` in `"):  # "`key` in `$.entries`": a map key did not fit
        path = path[len("key` in `") :]
    path = path.removeprefix("$").removeprefix(".")
    return detail, path or "body"


class _Refused(Exception):
    def __init__(self, error: Exception, prefix: str = "") -> None:
        self.error, self.prefix = error, prefix


def _typed(route: str, raw: bytes | bytearray) -> None:
    try:
        _typed_shape(route, raw)
    except RecursionError:  # raw values are skipped by recursing into them: deep nesting ends here
        raise ProtocolError(f"JSON nested deeper than {MAX_DEPTH} levels", field="body") from None


def _typed_shape(route: str, raw: bytes | bytearray) -> None:
    try:
        shape = DECODERS[route].decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _Refused(exc) from None
    if route in KEYED:
        name, decoder = KEYED[route]
        for key, value in getattr(shape, name).items():
            try:
                decoder.decode(value)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise _Refused(exc, f"{name}.{key}") from None


def decode_body(route: str, raw: bytes | bytearray) -> Any:
    """The validated JSON value of a body for ``route``; ProtocolError naming where it does not fit."""
    try:
        _typed(route, raw)
    except _Refused as refused:
        exc, prefix = refused.error, refused.prefix
        if len(raw) <= EXPLAIN_BYTES:
            # Small enough to explain exactly: the strict reading names a JSON problem, and for JSON of
            # the wrong shape the route's protocol validator names the key and field.
            return loads_strict(raw)
        detail, where = _field(str(exc))
        if prefix:
            where = prefix if where == "body" else f"{prefix}{'' if where.startswith('[') else '.'}{where}"
        if not isinstance(exc, msgspec.ValidationError):  # (a ValidationError is a DecodeError too)
            detail = f"malformed JSON: {detail}"
        raise ProtocolError(detail[:1].lower() + detail[1:], field=where) from None
    return loads_strict(raw)
