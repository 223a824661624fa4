"""Function-level records on the wire and on disk: compact binary forms, shared by client and server.

Three kinds of object, every name in them a 16-byte keyed hash (see ``dryci.selection.keys``):

- a **record** (one per test file, stored under a 64-hex key): the test file's tests, the units (function
  bodies) each of them executed, the tests that were skipped for a reason the key decides, and which
  *snapshot* of the closure it was recorded against;
- a **snapshot** (content-addressed): the content id of every file some record of a run covered;
- **facts** (one per file content, addressed by its content id): the fingerprints of the content's
  module-level code and of each function body.

A run decides a test file from its record without importing it: the files whose content id differs
from the record's snapshot changed; only their facts (old) and source (new) are compared, and only
the units found changed are looked up in the record's unit table (one ``bytes.find`` each).

Layouts (little endian; ``u32``/``u16``/``f64``)::

    record   b"DRR1" salt[16] snapshot[16] closure[16] count:u32 (0xFFFFFFFF: unknown)
             n_tests:u32 n_units:u32 n_skipped:u32 n_postings:u32
             tests[n_tests][16] seconds[n_tests]:f64 units[n_units][16]
             offsets[n_units + 1]:u32 postings[n_postings]:u16 skipped[n_skipped][16]
    snapshot b"DRS1" n:u32 (file[16] content[16])[n]            sorted by file, no file twice
    facts    see ``dryci.protocol.facts``

In a record, the postings of unit ``i`` are ``postings[offsets[i]:offsets[i + 1]]``: the indices of
the tests that executed it, or ``SHARED`` when it ran for every test of the file (its collection,
fixtures, imports). Facts of ``kind`` 0 stand for a file whose changes can not be narrowed to
functions (not Python, or not parsable): any change re-runs every test that has it in its closure.

Every decoder checks sizes, offsets and indices and raises :class:`ProtocolError` naming the field,
so a hostile blob can neither crash a reader nor make it read out of bounds.
"""

from __future__ import annotations

import hashlib
import math
import struct
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dryci.exceptions import ProtocolError

__all__ = [
    "ID_BYTES",
    "MAX_RECORD_BYTES",
    "SHARED",
    "Facts",
    "RecordView",
    "Snapshot",
    "StatementFacts",
    "decode_facts",
    "decode_record",
    "decode_snapshot",
    "encode_facts",
    "encode_record",
    "encode_snapshot",
    "snapshot_id",
]

ID_BYTES = 16
SHARED = 0xFFFF  # a posting that means "every test of the file"
MAX_TESTS = SHARED - 1
MAX_RECORD_BYTES = 8 * 1024 * 1024
_NONE = 0xFFFFFFFF
_RECORD = struct.Struct("<4s16s16s16sIIIII")
_COUNT = struct.Struct("<4sI")


def _little(kind: str) -> array:  # type: ignore[type-arg]
    values = array(kind)
    if values.itemsize != {"H": 2, "I": 4, "d": 8}[kind]:  # pragma: no cover - exotic platforms
        raise RuntimeError(f"array({kind!r}) has an unexpected item size")
    return values


_BIG_ENDIAN = struct.pack("=H", 1) != struct.pack("<H", 1)


def _array(kind: str, data: bytes | memoryview) -> array:  # type: ignore[type-arg]
    values = _little(kind)
    values.frombytes(data)
    if _BIG_ENDIAN:  # pragma: no cover - the formats are little endian everywhere
        values.byteswap()
    return values


def _bytes(values: array) -> bytes:  # type: ignore[type-arg]
    if _BIG_ENDIAN:  # pragma: no cover
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _ids(data: bytes | memoryview, count: int) -> tuple[bytes, ...]:
    raw = bytes(data)
    return tuple(raw[i * ID_BYTES : (i + 1) * ID_BYTES] for i in range(count))


