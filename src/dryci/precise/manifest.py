"""The precise manifest of one test file's latest pass, with every name hashed.

A manifest holds, for every file in the test file's closure, its content hash and (for Python files)
the fingerprints of its module-level code and of each function body; and for every test that passed,
the units it executed. Paths, qualnames and node ids are keyed with a per-test-file *secret*, derived
from the test file's identity, so a server that stores manifests learns no names::

    {"version": 1, "salt": H, "files": {FILE: {"content": H, "module": H | null, "units": {UNIT: H}}},
     "shared": [UNIT, ...], "tests": {TEST: [UNIT, ...]}, "durations": {TEST: SECONDS}}

FILE, UNIT, TEST and H are 32 lowercase hex characters. ``shared`` units ran outside any test's call
phase on behalf of this test file's tests (its collection, its fixtures, imports it shares, and what the
run did for every file: see :mod:`dryci.precise.runtime`) and count as executed by every test.
``durations`` (optional: manifests written before it decode without it) holds each recorded test's
setup + call + teardown seconds, which a skip saves.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Union

from dryci.exceptions import AnalysisError, ProtocolError
from dryci.recording.units import MODULE, ModuleUnits, parse_units

__all__ = [
    "MANIFEST_VERSION",
    "Closure",
    "FileFact",
    "FileRecord",
    "PreciseManifest",
    "build_manifest",
    "decode_manifest",
    "facts_of",
    "file_fact",
    "file_units",
    "identity_key",
    "identity_secret",
    "keyed",
]

MANIFEST_VERSION = 1
_HEX32 = re.compile(r"[0-9a-f]{32}")


def identity_secret(identity: str) -> str:
    """The secret names are keyed with; derived from the identity differently from its key."""
    return hashlib.sha256(b"dryci-precise-secret-v1\0" + identity.encode()).hexdigest()


def identity_key(identity: str) -> str:
    """The lookup key a store sees for a test file's identity (64 hex; reveals neither it nor the secret)."""
    return hashlib.sha256(b"dryci-precise-key-v1\0" + identity.encode()).hexdigest()


def keyed(secret: str, kind: str, *parts: str) -> str:
    """A 32-hex keyed hash of ``parts``; ``kind`` keeps a path from ever equalling a node id.

    Keyed BLAKE2b (a MAC by design): one C call, since a run computes it for every closure file of
    every test file.
    """
    message = "\0".join((kind, *parts)).encode()
    return hashlib.blake2b(message, key=secret.encode()[:64], digest_size=16).hexdigest()


def is_python(path: str) -> bool:
    return PurePosixPath(path).suffix == ".py"


def file_units(path: str, content: bytes) -> ModuleUnits | None:
    """The units of a closure file; None for a non-Python file or one that does not parse."""
    if not is_python(path):
        return None
    try:
        return parse_units(content, path)
    except AnalysisError:
        return None


@dataclass(frozen=True)
class FileFact:
    """One closure file as it is now: its content digest and (parsed on first use) its units."""

    path: str
    content: bytes = field(repr=False)
    digest: str

    @functools.cached_property
    def units(self) -> ModuleUnits | None:
        return file_units(self.path, self.content)


def file_fact(path: str, content: bytes) -> FileFact:
    return FileFact(path, content, hashlib.sha256(content).hexdigest())


Closure = Mapping[str, Union[bytes, FileFact]]


def facts_of(closure: Closure) -> dict[str, FileFact]:
    """Path -> :class:`FileFact`; plain contents are hashed here (a run passes facts it reuses)."""
    return {p: c if isinstance(c, FileFact) else file_fact(p, c) for p, c in closure.items()}


@dataclass(frozen=True)
class FileRecord:
    content: str
    module: str | None  # None: not Python, or did not parse; any change re-runs every test
    units: Mapping[str, str]  # unit id -> fingerprint, for the units some test executed


@dataclass(frozen=True)
class PreciseManifest:
    salt: str
    files: Mapping[str, FileRecord]
    shared: frozenset[str]
    tests: Mapping[str, frozenset[str]]
    durations: Mapping[str, float] = field(default_factory=dict)  # test id -> seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "salt": self.salt,
            "files": {
                fid: {"content": r.content, "module": r.module, "units": dict(sorted(r.units.items()))}
                for fid, r in sorted(self.files.items())
            },
            "shared": sorted(self.shared),
            "tests": {tid: sorted(units) for tid, units in sorted(self.tests.items())},
            "durations": dict(sorted(self.durations.items())),
        }


