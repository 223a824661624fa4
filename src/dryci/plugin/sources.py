"""Closure files as the analysis saw them: read once, checked against its digest, parsed once.

Function-level facts are stored under the content id the analysis computed; a file edited after the
analysis read it must never have its new units stored under the old id. So every read compares the
bytes' digest with the analysis digest, and a file that differs is *stale* for the rest of the run.

Parsed units are kept in the local store's parse cache by content digest, so a file is parsed once
whatever runs, branches or checkouts read that content.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from dryci.exceptions import AnalysisError, StoreUnavailable
from dryci.recording.statements import Statement
from dryci.recording.units import FunctionUnit, ModuleUnits, parse_units
from dryci.store.local import LocalStore

__all__ = ["Sources", "Stale"]

_FORMAT = 4  # bump when ModuleUnits or its fingerprints change meaning


class Stale(Exception):
    """The file is not what the analysis read (edited since, or unreadable)."""


def _dump(units: ModuleUnits | None) -> bytes:
    if units is None:
        return marshal.dumps((_FORMAT, None))
    functions = [
        (f.qualname, f.fingerprint, f.first_line, f.last_line, tuple(f.names), f.dynamic, tuple(f.attrs))
        for f in units.functions
    ]
    statements = [
        (
            st.key,
            st.fingerprint,
            st.doc_free,
            tuple(sorted(st.defines)),
            tuple(sorted(st.refs)),
            st.safe,
            st.plain_doc,
            st.unit,
            tuple(sorted(st.attr_refs)),
        )
        for st in units.statements
    ]
    return marshal.dumps((_FORMAT, (units.module_fingerprint, units.inert, functions, statements)))


def _load(body: bytes) -> tuple[bool, ModuleUnits | None]:
    """(found, units); found is False for an entry of another format or a damaged one."""
    try:
        version, value = marshal.loads(body)
        if version != _FORMAT:
            return False, None
        if value is None:
            return True, None
        module, inert, functions, statements = value
        return True, ModuleUnits(
            module,
            tuple(
                FunctionUnit(q, fp, a, b, frozenset(n), d, frozenset(at))
                for q, fp, a, b, n, d, at in functions
            ),
            inert,
            tuple(
                Statement(k, fp, df, frozenset(d), frozenset(r), safe, doc, unit, frozenset(ar))
                for k, fp, df, d, r, safe, doc, unit, ar in statements
            ),
        )
    except Exception:  # a damaged cache entry just means "parse again"
        return False, None


class Sources:
    def __init__(
        self, base_dir: Path, digest_of: Callable[[str], str], cache: LocalStore | None = None
    ) -> None:
        self.base_dir = base_dir
        self._digest_of = digest_of
        self._cache = cache
        self._units: dict[str, ModuleUnits | None] = {}
        self._stale: set[str] = set()
        self._new: dict[str, bytes] = {}  # parse cache entries to save: digest -> body
        self._cached: dict[str, bytes] = {}

    def prefetch(self, paths: Iterable[str]) -> None:
        """Load the parse cache entries of these files' contents in one query."""
        if self._cache is None:
            return
        digests = []
        for path in paths:
            if path.endswith(".py") and path not in self._units:
                try:
                    digests.append(self._digest_of(path))
                except KeyError:
                    continue
        try:
            self._cached.update(self._cache.parsed(digests))
        except StoreUnavailable:
            self._cache = None

    def stale(self, path: str) -> bool:
        if path not in self._units and path not in self._stale:
            with contextlib.suppress(Stale):
                self.units(path)
        return path in self._stale

    def units(self, path: str) -> ModuleUnits | None:
        """The units of ``path`` as analyzed (None: not Python, or it does not parse); :class:`Stale`."""
        if path in self._stale:
            raise Stale(path)
        if path in self._units:
            return self._units[path]
        try:
            digest = self._digest_of(path)
        except KeyError:
            self._stale.add(path)
            raise Stale(path) from None
        units = self._parse(path, digest)
        self._units[path] = units
        return units

    def _parse(self, path: str, digest: str) -> ModuleUnits | None:
        if not path.endswith(".py"):
            self._check(path, digest)
            return None
        body = self._cached.get(digest)
        if body is None and self._cache is not None:  # not prefetched (the recorder asks one by one)
            try:
                body = self._cache.parsed([digest]).get(digest)
            except StoreUnavailable:
                self._cache = None
        if body is not None:
            found, units = _load(body)
            if found:
                return units
        content = self._check(path, digest)
        parsed: ModuleUnits | None
        try:
            parsed = parse_units(content, path)
        except AnalysisError:
            parsed = None
        self._new[digest] = _dump(parsed)
        return parsed

    def _check(self, path: str, digest: str) -> bytes:
        try:
            content = (self.base_dir / path).read_bytes()
        except OSError:
            self._stale.add(path)
            raise Stale(path) from None
        if hashlib.sha256(content).hexdigest() != digest:
            self._stale.add(path)
            raise Stale(path)
        return content

    def flush(self) -> None:
        """Save what was parsed this run to the parse cache (failures only cost a later parse)."""
        if self._cache is not None and self._new:
            with contextlib.suppress(StoreUnavailable):
                self._cache.save_parsed(self._new)
            self._new = {}

    def parsed(self) -> Mapping[str, ModuleUnits | None]:
        return self._units
