"""The store Protocols: what every place results and records live in (local SQLite, a server) offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from dryci.protocol import FileEntry, Provenance, PublishStats
from dryci.protocol.usage import RunUsage

__all__ = ["RecordStore", "ResultStore", "Store"]


class ResultStore(Protocol):
    """File level. Keys are ``dryci.protocol.key_for(dependency_hash)``; test ids ``hash_node_id(...)``.

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

    def report_run(self, usage: RunUsage) -> bool | None:
        """Tell the store how this run went (once per run, any token); returns whether this run may
        publish, or None when the store does not say."""
        ...

    @property
    def breaker_open(self) -> bool:
        """True once the store failed in a way that makes asking it again this session pointless."""
        ...

    def close(self) -> None: ...


class RecordStore(Protocol):
    """Function level: records by key, snapshots and facts by id (see ``dryci.protocol.records``).

    Lookups leave out what the store does not have (or cannot read); failures raise
    ``StoreUnavailable``.
    """

    def records(self, keys: Sequence[str]) -> dict[str, bytes]: ...

    def snapshots(self, ids: Sequence[bytes]) -> dict[bytes, bytes]: ...

    def facts(self, ids: Sequence[bytes]) -> dict[bytes, bytes]: ...

    def save_records(
        self,
        records: Mapping[str, bytes],
        snapshots: Mapping[bytes, bytes],
        facts: Mapping[bytes, bytes],
    ) -> None:
        """Replace the records of their keys; snapshots and facts are content-addressed."""
        ...


class Store(ResultStore, RecordStore, Protocol):
    """Both levels in one place."""