def _check_id(value: bytes, where: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != ID_BYTES:
        raise ProtocolError(f"expected {ID_BYTES} bytes", field=where)
    return value


# -- records -----------------------------------------------------------------------------------------


def encode_record(
    *,
    salt: bytes,
    snapshot: bytes,
    closure: bytes,
    test_count: int | None,
    tests: Mapping[bytes, tuple[float, Iterable[bytes]]],
    shared: Iterable[bytes],
    skipped: Iterable[bytes] = (),
) -> bytes:
    """The binary record; ``tests`` maps test id -> (seconds, unit ids it executed)."""
    for name, value in (("salt", salt), ("snapshot", snapshot), ("closure", closure)):
        _check_id(value, name)
    test_ids = sorted(tests)
    if len(test_ids) > MAX_TESTS:
        raise ProtocolError(f"at most {MAX_TESTS} tests per record", field="tests")
    postings: dict[bytes, list[int]] = {}
    for index, test_id in enumerate(test_ids):
        for unit in tests[test_id][1]:
            postings.setdefault(_check_id(unit, "units"), []).append(index)
    for unit in shared:
        postings[_check_id(unit, "units")] = [SHARED]  # shared covers every test anyway
    units = sorted(postings)
    offsets = _little("I")
    flat = _little("H")
    offsets.append(0)
    for unit in units:
        flat.extend(sorted(set(postings[unit])))
        offsets.append(len(flat))
    skipped_ids = sorted(set(skipped) - set(test_ids))
    seconds = _little("d")
    seconds.extend(_seconds(tests[t][0], "seconds") for t in test_ids)
    count = _NONE if test_count is None else test_count
    header = _RECORD.pack(
        b"DRR1", salt, snapshot, closure, count, len(test_ids), len(units), len(skipped_ids), len(flat)
    )
    return b"".join(
        [
            header,
            *test_ids,
            _bytes(seconds),
            *units,
            _bytes(offsets),
            _bytes(flat),
            *(_check_id(s, "skipped") for s in skipped_ids),
        ]
    )


def _seconds(value: float, where: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise ProtocolError("expected a finite, non-negative duration", field=where)
    return float(value)


@dataclass(frozen=True)
class RecordView:
    """A decoded record that reads its postings only when asked (:func:`decode_record` checks it all)."""

    blob: bytes
    salt: bytes
    snapshot: bytes
    closure: bytes
    test_count: int | None
    tests: tuple[bytes, ...]
    seconds: tuple[float, ...]
    skipped: frozenset[bytes]
    _units_at: int
    _n_units: int
    _offsets: tuple[int, ...]
    _postings_at: int

    def find_unit(self, unit: bytes) -> int | None:
        """The index of ``unit`` in the unit table, or None (a C-speed scan of the table)."""
        start, end = self._units_at, self._units_at + self._n_units * ID_BYTES
        at = self.blob.find(unit, start, end)
        while at != -1:
            if (at - start) % ID_BYTES == 0:
                return (at - start) // ID_BYTES
            at = self.blob.find(unit, at + 1, end)
        return None

    def postings(self, index: int) -> tuple[int, ...]:
        """Indices of the tests that executed unit ``index`` (``SHARED``: every test)."""
        lo, hi = self._offsets[index], self._offsets[index + 1]
        raw = self.blob[self._postings_at + 2 * lo : self._postings_at + 2 * hi]
        return tuple(_array("H", raw))

    def units(self) -> tuple[bytes, ...]:
        return _ids(self.blob[self._units_at : self._units_at + self._n_units * ID_BYTES], self._n_units)

    def executed(self) -> tuple[frozenset[bytes], dict[bytes, frozenset[bytes]]]:
        """(shared units, test id -> the units it executed besides those): the whole record."""
        shared: set[bytes] = set()
        per_test: list[set[bytes]] = [set() for _ in self.tests]
        for index, unit in enumerate(self.units()):
            for posting in self.postings(index):
                if posting == SHARED:
                    shared.add(unit)
                else:
                    per_test[posting].add(unit)
        return frozenset(shared), {t: frozenset(u) for t, u in zip(self.tests, per_test)}


def decode_record(blob: bytes, *, check_postings: bool = True) -> RecordView:
    """A record from its binary form; :class:`ProtocolError` naming the part that does not fit.

    ``check_postings=False`` trusts the postings (a record this machine wrote and read back): the
    lazily read postings are then only range-checked where they are used.
    """
    if not isinstance(blob, bytes) or len(blob) < _RECORD.size:
        raise ProtocolError("too short for a record", field="record")
    if len(blob) > MAX_RECORD_BYTES:
        raise ProtocolError(f"larger than {MAX_RECORD_BYTES} bytes", field="record")
    magic, salt, snapshot, closure, count, n_tests, n_units, n_skipped, n_postings = _RECORD.unpack_from(blob)
    if magic != b"DRR1":
        raise ProtocolError("not a record (or a version this client does not know)", field="record")
    if n_tests > MAX_TESTS or (count != _NONE and count > MAX_TESTS):
        raise ProtocolError(f"at most {MAX_TESTS} tests per record", field="record.tests")
    at = _RECORD.size
    tests_at, seconds_at = at, at + n_tests * ID_BYTES
    units_at = seconds_at + n_tests * 8
    offsets_at = units_at + n_units * ID_BYTES
    postings_at = offsets_at + (n_units + 1) * 4
    skipped_at = postings_at + n_postings * 2
    if skipped_at + n_skipped * ID_BYTES != len(blob):
        raise ProtocolError("sizes in the header do not match the length", field="record")
    offsets = tuple(_array("I", blob[offsets_at:postings_at]))
    if offsets[0] != 0 or offsets[-1] != n_postings or any(a > b for a, b in zip(offsets, offsets[1:])):
        raise ProtocolError("unit offsets out of order or out of range", field="record.offsets")
    seconds = tuple(_array("d", blob[seconds_at:units_at]))
    for value in seconds:
        _seconds(value, "record.seconds")
    if check_postings and n_postings:
        named = [p for p in _array("H", blob[postings_at:skipped_at]) if p != SHARED]
        if named and max(named) >= n_tests:
            raise ProtocolError("a posting names a test the record does not have", field="record.postings")
    return RecordView(
        blob,
        salt,
        snapshot,
        closure,
        None if count == _NONE else count,
        _ids(blob[tests_at:seconds_at], n_tests),
        seconds,
        frozenset(_ids(blob[skipped_at:], n_skipped)),
        units_at,
        n_units,
        offsets,
        postings_at,
    )


# -- snapshots ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    contents: Mapping[bytes, bytes]  # file id -> content id


def encode_snapshot(contents: Mapping[bytes, bytes]) -> bytes:
    parts = [_COUNT.pack(b"DRS1", len(contents))]
    for file_id in sorted(contents):
        parts += [_check_id(file_id, "snapshot.file"), _check_id(contents[file_id], "snapshot.content")]
    return b"".join(parts)


def snapshot_id(blob: bytes) -> bytes:
    """A snapshot is stored under the hash of its bytes: anyone can check that the two belong together."""
    return hashlib.blake2b(blob, digest_size=ID_BYTES).digest()


def decode_snapshot(blob: bytes) -> Snapshot:
    if not isinstance(blob, bytes) or len(blob) < _COUNT.size:
        raise ProtocolError("too short for a snapshot", field="snapshot")
    magic, n = _COUNT.unpack_from(blob)
    if magic != b"DRS1" or len(blob) != _COUNT.size + n * 2 * ID_BYTES:
        raise ProtocolError("not a snapshot, or its length does not match its size", field="snapshot")
    raw = _ids(blob[_COUNT.size :], 2 * n)
    files = raw[0::2]
    if any(a >= b for a, b in zip(files, files[1:])):
        raise ProtocolError("files out of order or listed twice", field="snapshot")
    return Snapshot(dict(zip(files, raw[1::2])))


# -- facts: in dryci.protocol.facts, re-exported here ------------------------------------------------

from dryci.protocol.facts import Facts, StatementFacts, decode_facts, encode_facts  # noqa: E402
