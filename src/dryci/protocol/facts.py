"""Facts of one file content on the wire and on disk: what its functions and module-level code are.

Version 1 holds fingerprints only: the module-level code as one, and each function body. Version 2
adds what finer module-level decisions need (see ``dryci.selection.names``): for each function the
short names its body refers to and whether it reads names dynamically, and the module-level code
statement by statement, with the names each binds and refers to. Short names are 4-byte keyed
hashes: a collision can only make a test run that need not.

Layouts (little endian)::

    v1  b"DRF1" kind:u8 module[16] n:u32 (name[16] fingerprint[16])[n]              sorted by name
    v2  b"DRF2" kind:u8 module[16] n:u32 (name[16] fingerprint[16])[n]              sorted by name
        then, for each of the n functions in that order:
        dynamic:u8 nb:u32 na:u32 bare[nb]:u32 attrs[na]:u32
        then m:u32 and per statement, in module order:
        key[16] fingerprint[16] doc_free[16] unit[16] flags:u8 (1 safe, 2 plain_doc) nd:u32 nr:u32
        na:u32 defines[nd]:u32 refs[nr]:u32 attr_refs[na]:u32
        (unit: the keyed qualname a ``def`` defines, else zeros)

*Bare* names are a module's own globals (or locals, or words in comments); *attribute* names are
read off another object (``m.X``, ``self.x``, ``getattr(obj, "x")``, ``from m import X``).

Facts of ``kind`` 0 (written as v1) stand for a file that cannot be narrowed to functions.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from dryci.exceptions import ProtocolError

__all__ = ["NO_UNIT", "Facts", "StatementFacts", "decode_facts", "encode_facts"]

ID = 16
_HEAD = struct.Struct("<4sB16sI")
_UNIT = struct.Struct("<BII")
_COUNT = struct.Struct("<I")
_STATEMENT = struct.Struct("<16s16s16s16sBIII")
NO_UNIT = bytes(ID)


@dataclass(frozen=True)
class StatementFacts:
    key: bytes
    fingerprint: bytes
    doc_free: bytes
    safe: bool
    plain_doc: bool
    defines: frozenset[int]
    refs: frozenset[int]  # bare names
    unit: bytes = NO_UNIT  # keyed qualname of the function a ``def`` statement defines
    attr_refs: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Facts:
    """Fingerprints of one file content; ``units`` is None when it cannot be narrowed to functions.

    ``names``, ``dynamic`` and ``statements`` are None in version 1 facts (made by an older DryCI).
    """

    module: bytes
    units: Mapping[bytes, bytes] | None  # keyed qualname -> keyed fingerprint
    names: Optional[Mapping[bytes, frozenset[int]]] = None  # keyed qualname -> bare names used
    dynamic: Optional[frozenset[bytes]] = None  # keyed qualnames that read names by string
    statements: Optional[tuple[StatementFacts, ...]] = None
    attrs: Optional[Mapping[bytes, frozenset[int]]] = None  # keyed qualname -> attribute names used


def _check_id(value: bytes, where: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != ID:
        raise ProtocolError(f"expected {ID} bytes", field=where)
    return value


def _words(values: frozenset[int]) -> bytes:
    return struct.pack(f"<{len(values)}I", *sorted(values))


def encode_facts(facts: Facts) -> bytes:
    units = facts.units or {}
    kind = 0 if facts.units is None else 1
    v2 = kind == 1 and facts.names is not None and facts.statements is not None
    magic = b"DRF2" if v2 else b"DRF1"
    parts = [_HEAD.pack(magic, kind, _check_id(facts.module, "facts.module"), len(units))]
    order = sorted(units)
    for name in order:
        parts += [_check_id(name, "facts.name"), _check_id(units[name], "facts.fingerprint")]
    if not v2:
        return b"".join(parts)
    names = facts.names or {}
    attrs = facts.attrs or {}
    dynamic = facts.dynamic or frozenset()
    for name in order:
        used, read = names.get(name, frozenset()), attrs.get(name, frozenset())
        parts += [_UNIT.pack(name in dynamic, len(used), len(read)), _words(used), _words(read)]
    statements = facts.statements or ()
    parts.append(_COUNT.pack(len(statements)))
    for st in statements:
        flags = (1 if st.safe else 0) | (2 if st.plain_doc else 0)
        key = _check_id(st.key, "facts.statement.key")
        fingerprint = _check_id(st.fingerprint, "facts.statement.fingerprint")
        doc_free = _check_id(st.doc_free, "facts.statement.doc_free")
        parts += [
            _STATEMENT.pack(
                key,
                fingerprint,
                doc_free,
                _check_id(st.unit, "facts.statement.unit"),
                flags,
                len(st.defines),
                len(st.refs),
                len(st.attr_refs),
            ),
            _words(st.defines),
            _words(st.refs),
            _words(st.attr_refs),
        ]
    return b"".join(parts)


class _Reader:
    def __init__(self, blob: bytes, offset: int) -> None:
        self.blob = blob
        self.offset = offset

    def take(self, form: struct.Struct, where: str) -> tuple:  # type: ignore[type-arg]
        if self.offset + form.size > len(self.blob):
            raise ProtocolError("ends early", field=where)
        values = form.unpack_from(self.blob, self.offset)
        self.offset += form.size
        return values

    def words(self, count: int, where: str) -> frozenset[int]:
        end = self.offset + 4 * count
        if end > len(self.blob):
            raise ProtocolError("ends early", field=where)
        values = struct.unpack_from(f"<{count}I", self.blob, self.offset)
        self.offset = end
        return frozenset(values)


def decode_facts(blob: bytes) -> Facts:
    if not isinstance(blob, bytes) or len(blob) < _HEAD.size:
        raise ProtocolError("too short for facts", field="facts")
    magic, kind, module, n = _HEAD.unpack_from(blob)
    if magic not in (b"DRF1", b"DRF2") or kind not in (0, 1) or (magic == b"DRF2" and kind == 0):
        raise ProtocolError("not facts", field="facts")
    end = _HEAD.size + n * 2 * ID
    if len(blob) < end or (magic == b"DRF1" and len(blob) != end):
        raise ProtocolError("not facts, or the length does not match the size", field="facts")
    if kind == 0:
        if n:
            raise ProtocolError("opaque facts list no units", field="facts")
        return Facts(module, None)
    raw = blob[_HEAD.size : end]
    ids = [raw[i * ID : (i + 1) * ID] for i in range(2 * n)]
    order = ids[0::2]
    if any(a >= b for a, b in zip(order, order[1:])):
        raise ProtocolError("names out of order or listed twice", field="facts")
    units = dict(zip(order, ids[1::2]))
    if magic == b"DRF1":
        return Facts(module, units)
    reader = _Reader(blob, end)
    names: dict[bytes, frozenset[int]] = {}
    attrs: dict[bytes, frozenset[int]] = {}
    dynamic = set()
    for name in order:
        flag, count, read = reader.take(_UNIT, "facts.names")
        if flag not in (0, 1):
            raise ProtocolError("dynamic flag is neither 0 nor 1", field="facts.names")
        names[name] = reader.words(count, "facts.names")
        attrs[name] = reader.words(read, "facts.names")
        if flag:
            dynamic.add(name)
    (m,) = reader.take(_COUNT, "facts.statements")
    statements = []
    for _ in range(m):
        key, fingerprint, doc_free, unit, flags, nd, nr, na = reader.take(_STATEMENT, "facts.statements")
        if flags > 3:
            raise ProtocolError("unknown statement flags", field="facts.statements")
        defines = reader.words(nd, "facts.statements.defines")
        refs = reader.words(nr, "facts.statements.refs")
        attr_refs = reader.words(na, "facts.statements.attr_refs")
        statements.append(
            StatementFacts(
                key, fingerprint, doc_free, bool(flags & 1), bool(flags & 2), defines, refs, unit, attr_refs
            )
        )
    if reader.offset != len(blob):
        raise ProtocolError("trailing bytes", field="facts")
    return Facts(module, units, names, frozenset(dynamic), tuple(statements), attrs)