def build_manifest(
    secret: str,
    salt: str,
    closure: Closure,
    shared: Iterable[tuple[str, str]],
    tests: Mapping[str, Iterable[tuple[str, str]]],
    carried: Iterable[str] = (),
    previous: PreciseManifest | None = None,
    durations: Mapping[str, float] | None = None,
) -> PreciseManifest:
    """The manifest of a pass: ``closure`` maps path -> content, units are ``(path, qualname)``.

    Units outside the closure are dropped (the dependency hash does not cover them either); a test
    that ran a function the closure's current source does not have (the file changed during the
    run) is left out, so it re-runs next time.

    ``carried`` test ids keep their record from ``previous``: precise mode found none of their
    units changed, so the record (and its fingerprints) still holds for this closure.
    ``durations`` maps node ids to seconds; a carried test keeps its previous duration.
    """
    facts = facts_of(closure)
    file_ids = {path: keyed(secret, "file", path) for path in facts}
    fingerprints: dict[str, dict[str, str]] = {fid: {} for fid in file_ids.values()}

    def ids(units: Iterable[tuple[str, str]]) -> frozenset[str] | None:
        out = set()
        for path, qualname in units:
            if path not in facts or qualname == MODULE:
                continue  # module-level code is covered by the file's module fingerprint
            parsed = facts[path].units
            fingerprint = parsed.fingerprints().get(qualname) if parsed is not None else None
            if fingerprint is None:
                return None
            uid = keyed(secret, "unit", path, qualname)
            fingerprints[file_ids[path]][uid] = keyed(secret, "fp", fingerprint)
            out.add(uid)
        return frozenset(out)

    shared_ids = ids(shared)
    recorded: dict[str, frozenset[str]] = {}
    if shared_ids is None:
        # Shared code that no longer matches the source: trust no test of this pass.
        shared_ids, tests, carried = frozenset(), {}, ()
    for node_id, units in tests.items():
        test_ids = ids(units)
        if test_ids is not None:
            recorded[keyed(secret, "test", node_id)] = test_ids - shared_ids
    seconds = {keyed(secret, "test", node_id): float(value) for node_id, value in (durations or {}).items()}
    if previous is not None:
        for test_id in carried:
            if test_id in recorded or test_id not in previous.tests:
                continue
            unit_ids = previous.tests[test_id] | previous.shared
            found = {
                uid: (fid, record.units[uid])
                for fid, record in previous.files.items()
                if fid in fingerprints
                for uid in unit_ids & record.units.keys()
            }
            if len(found) == len(unit_ids):
                for uid, (fid, fingerprint) in found.items():
                    fingerprints[fid][uid] = fingerprint
                recorded[test_id] = frozenset(unit_ids) - shared_ids
                if test_id in previous.durations:
                    seconds[test_id] = previous.durations[test_id]
    files = {}
    for path, fact in facts.items():
        parsed = fact.units
        files[file_ids[path]] = FileRecord(
            keyed(secret, "content", fact.digest),
            keyed(secret, "module", parsed.module_fingerprint) if parsed is not None else None,
            fingerprints[file_ids[path]],
        )
    kept = {tid: value for tid, value in seconds.items() if tid in recorded}
    return PreciseManifest(keyed(secret, "salt", salt), files, shared_ids, recorded, kept)


def _hex(value: object, where: str) -> str:
    if not isinstance(value, str) or _HEX32.fullmatch(value) is None:
        raise ProtocolError(f"expected 32 lowercase hex characters, got {value!r:.60}", field=where)
    return value


def _object(value: object, keys: set[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"expected an object, got {type(value).__name__}", field=where)
    if set(value) != keys:
        missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
        raise ProtocolError(f"expected keys {sorted(keys)} (missing {missing}, unknown {extra})", field=where)
    return value


def _ids(value: object, where: str) -> frozenset[str]:
    if not isinstance(value, list):
        raise ProtocolError(f"expected a list, got {type(value).__name__}", field=where)
    return frozenset(_hex(item, f"{where}[{i}]") for i, item in enumerate(value))


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"expected an object, got {type(value).__name__}", field=where)
    for key in value:
        _hex(key, f"{where} key")
    return value


def _seconds(value: object, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ProtocolError(f"expected a non-negative number of seconds, got {value!r:.60}", field=where)
    return float(value)


_REQUIRED = {"version", "salt", "files", "shared", "tests"}


def decode_manifest(body: object) -> PreciseManifest:
    """A manifest from its JSON form; :class:`ProtocolError` naming the field if anything is off."""
    optional = {"durations"} & set(body) if isinstance(body, dict) else set()
    top = _object(body, _REQUIRED | optional, "manifest")
    if top["version"] != MANIFEST_VERSION:
        raise ProtocolError(
            f"expected version {MANIFEST_VERSION}, got {top['version']!r:.20}", field="version"
        )
    files = {}
    for fid, raw in _mapping(top["files"], "files").items():
        rec = _object(raw, {"content", "module", "units"}, f"files.{fid}")
        module = None if rec["module"] is None else _hex(rec["module"], f"files.{fid}.module")
        units = {
            uid: _hex(fp, f"files.{fid}.units.{uid}")
            for uid, fp in _mapping(rec["units"], f"files.{fid}.units").items()
        }
        files[fid] = FileRecord(_hex(rec["content"], f"files.{fid}.content"), module, units)
    tests = {tid: _ids(units, f"tests.{tid}") for tid, units in _mapping(top["tests"], "tests").items()}
    durations = {
        tid: _seconds(value, f"durations.{tid}")
        for tid, value in _mapping(top.get("durations", {}), "durations").items()
    }
    return PreciseManifest(_hex(top["salt"], "salt"), files, _ids(top["shared"], "shared"), tests, durations)
