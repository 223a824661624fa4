"""Packed per-key storage: merge keeps ids, known durations, and the per-key cap."""

from __future__ import annotations

from dryci.protocol import MAX_IDS_PER_KEY
from dryci.server.backends.packing import ids_json, merge, pack, unpack


def test_merge_adds_ids_and_a_zero_duration_never_hides_a_known_one() -> None:
    ids, seconds = merge(b"", b"", {"0" * 32: 1.5, "f" * 32: 0.0})
    ids, seconds = merge(ids, seconds, {"0" * 32: 0.0, "a" * 32: 2.0})
    assert unpack(ids, seconds) == {"0" * 32: 1.5, "a" * 32: 2.0, "f" * 32: 0.0}
    assert list(unpack(ids, seconds)) == sorted(unpack(ids, seconds))


def test_a_new_duration_replaces_the_old_one() -> None:
    ids, seconds = merge(*pack({bytes(16): 1.0}), {"0" * 32: 3.0})
    assert unpack(ids, seconds) == {"0" * 32: 3.0}


def test_past_the_cap_old_ids_give_way_to_new_ones() -> None:
    old = {i.to_bytes(16, "big"): 1.0 for i in range(MAX_IDS_PER_KEY)}
    new = {(10**9 + i).to_bytes(16, "big").hex(): 2.0 for i in range(10)}
    merged = unpack(*merge(*pack(old), new))
    assert len(merged) == MAX_IDS_PER_KEY
    assert set(new) <= set(merged)


def test_ids_json_is_the_sorted_json_array_of_the_packed_ids() -> None:
    import json

    ids, _ = pack({bytes([2]) * 16: 1.0, bytes([1]) * 16: 2.0})
    assert json.loads(ids_json(ids)) == ["01" * 16, "02" * 16]
    assert ids_json(b"") == "[]"
