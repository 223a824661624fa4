"""The ResultStore Protocol: what every place results live in (local SQLite, remote server) offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from dryci.protocol import FileEntry, Provenance, PublishStats

__all__ = ["ResultStore"]


class ResultStore(Protocol):
    """Keys are ``dryci.protocol.key_for(dependency_hash)``; test ids are ``hash_node_id(...)``.

    Every failure of a store is raised as ``StoreUnavailable``; callers then run every test.
    """

    def query(self, keys: Sequence[str]) -> list[FileEntry]:
        """One entry per key, in order; an unknown key gives an empty ``FileEntry()``."""
        ...

    def publish(
        self,
        entries: Mapping[str, FileEntry],
        provenance: Provenance,
        stats: PublishStats,
    ) -> None:
        """Add the passed tests per key (ids are merged with what the key already has)."""
        ...

    def close(self) -> None: ...
