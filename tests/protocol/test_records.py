"""The binary records, snapshots and facts: round trips, and hostile bytes rejected by name."""

from __future__ import annotations

import struct

import pytest

from dryci.exceptions import ProtocolError
from dryci.protocol.records import (
    SHARED,
    Facts,
    decode_facts,
    decode_record,
    decode_snapshot,
    encode_facts,
    encode_record,
    encode_snapshot,
    snapshot_id,
)


def ident(n: int) -> bytes:
    return n.to_bytes(16, "big")


T1, T2, U1, U2, U3 = ident(1), ident(2), ident(11), ident(12), ident(13)
SALT, SNAP, CLOSURE = ident(21), ident(22), ident(23)


def record(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "salt": SALT,
        "snapshot": SNAP,
        "closure": CLOSURE,
        "test_count": 3,
        "tests": {T1: (0.5, [U1, U2]), T2: (1.5, [U2])},
        "shared": [U3],
        "skipped": [ident(3)],
    }
    fields.update(overrides)
    return encode_record(**fields)  # type: ignore[arg-type]


def test_a_record_round_trips_with_its_postings() -> None:
    view = decode_record(record())
    assert (view.salt, view.snapshot, view.closure, view.test_count) == (SALT, SNAP, CLOSURE, 3)
    assert view.tests == (T1, T2) and view.seconds == (0.5, 1.5)
    assert view.skipped == frozenset({ident(3)})
    assert view.postings(view.find_unit(U1)) == (0,)  # type: ignore[arg-type]
    assert view.postings(view.find_unit(U2)) == (0, 1)  # type: ignore[arg-type]
    assert view.postings(view.find_unit(U3)) == (SHARED,)  # type: ignore[arg-type]
    assert view.executed() == (frozenset({U3}), {T1: frozenset({U1, U2}), T2: frozenset({U2})})


def test_a_unit_is_found_only_at_a_unit_boundary() -> None:
    # An id whose bytes straddle two unit ids in the table must not be taken for a unit.
    view = decode_record(record())
    straddling = (U1 + U2)[8:24]
    assert view.find_unit(straddling) is None
    assert view.find_unit(ident(99)) is None


def test_an_unknown_test_count_round_trips() -> None:
    assert decode_record(record(test_count=None)).test_count is None


@pytest.mark.parametrize(
    ("blob", "field"),
    [
        (b"", "record"),
        (b"XXXX" + record()[4:], "record"),
        (record()[:-1], "record"),
        (record() + b"\0", "record"),
    ],
    ids=["empty", "magic", "truncated", "trailing"],
)
def test_a_malformed_record_names_what_does_not_fit(blob: bytes, field: str) -> None:
    with pytest.raises(ProtocolError) as raised:
        decode_record(blob)
    assert raised.value.field == field


def test_offsets_out_of_order_are_rejected() -> None:
    blob = bytearray(record())
    header = struct.calcsize("<4s16s16s16sIIIII")
    n_tests, n_units = struct.unpack_from("<II", blob, header - 16)
    offsets_at = header + n_tests * 16 + n_tests * 8 + n_units * 16
    struct.pack_into("<I", blob, offsets_at + 4, 999)
    with pytest.raises(ProtocolError, match="offsets"):
        decode_record(bytes(blob))


def test_a_posting_naming_no_test_is_rejected() -> None:
    blob = bytearray(record())
    header = struct.calcsize("<4s16s16s16sIIIII")
    _, _, n_skipped, n_postings = struct.unpack_from("<IIII", blob, header - 16)
    postings_at = len(blob) - n_skipped * 16 - n_postings * 2
    struct.pack_into("<H", blob, postings_at, 7)
    with pytest.raises(ProtocolError, match="posting"):
        decode_record(bytes(blob))


def test_a_snapshot_round_trips_and_is_named_by_its_bytes() -> None:
    blob = encode_snapshot({ident(2): ident(20), ident(1): ident(10)})
    assert decode_snapshot(blob).contents == {ident(1): ident(10), ident(2): ident(20)}
    assert snapshot_id(blob) != snapshot_id(encode_snapshot({ident(1): ident(10)}))


def test_a_snapshot_listing_a_file_twice_is_rejected() -> None:
    blob = b"DRS1" + struct.pack("<I", 2) + ident(1) + ident(10) + ident(1) + ident(11)
    with pytest.raises(ProtocolError, match="twice"):
        decode_snapshot(blob)


def test_facts_round_trip_and_opaque_facts_list_no_units() -> None:
    facts = Facts(ident(5), {ident(6): ident(7)})
    assert decode_facts(encode_facts(facts)) == facts
    assert decode_facts(encode_facts(Facts(ident(5), None))) == Facts(ident(5), None)
    with pytest.raises(ProtocolError):
        decode_facts(encode_facts(facts)[:-1])


def test_facts_with_names_and_statements_round_trip() -> None:
    from dryci.protocol.facts import StatementFacts

    statement = StatementFacts(ident(8), ident(9), ident(10), True, False, frozenset({1, 2}), frozenset({3}))
    facts = Facts(
        ident(5),
        {ident(6): ident(7), ident(1): ident(2)},
        {ident(6): frozenset({4, 5}), ident(1): frozenset()},
        frozenset({ident(1)}),
        (statement, statement),
        {ident(6): frozenset({9}), ident(1): frozenset()},
    )
    blob = encode_facts(facts)
    assert blob.startswith(b"DRF2")
    assert decode_facts(blob) == facts


def test_facts_with_names_cut_short_or_padded_are_rejected_naming_the_field() -> None:
    from dryci.protocol.facts import StatementFacts

    statement = StatementFacts(ident(8), ident(9), ident(10), True, True, frozenset({1}), frozenset({3}))
    blob = encode_facts(
        Facts(ident(5), {ident(6): ident(7)}, {ident(6): frozenset({4})}, frozenset(), (statement,))
    )
    for cut in range(len(blob) - 40, len(blob)):
        with pytest.raises(ProtocolError, match="facts"):
            decode_facts(blob[:cut])
    with pytest.raises(ProtocolError, match="trailing"):
        decode_facts(blob + b"\0")
    flags_at = len(blob) - 4 - 4 - 4 - 4 - 4 - 1  # defines, refs and their three counts
    with pytest.raises(ProtocolError, match="flags"):
        decode_facts(blob[:flags_at] + b"\x09" + blob[flags_at + 1 :])
