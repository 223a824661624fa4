"""Function-level records on the wire: the bodies of ``/api/v2/records/query`` and ``/records/publish``.

The binary forms of ``dryci.protocol.records`` travel as base64 inside JSON::

    POST /api/v2/records/query    {"records": [KEY, ...], "snapshots": [ID, ...], "facts": [ID, ...]}
                               -> {"records": {KEY: B64}, "snapshots": {ID: B64}, "facts": {ID: B64},
                                   "more": {"records": [KEY, ...], ...}}          ("more": optional)
    POST /api/v2/records/publish  {"records": {KEY: B64}, "snapshots": {ID: B64}, "facts": {ID: B64},
                                   "provenance": {...}}                      (every field optional)
                               -> {"stored": n}

KEY is a record key (64 hex), ID a snapshot or facts id (32 hex, the 16 bytes). A query names at most
MAX_KEYS_PER_REQUEST objects in all and its answer leaves out what the server does not have. Objects
that would take an answer past MAX_BODY_BYTES are listed under ``more``, for the client to ask again.

The server decodes every published object with the decoders of ``dryci.protocol.records`` (and checks
that a snapshot is stored under the hash of its bytes) before it stores it, so a reader never gets a
blob that does not parse; it cannot check a record's or a facts' content against sources it never
sees. One object is at most MAX_OBJECT_BYTES, so that its base64 fits any answer.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

from dryci.exceptions import ProtocolError
from dryci.protocol import (
    ID_RE,
    KEY_RE,
    MAX_BODY_BYTES,
    MAX_KEYS_PER_REQUEST,
    Provenance,
    check_object,
    decode_provenance,
)
from dryci.protocol.records import decode_facts, decode_record, decode_snapshot, snapshot_id

__all__ = [
    "KINDS",
    "MAX_OBJECT_BYTES",
    "RecordsAnswer",
    "RecordsPublish",
    "RecordsQuery",
    "answer_body",
    "decode_records_answer",
    "decode_records_publish",
    "decode_records_query",
    "publish_bodies",
]

KINDS = ("records", "snapshots", "facts")
MAX_OBJECT_BYTES = 4 * 1024 * 1024
_ENVELOPE = 256  # bytes of a body besides its objects: braces, names, provenance


def _id_pattern(kind: str) -> Any:
    return KEY_RE if kind == "records" else ID_RE


def _name(kind: str) -> str:
    return "a key of 64" if kind == "records" else "an id of 32"


def _names(kind: str) -> str:
    return "keys of 64" if kind == "records" else "ids of 32"


@dataclass(frozen=True)
class RecordsQuery:
    """What a client asks for, per kind (hex names, in the order asked)."""

    wanted: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class RecordsPublish:
    """Validated objects per kind (hex name -> binary form) and where they come from."""

    objects: Mapping[str, Mapping[str, bytes]]
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def count(self) -> int:
        return sum(len(found) for found in self.objects.values())


@dataclass(frozen=True)
class RecordsAnswer:
    found: dict[str, bytes]
    more: tuple[str, ...] = field(default=())


def decode_records_query(body: object) -> RecordsQuery:
    data = check_object(body, set(KINDS), set())
    wanted: dict[str, tuple[str, ...]] = {}
    total = 0
    for kind in KINDS:
        names = data.get(kind, [])
        if not isinstance(names, list):
            raise ProtocolError(f"expected a list of {kind} names", field=kind)
        total += len(names)
        if total > MAX_KEYS_PER_REQUEST:
            raise ProtocolError(f"at most {MAX_KEYS_PER_REQUEST} names per request", field=kind)
        for i, name in enumerate(names):
            if not isinstance(name, str) or _id_pattern(kind).fullmatch(name) is None:
                raise ProtocolError(f"expected {_name(kind)} lowercase hex characters", field=f"{kind}[{i}]")
        wanted[kind] = tuple(dict.fromkeys(names))
    return RecordsQuery(wanted)


def _blob(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError("expected a base64 string", field=where)
    if len(value) > (MAX_OBJECT_BYTES + 2) // 3 * 4:
        raise ProtocolError(f"larger than {MAX_OBJECT_BYTES} bytes", field=where)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("not valid base64", field=where) from None


def _check(kind: str, name: str, blob: bytes, where: str) -> None:
    try:
        if kind == "records":
            decode_record(blob)
        elif kind == "snapshots":
            decode_snapshot(blob)
        else:
            decode_facts(blob)
    except ProtocolError as exc:
        inner = exc.field.split(".", 1)[1] if exc.field and "." in exc.field else None
        raise ProtocolError(exc.message, field=where + (f".{inner}" if inner else "")) from None
    if kind == "snapshots" and snapshot_id(blob).hex() != name:
        raise ProtocolError("a snapshot must be stored under the hash of its bytes", field=where)


def decode_records_publish(body: object) -> RecordsPublish:
    """Validate a publish; the first object that does not fit names its kind and name."""
    data = check_object(body, {*KINDS, "provenance"}, set())
    objects: dict[str, dict[str, bytes]] = {}
    total = 0
    for kind in KINDS:
        raw = data.get(kind, {})
        if not isinstance(raw, dict):
            raise ProtocolError(f"expected an object mapping names to base64 {kind}", field=kind)
        total += len(raw)
        if total > MAX_KEYS_PER_REQUEST:
            raise ProtocolError(f"at most {MAX_KEYS_PER_REQUEST} objects per request", field=kind)
        found: dict[str, bytes] = {}
        for name, value in raw.items():
            if _id_pattern(kind).fullmatch(name) is None:
                raise ProtocolError(f"expected {_names(kind)} lowercase hex characters", field=kind)
            where = f"{kind}.{name}"
            blob = _blob(value, where)
            if len(blob) > MAX_OBJECT_BYTES:
                raise ProtocolError(f"larger than {MAX_OBJECT_BYTES} bytes", field=where)
            _check(kind, name, blob, where)
            found[name] = blob
        objects[kind] = found
    return RecordsPublish(objects, decode_provenance(data.get("provenance")))


def answer_body(found: Mapping[str, Mapping[str, bytes]], limit: int = MAX_BODY_BYTES) -> bytes:
    """The query answer, under ``limit`` bytes: what does not fit is named under ``more``."""
    parts: dict[str, list[str]] = {kind: [] for kind in KINDS}
    more: dict[str, list[str]] = {}
    size = _ENVELOPE
    for kind in KINDS:
        for name, blob in found.get(kind, {}).items():
            encoded = f'"{name}":"{base64.b64encode(blob).decode()}"'
            # Reserve room for this name in "more" too, should a later object not fit either.
            if size + len(encoded) + 1 + 70 * (sum(map(len, more.values())) + 1) > limit:
                more.setdefault(kind, []).append(name)
                continue
            parts[kind].append(encoded)
            size += len(encoded) + 1
    body = ",".join(f'"{kind}":{{{",".join(parts[kind])}}}' for kind in KINDS)
    tail = f',"more":{json.dumps(more, separators=(",", ":"))}' if more else ""
    return ("{" + body + tail + "}").encode()


def decode_records_answer(body: object, kind: str, asked: Sequence[str]) -> RecordsAnswer:
    """Objects of one kind in a query answer; only names that were asked, each decoded from base64."""
    if not isinstance(body, dict) or not isinstance(body.get(kind, {}), dict):
        raise ProtocolError(f"expected an object with a {kind} object", field=kind)
    wanted = set(asked)
    found: dict[str, bytes] = {}
    for name, value in body.get(kind, {}).items():
        if name not in wanted:
            raise ProtocolError("an object that was not asked for", field=f"{kind}.{name[:64]}")
        found[name] = _blob(value, f"{kind}.{name}")
    more = body.get("more", {})
    left = more.get(kind, []) if isinstance(more, dict) else None
    if not isinstance(left, list) or any(name not in wanted or name in found for name in left):
        raise ProtocolError("expected the names left out among those asked", field="more")
    return RecordsAnswer(found, tuple(left))


def publish_bodies(
    objects: Mapping[str, Mapping[bytes | str, bytes]],
    provenance: Provenance,
    limit: int = MAX_BODY_BYTES,
    skip: Callable[[str, str], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Publish bodies under ``limit`` bytes each, snapshots and facts before the records using them.

    Names may be bytes (ids) or hex strings (record keys). Objects larger than MAX_OBJECT_BYTES can
    not be stored: they are left out, and ``skip(kind, name)`` is told.
    """
    body: dict[str, Any] = {}
    size = _ENVELOPE
    count = 0
    for kind in ("snapshots", "facts", "records"):
        for name, blob in objects.get(kind, {}).items():
            hexed = name.hex() if isinstance(name, bytes) else name
            if len(blob) > MAX_OBJECT_BYTES:
                if skip is not None:
                    skip(kind, hexed)
                continue
            encoded = base64.b64encode(blob).decode()
            cost = len(hexed) + len(encoded) + 8
            if body and (size + cost > limit or count >= MAX_KEYS_PER_REQUEST):
                yield _with(body, provenance)
                body, size, count = {}, _ENVELOPE, 0
            body.setdefault(kind, {})[hexed] = encoded
            size += cost
            count += 1
    if body:
        yield _with(body, provenance)


def _with(body: dict[str, Any], provenance: Provenance) -> dict[str, Any]:
    if provenance.to_json():
        body["provenance"] = provenance.to_json()
    return body
