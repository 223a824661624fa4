"""Per-file facts (content digest, imports, regex matches, relations), remembered across runs.

An entry is reused while the file's (size, mtime_ns, inode) are unchanged, so a warm run reads no
unchanged file. A file's *relations* also depend on which other files exist and on the config, so they
are reused only while the config is byte-identical and every folder the last run listed still has the
same mtime (adding, removing or renaming an entry changes its folder's mtime).

The cache is a single pickle of plain data in ``cache_dir``; a missing, corrupt or foreign cache is
ignored (everything is recomputed), never an error. Entries of files modified within the last second
are not stored, nor is the folder fingerprint when a folder changed that recently: their timestamps
could not yet tell a later edit apart ("racy" timestamps).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from dryci.dagger.imports import ImportScan, regex_scan, scan_imports

__all__ = ["CACHE_VERSION", "FileFacts", "default_cache_dir"]

CACHE_VERSION = 2
_CACHE_NAME = f"files-v{CACHE_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}.pickle"
_RACY_NS = 1_000_000_000
_PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")

_Relations = tuple[bool, tuple[str, ...]]  # (computed for an input file?, relations)
# (size, mtime_ns, inode, digest, imports or None, {regex pattern: matches}, relations or None)
_Entry = tuple[
    int, int, int, str, Optional[ImportScan], dict[str, tuple[tuple[str, ...], ...]], Optional[_Relations]
]


def default_cache_dir(base_dir: Path) -> Path:
    """Where the CLI keeps the cache unless told otherwise: ``.repo_dagger_cache/`` under the base dir."""
    return Path(base_dir) / ".repo_dagger_cache"


def folder_mtime(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class FileFacts:
    """Facts about the files below ``base_dir``; reads each file at most once per run.

    ``context`` identifies what relations depend on besides the tree (the config's content and place).
    """

    def __init__(self, base_dir: Path, cache_dir: Optional[Path] = None, context: str = "") -> None:
        self.base_dir = str(base_dir)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.context = context
        if self.cache_dir is not None:
            # Created before any folder is listed, so creating it does not spoil this run's fingerprint.
            try:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
            except OSError:
                self.cache_dir = None
        self._old: dict[str, _Entry] = {}
        self._old_folders: dict[str, Optional[int]] = {}
        self._load()
        self._new: dict[str, _Entry] = {}
        self._data: Optional[tuple[str, bytes]] = None
        self.relations_reusable = bool(self._old_folders) and self._folders_unchanged()
        self.files_read = 0

    # -- persistence -------------------------------------------------------------------------------
    def _path(self) -> Optional[Path]:
        return None if self.cache_dir is None else self.cache_dir / _CACHE_NAME

    def _load(self) -> None:
        path = self._path()
        if path is None:
            return
        try:
            with open(path, "rb") as handle:
                data: Any = pickle.load(handle)
        except Exception:  # noqa: BLE001 - a missing or corrupt cache of any kind just means "recompute"
            return
        if not isinstance(data, dict) or data.get("base_dir") != self.base_dir:
            return
        entries, folders = data.get("entries"), data.get("folders")
        if isinstance(entries, dict):
            self._old = entries
        if isinstance(folders, dict) and data.get("context") == self.context:
            self._old_folders = folders

    def _folders_unchanged(self) -> bool:
        base = self.base_dir
        for folder, mtime in self._old_folders.items():
            if folder_mtime(base if folder == "." else os.path.join(base, folder)) != mtime:
                return False
        return True

    def save(self, folders: Mapping[str, Optional[int]]) -> None:
        """Write the entries of this run (files not seen this run drop out) and the folder fingerprint.

        ``folders``: every folder listed this run -> its mtime_ns taken before listing it.
        """
        path = self._path()
        if path is None:
            return
        cutoff = time.time_ns() - _RACY_NS
        entries = {rel: entry for rel, entry in self._new.items() if entry[1] < cutoff}
        fingerprint = dict(self._old_folders) if self.relations_reusable else {}
        fingerprint.update(folders)
        if any(mtime is not None and mtime >= cutoff for mtime in fingerprint.values()):
            fingerprint = {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".files-", dir=str(path.parent))
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(
                    {
                        "base_dir": self.base_dir,
                        "context": self.context,
                        "folders": fingerprint,
                        "entries": entries,
                    },
                    handle,
                    protocol=4,
                )
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
        if old is not None and len(old) == 7 and old[:3] == key:
            entry = old
        else:
            data = self._read(rel)
            entry = (*key, hashlib.sha256(data).hexdigest(), None, {}, None)
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
        self._new[rel] = (*entry[:4], scan, entry[5], entry[6])
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

    def cached_relations(self, rel: str, is_input: bool) -> Optional[tuple[str, ...]]:
        """The relations stored last run, when neither the file, the folders nor the config changed."""
        if not self.relations_reusable:
            return None
        stored = self._entry(rel)[6]
        if stored is None or stored[0] != is_input:
            return None
        return stored[1]

    def store_relations(self, rel: str, is_input: bool, relations: tuple[str, ...]) -> None:
        entry = self._entry(rel)
        self._new[rel] = (*entry[:6], (is_input, relations))
