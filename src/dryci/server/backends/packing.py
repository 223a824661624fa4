"""Packed storage of one key's passed tests: sorted 16-byte ids and little-endian float64 durations.

One row per key instead of one per test keeps a 100-key query at 100 rows and a 1,000-id publish at
10 row writes. Merging is pure and unit-tested; the SQL only moves the two blobs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

from dryci.protocol import MAX_IDS_PER_KEY

ID_BYTES = 16


def pack(tests: Mapping[bytes, float]) -> tuple[bytes, bytes]:
    ordered = sorted(tests.items())
    return b"".join(k for k, _ in ordered), struct.pack(f"<{len(ordered)}d", *(v for _, v in ordered))


def unpack(ids: bytes, seconds: bytes) -> dict[str, float]:
    count = len(ids) // ID_BYTES
    durations = struct.unpack(f"<{count}d", seconds)
    hexed = ids.hex()
    width = ID_BYTES * 2
    return {hexed[i * width : (i + 1) * width]: durations[i] for i in range(count)}


def pack_ids(ids: Iterable[str]) -> bytes:
    """Hex ids as sorted 16-byte ids (an entry's skipped tests)."""
    return b"".join(sorted(bytes.fromhex(test_id) for test_id in ids))


def unpack_ids(ids: bytes) -> list[str]:
    """Only the hex ids of a packed entry (v1 answers need no durations)."""
    hexed = ids.hex()
    width = ID_BYTES * 2
    return [hexed[i : i + width] for i in range(0, len(hexed), width)]


def ids_json(ids: bytes) -> str:
    """A packed entry's ids as a JSON array (sorted, since the blob is): no per-id Python objects."""
    if not ids:
        return "[]"
    hexed = ids.hex()
    width = ID_BYTES * 2
    return '["' + '","'.join([hexed[i : i + width] for i in range(0, len(hexed), width)]) + '"]'


def merge(ids: bytes, seconds: bytes, new: Mapping[str, float]) -> tuple[bytes, bytes]:
    """Add ``new`` (hex id -> seconds) to a packed entry.

    A duration of 0.0 (v1 publishes carry none) never overwrites a known one. Past MAX_IDS_PER_KEY the
    oldest-known ids give way to the newly published ones.
    """
    count = len(ids) // ID_BYTES
    durations = struct.unpack(f"<{count}d", seconds)
    merged = {ids[i * ID_BYTES : (i + 1) * ID_BYTES]: durations[i] for i in range(count)}
    fresh: dict[bytes, float] = {}
    for test_id, secs in new.items():
        raw = bytes.fromhex(test_id)
        fresh[raw] = secs if secs > 0 or raw not in merged else merged[raw]
    if len(merged.keys() | fresh.keys()) > MAX_IDS_PER_KEY:
        keep = MAX_IDS_PER_KEY - len(fresh)
        merged = dict(list((k, v) for k, v in merged.items() if k not in fresh)[: max(0, keep)])
    merged.update(fresh)
    return pack(merged)
