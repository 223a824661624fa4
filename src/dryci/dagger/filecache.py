"""Per-file facts (content digest, imports, regex matches), remembered across runs.

An entry is reused while the file's (size, mtime_ns, inode) are unchanged, so a warm run reads no
unchanged file. The cache is a single pickle of plain tuples in ``cache_dir``; a missing, corrupt or
foreign cache is ignored (everything is recomputed), never an error. Entries for files modified within
the last second are not stored: their mtime may not yet tell a later edit apart ("racy" timestamps).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from dryci.dagger.imports import ImportScan, regex_scan, scan_imports

__all__ = ["CACHE_VERSION", "FileFacts", "default_cache_dir"]

CACHE_VERSION = 1
_CACHE_NAME = f"files-v{CACHE_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}.pickle"
_RACY_NS = 1_000_000_000
_PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")

# (size, mtime_ns, inode, digest, imports or None, {regex pattern: matches})
_Entry = tuple[int, int, int, str, Optional[ImportScan], dict[str, tuple[tuple[str, ...], ...]]]


def default_cache_dir(base_dir: Path) -> Path:
    """Where the CLI keeps the cache unless told otherwise: ``.repo_dagger_cache/`` under the base dir."""
    return Path(base_dir) / ".repo_dagger_cache"


class FileFacts:
    """Facts about the files below ``base_dir``; reads each file at most once per run."""

    def __init__(self, base_dir: Path, cache_dir: Optional[Path] = None) -> None:
        self.base_dir = str(base_dir)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._old: dict[str, _Entry] = self._load()
        self._new: dict[str, _Entry] = {}
        self._stats: dict[str, tuple[int, int, int]] = {}
        self._data: Optional[tuple[str, bytes]] = None
        self.files_read = 0

    # -- persistence -------------------------------------------------------------------------------
    def _path(self) -> Optional[Path]:
        return None if self.cache_dir is None else self.cache_dir / _CACHE_NAME

    def _load(self) -> dict[str, _Entry]:
        path = self._path()
        if path is None:
            return {}
        try:
            with open(path, "rb") as handle:
                data = pickle.load(handle)
        except FileNotFoundError:
            return {}
        except Exception:
            return {}
        if not isinstance(data, dict) or data.get("base_dir") != self.base_dir:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def save(self) -> None:
        """Write the entries of this run (only files seen this run, so deleted files drop out)."""
        path = self._path()
        if path is None:
            return
        cutoff = time.time_ns() - _RACY_NS
        entries = {rel: entry for rel, entry in self._new.items() if entry[1] < cutoff}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".files-", dir=str(path.parent))
            with os.fdopen(fd, "wb") as handle:
                pickle.dump({"base_dir": self.base_dir, "entries": entries}, handle, protocol=4)
            os.replace(tmp, path)
        except OSError:
            # A read-only checkout still analyzes; it just stays cold.
            pass

    # -- facts -------------------------------------------------------------------------------------
    def _entry(self, rel: str) -> _Entry:
        entry = self._new.get(rel)
        if entry is not None:
            return entry
        st = os.stat(os.path.join(self.base_dir, rel))
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        old = self._old.get(rel)
        if old is not None and old[:3] == key:
            entry = old
        else:
            data = self._read(rel)
            entry = (*key, hashlib.sha256(data).hexdigest(), None, {})
        self._new[rel] = entry
        return entry

    def _read(self, rel: str) -> bytes:
        if self._data is not None and self._data[0] == rel:
            return self._data[1]
        with open(os.path.join(self.base_dir, rel), "rb") as handle:
            data = handle.read()
        self.files_read += 1
        self._data = (rel, data)
        return data

    def digest(self, rel: str) -> str:
        """sha256 of the file's bytes. Raises OSError when it cannot be read."""
        return self._entry(rel)[3]

    def imports(self, rel: str) -> ImportScan:
        entry = self._entry(rel)
        if entry[4] is not None:
            return entry[4]
        data = self._read(rel)
        scan = scan_imports(data, rel) if rel.endswith(_PYTHON_SUFFIXES) else regex_scan(data)
        self._new[rel] = (*entry[:4], scan, entry[5])
        return scan

    def regex_matches(self, rel: str, pattern: str, regex: Any) -> tuple[tuple[str, ...], ...]:
        """Every match of ``regex`` in the file: (group 0, group 1, ...), unmatched groups as ''."""
        entry = self._entry(rel)
        cached = entry[5].get(pattern)
        if cached is not None:
            return cached
        text = self._read(rel).decode("utf-8", "replace")
        matches = tuple(
            (m.group(0), *(g if g is not None else "" for g in m.groups())) for m in regex.finditer(text)
        )
        entry[5][pattern] = matches
        return matches
