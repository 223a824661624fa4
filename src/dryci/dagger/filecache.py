"""Per-file facts (content digest, imports, regex matches, relations), remembered across runs.

An entry is reused while the file's (size, mtime_ns, inode) are unchanged, so a warm run reads no
unchanged file. A file's *relations* also depend on which other files exist and on the config, so they
are reused only while the config is byte-identical and every folder the last run listed still has the
same mtime (adding, removing or renaming an entry changes its folder's mtime). When nothing at all
changed, the last run's dependency hashes are reused too (they are a pure function of what was checked).

Two ``marshal`` files in ``cache_dir`` (fast to load; their names carry the Python version): the core
(stat keys, digests, relations, folder fingerprint, last hashes), which every run loads, and the
details (imports, regex matches), loaded only when some file's relations must be computed again.
A missing, corrupt or foreign cache is ignored (everything is recomputed), never an error. Entries of
files modified within the last second are not stored, nor is the folder fingerprint when a folder
changed that recently: their timestamps could not yet tell a later edit apart ("racy" timestamps).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from dryci.dagger.imports import ImportScan, regex_scan, scan_imports

__all__ = ["CACHE_VERSION", "FileFacts", "default_cache_dir"]

CACHE_VERSION = 6
_SUFFIX = f"v{CACHE_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}.marshal"
_CORE_NAME = f"core-{_SUFFIX}"
_DETAILS_NAME = f"details-{_SUFFIX}"
_RACY_NS = 1_000_000_000
_PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")

# (for an input file?, relations, warnings, top-level names imported from outside the project)
_Relations = tuple[bool, tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_Stored = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # (relations, warnings, external names)
# (size, mtime_ns, inode, digest, relations or None)
_Core = tuple[int, int, int, str, Optional[_Relations]]
# (marshalled ImportScan or None, {regex pattern: matches})
_Details = tuple[Optional[bytes], dict[str, tuple[tuple[str, ...], ...]]]


def default_cache_dir(base_dir: Path) -> Path:
    """Where the CLI keeps the cache unless told otherwise: ``.repo_dagger_cache/`` under the base dir."""
    return Path(base_dir) / ".repo_dagger_cache"


def _folder_mtime(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _load_marshal(path: Optional[Path]) -> Any:
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            return marshal.load(handle)
    except Exception:  # a missing or corrupt cache of any kind just means "recompute"
        return None


def _dump_marshal(path: Path, value: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            marshal.dump(value, handle)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


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
        self._old: dict[str, _Core] = {}
        self._old_folders: dict[str, Optional[int]] = {}
        self._old_result: Optional[tuple[str, dict[str, str]]] = None
        self._load_core()
        self._old_details: Optional[dict[str, _Details]] = None
        self._new: dict[str, _Core] = {}
        self._details: dict[str, _Details] = {}
        self._data: Optional[tuple[str, bytes]] = None
        self.relations_reusable = bool(self._old_folders) and self._folders_unchanged()
        self.files_read = 0
        self.changed = False

    # -- persistence -------------------------------------------------------------------------------
    def _path(self, name: str) -> Optional[Path]:
        return None if self.cache_dir is None else self.cache_dir / name

    def _load_core(self) -> None:
        data = _load_marshal(self._path(_CORE_NAME))
        if not isinstance(data, dict) or data.get("base_dir") != self.base_dir:
            return
        entries, folders, result = data.get("entries"), data.get("folders"), data.get("result")
        if isinstance(entries, dict):
            self._old = entries
        if isinstance(folders, dict) and data.get("context") == self.context:
            self._old_folders = folders
            if isinstance(result, tuple) and len(result) == 2:
                self._old_result = result

    def _details_of_last_run(self) -> dict[str, _Details]:
        if self._old_details is None:
            data = _load_marshal(self._path(_DETAILS_NAME))
            valid = isinstance(data, dict) and data.get("base_dir") == self.base_dir
            self._old_details = data["entries"] if valid and isinstance(data.get("entries"), dict) else {}
        return self._old_details

    def _folders_unchanged(self) -> bool:
        base = self.base_dir
        for folder, mtime in self._old_folders.items():
            if _folder_mtime(base if folder == "." else os.path.join(base, folder)) != mtime:
                return False
        return True

    def reusable_hashes(self, key: str) -> Optional[dict[str, str]]:
        """The last run's hashes when nothing changed since and ``key`` (salt, inputs) is the same."""
        if self.changed or not self.relations_reusable or self._old_result is None:
            return None
        if self._old_result[0] != key or len(self._new) != len(self._old):
            return None
        return self._old_result[1]

    def save(self, folders: Mapping[str, Optional[int]], result: tuple[str, dict[str, str]]) -> None:
        """Write this run's entries (files not seen this run drop out), folder fingerprint and hashes.

        ``folders``: every folder listed this run -> its mtime_ns taken before listing it.
        """
        core_path, details_path = self._path(_CORE_NAME), self._path(_DETAILS_NAME)
        if core_path is None or details_path is None:
            return
        if not self.changed and len(self._new) == len(self._old) and self._old_result == result:
            return  # nothing to write: the files on disk already say all of this
        cutoff = time.time_ns() - _RACY_NS
        entries = {rel: entry for rel, entry in self._new.items() if entry[1] < cutoff}
        old_details = self._details_of_last_run()
        details = {rel: self._details.get(rel) or old_details.get(rel) or (None, {}) for rel in entries}
        fingerprint = dict(self._old_folders) if self.relations_reusable else {}
        fingerprint.update(folders)
        if any(mtime is not None and mtime >= cutoff for mtime in fingerprint.values()):
            fingerprint = {}
        try:
            _dump_marshal(details_path, {"base_dir": self.base_dir, "entries": details})
            _dump_marshal(
                core_path,
                {
                    "base_dir": self.base_dir,
                    "context": self.context,
                    "folders": fingerprint,
                    "entries": entries,
                    "result": result,
                },
            )
        except (OSError, ValueError):
            # A read-only checkout still analyzes; it just stays cold.
            pass

    # -- facts -------------------------------------------------------------------------------------
    def _entry(self, rel: str) -> _Core:
        entry = self._new.get(rel)
        if entry is not None:
            return entry
        st = os.stat(os.path.join(self.base_dir, rel))
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        old = self._old.get(rel)
        if old is not None and len(old) == 5 and old[:3] == key:
            entry = old
        else:
            data = self._read(rel)
            entry = (*key, hashlib.sha256(data).hexdigest(), None)
            self._details[rel] = (None, {})
            self.changed = True
        self._new[rel] = entry
        return entry

    def _detail(self, rel: str) -> _Details:
        self._entry(rel)
        detail = self._details.get(rel)
        if detail is None:
            old = self._details_of_last_run().get(rel)
            detail = old if isinstance(old, tuple) and len(old) == 2 else (None, {})
            self._details[rel] = detail
        return detail

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
        detail = self._detail(rel)
        if detail[0] is not None:
            scan: ImportScan = marshal.loads(detail[0])
            return scan
        data = self._read(rel)
        scan = scan_imports(data, rel) if rel.endswith(_PYTHON_SUFFIXES) else regex_scan(data)
        # Kept serialized: 50k files' scans as Python tuples would take ~70 MB, as bytes ~12 MB.
        self._details[rel] = (marshal.dumps(scan), detail[1])
        return scan

    def regex_matches(self, rel: str, pattern: str, regex: Any) -> tuple[tuple[str, ...], ...]:
        """Every match of ``regex`` in the file: (group 0, group 1, ...), unmatched groups as ''."""
        detail = self._detail(rel)
        cached = detail[1].get(pattern)
        if cached is not None:
            return cached
        text = self._read(rel).decode("utf-8", "replace")
        matches = tuple(
            (m.group(0), *(g if g is not None else "" for g in m.groups())) for m in regex.finditer(text)
        )
        detail[1][pattern] = matches
        return matches

    def cached_relations(self, rel: str, is_input: bool) -> Optional[_Stored]:
        """(relations, warnings, external names) stored last run, while the file, the folders and the
        config are unchanged."""
        if not self.relations_reusable:
            return None
        stored = self._entry(rel)[4]
        if stored is None or len(stored) != 4 or stored[0] != is_input:
            return None
        return stored[1], stored[2], stored[3]

    def store_relations(
        self,
        rel: str,
        is_input: bool,
        relations: tuple[str, ...],
        warnings: tuple[str, ...] = (),
        externals: tuple[str, ...] = (),
    ) -> None:
        entry = self._entry(rel)
        self._new[rel] = (*entry[:4], (is_input, relations, warnings, externals))
        self.changed = True
