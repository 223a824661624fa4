"""The keyed names of function-level selection: every path, qualified name, node id and digest that a
record, snapshot or facts object holds is a 16-byte keyed BLAKE2b of it, so a store learns no names.

The key comes from the config *identity* (analyzer version, environment salt, config file): every
machine with the same config and environment computes the same ids, so records can be shared. A
record is found under a key derived from the identity and the test file's path, never from its
dependency hash: it must be found again after the closure changed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Keys", "make_keys"]


@dataclass(frozen=True)
class Keys:
    identity: str  # hex digest of the config identity
    salt: bytes  # keyed identity + global dependencies: a change re-runs every test
    _secret: bytes = field(repr=False, default=b"")

    @classmethod
    def of(cls, identity: str, global_digests: Mapping[str, str] | None = None) -> Keys:
        secret = hashlib.blake2b(b"dryci-keys-v2\0" + identity.encode(), digest_size=32).digest()
        keys = cls(identity, b"", secret)
        digests = sorted((global_digests or {}).items())
        globals_part = "\n".join(f"{path}\0{digest}" for path, digest in digests)
        return cls(identity, keys._mac("salt", globals_part), secret)

    def dump(self) -> list[str]:
        """For xdist workers (the same machine and run): everything needed to compute the same ids."""
        return [self.identity, self.salt.hex(), self._secret.hex()]

    @classmethod
    def load(cls, raw: list[str]) -> Keys:
        identity, salt, secret = raw
        return cls(identity, bytes.fromhex(salt), bytes.fromhex(secret))

    def _mac(self, kind: str, *parts: str) -> bytes:
        message = "\0".join((kind, *parts)).encode("utf-8", "surrogateescape")
        return hashlib.blake2b(message, key=self._secret, digest_size=16).digest()

    def file_salt(self, distributions: str) -> bytes:
        """The salt of one test file's record: the identity's, and the digest of the distributions its
        closure imports, so an upgrade of one makes that file's record unusable (every test re-runs)."""
        if not distributions:
            return self.salt
        return self._mac("file-salt", self.salt.hex(), distributions)

    def record_key(self, test_path: str) -> str:
        """The 64-hex key a store keeps a test file's record under."""
        return hashlib.sha256(f"dryci-record-v3\0{self.identity}\0{test_path}".encode()).hexdigest()

    def file(self, path: str) -> bytes:
        return self._mac("file", path)

    def content(self, digest: str) -> bytes:
        # "content2": facts of version 2 (with names and statements) are stored under other ids than
        # an older DryCI's version 1 facts of the same content, which never get rewritten.
        return self._mac("content2", digest)

    def unit(self, path: str, qualname: str) -> bytes:
        return self.unit_of(self.file(path), self.name(qualname))

    def unit_of(self, file_id: bytes, name_id: bytes) -> bytes:
        """A unit's id from the ids a snapshot and facts hold, so facts lead to records."""
        return self._mac("unit2", file_id.hex(), name_id.hex())

    def name(self, qualname: str) -> bytes:
        return self._mac("name", qualname)

    def short(self, name: str) -> int:
        """A name a function refers to or a statement binds, as a 4-byte keyed hash."""
        return _short(self._secret, name)

    def fingerprint(self, fingerprint: str) -> bytes:
        return self._mac("fp", fingerprint)

    def test(self, node_id: str) -> bytes:
        return self._mac("test", node_id)

    def closure(self, paths: Iterable[str]) -> bytes:
        """One id for the set of paths in a closure: equal ids, equal sets."""
        return self._mac("closure", *sorted(paths))


@functools.lru_cache(maxsize=1 << 16)
def _short(secret: bytes, name: str) -> int:
    digest = hashlib.blake2b(
        name.encode("utf-8", "surrogateescape"), key=secret, digest_size=4, person=b"short"
    ).digest()
    return int.from_bytes(digest, "little")


def make_keys(
    config_file: Path | None, config_text: str, environment_salt: str, global_digests: Mapping[str, str]
) -> Keys:
    """``config_text`` stands for an inferred config (no file); a config file counts by its content."""
    from dryci.dagger import ALGORITHM_VERSION

    if config_file is not None and config_file.is_file():
        config_digest = hashlib.sha256(config_file.read_bytes()).hexdigest()
    else:
        config_digest = hashlib.sha256(config_text.encode()).hexdigest()
    parts = f"{ALGORITHM_VERSION}\0{environment_salt}\0{config_digest}"
    identity = hashlib.sha256(parts.encode()).hexdigest()
    return Keys.of(identity, global_digests)
