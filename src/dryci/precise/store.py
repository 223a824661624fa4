"""Where precise manifests live: one JSON file per test-file identity key, replaced atomically.

Only the controller process writes (xdist workers never do); readers see either the old or the new
file, never half of one. Anything unreadable is "no manifest": the tests simply run.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from dryci.exceptions import ProtocolError, StoreUnavailable
from dryci.precise.manifest import PreciseManifest, decode_manifest

__all__ = ["LocalManifestStore", "ManifestStore"]

_KEY = re.compile(r"[0-9a-f]{64}")


class ManifestStore(Protocol):
    def get(self, key: str) -> PreciseManifest | None:
        """The manifest stored under ``key``, or None (never stored, or unreadable)."""
        ...

    def put(self, key: str, manifest: PreciseManifest) -> None:
        """Store ``manifest`` under ``key``; :class:`StoreUnavailable` if it cannot."""
        ...

    def get_many(self, keys: Iterable[str]) -> dict[str, PreciseManifest]:
        """The manifests stored under ``keys``; keys without a (readable) manifest are left out."""
        ...

    def put_many(self, manifests: Mapping[str, PreciseManifest]) -> None:
        """Store each manifest under its key (replacing the one before); StoreUnavailable if it cannot."""
        ...


def _checked(key: str) -> str:
    if _KEY.fullmatch(key) is None:
        raise ValueError(f"a manifest key is 64 lowercase hex characters, got {key!r:.80}")
    return key


class LocalManifestStore:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def get(self, key: str) -> PreciseManifest | None:
        try:
            text = (self.directory / f"{_checked(key)}.json").read_text(encoding="utf-8")
            return decode_manifest(json.loads(text))
        except (OSError, ValueError, ProtocolError):
            return None  # never stored, or damaged: the tests run, which writes it again

    def get_many(self, keys: Iterable[str]) -> dict[str, PreciseManifest]:
        found = {key: self.get(key) for key in keys}
        return {key: manifest for key, manifest in found.items() if manifest is not None}

    def put_many(self, manifests: Mapping[str, PreciseManifest]) -> None:
        for key, manifest in manifests.items():
            self.put(key, manifest)

    def put(self, key: str, manifest: PreciseManifest) -> None:
        target = self.directory / f"{_checked(key)}.json"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".manifest-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(manifest.to_json(), handle, separators=(",", ":"))
                os.replace(temporary, target)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            raise StoreUnavailable(f"cannot write precise manifest {target}: {exc.strerror or exc}") from exc
