"""The function level's I/O: read the records of test files whose hash changed, and write new ones.

Reading, before collection: one store call for the records, one for their snapshots, one for the
facts of the files that changed since; only those files are parsed (or taken from the parse cache).
Writing, after the run: a record for each test file some of whose tests ran, against one snapshot
of this run, with the facts of every closure content the store does not have yet.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from dryci.dagger import Analysis
from dryci.exceptions import ProtocolError
from dryci.plugin.sources import Sources, Stale
from dryci.protocol.records import (
    Facts,
    RecordView,
    Snapshot,
    decode_facts,
    decode_record,
    decode_snapshot,
    encode_facts,
    encode_snapshot,
    snapshot_id,
)
from dryci.recording.runtime import Recorded
from dryci.recording.units import ModuleUnits
from dryci.selection.building import RecordInputs, build_record, facts_of
from dryci.selection.functions import Change, FileVerdict, decide_file, file_change
from dryci.selection.keys import Keys
from dryci.selection.names import Requirement, Resolved, for_closure, resolve
from dryci.store.base import RecordStore

__all__ = ["FunctionLevel", "RunOfFile"]


@dataclass(frozen=True)
class RunOfFile:
    """What this run did with the tests of one collected test file (node ids are ``path::name``)."""

    test_count: int | None
    passed: Mapping[str, tuple[str, float]] = field(default_factory=dict)  # id -> (pytest nodeid, s)
    carried: Collection[str] = ()  # skipped at function level: their record still holds
    skipped: Collection[str] = ()  # skipped for a reason the key decides
    ran: bool = False  # some test of the file ran (passed or not)


class FunctionLevel:
    def __init__(self, keys: Keys, analysis: Analysis, sources: Sources, store: RecordStore) -> None:
        self.keys = keys
        self.analysis = analysis
        self.sources = sources
        self.store = store
        self._fids: dict[str, bytes] = {}
        self._cids: dict[str, bytes] = {}

    def _fid(self, path: str) -> bytes:
        fid = self._fids.get(path)
        if fid is None:
            fid = self._fids[path] = self.keys.file(path)
        return fid

    def _cid(self, path: str) -> bytes:
        cid = self._cids.get(path)
        if cid is None:
            cid = self._cids[path] = self.keys.content(self.analysis.file_digest(path))
        return cid

    # -- before collection -------------------------------------------------------------------

    def decide(self, candidates: Sequence[str]) -> dict[str, FileVerdict]:
        """Verdicts for the candidates that have a readable record; StoreUnavailable if none can be read."""
        keys = self.keys
        blobs = self.store.records([keys.record_key(path) for path in candidates])
        views: dict[str, RecordView] = {}
        for path in candidates:
            blob = blobs.get(keys.record_key(path))
            if blob is not None:
                try:
                    views[path] = decode_record(blob)
                except ProtocolError:
                    continue  # a damaged record is no record: the file's tests run
        snapshots: dict[bytes, Snapshot] = {}
        for sid, blob in self.store.snapshots(sorted({v.snapshot for v in views.values()})).items():
            try:
                if snapshot_id(blob) == sid:
                    snapshots[sid] = decode_snapshot(blob)
            except ProtocolError:
                continue
        closures = {path: self.analysis.closure(path) for path in views}
        every = frozenset().union(*closures.values()) if closures else frozenset()
        changed = {sid: self._changed(snapshot, every) for sid, snapshot in snapshots.items()}
        old = {cid for sid, paths in changed.items() for cid in paths.values()}
        facts = self.store.facts(sorted(old)) if old else {}
        self.sources.prefetch({path for paths in changed.values() for path in paths})
        memo: dict[tuple[str, bytes], Change] = {}
        tests = frozenset(self.analysis.inputs)

        def change(path: str, old_cid: bytes) -> Change:
            if (path, old_cid) not in memo:
                memo[path, old_cid] = self._change(path, facts.get(old_cid), path in tests)
            return memo[path, old_cid]

        per_file = {}
        for path, view in views.items():
            if view.snapshot in snapshots:
                closure = closures[path]
                per_file[path] = {
                    q: change(q, cid) for q, cid in changed[view.snapshot].items() if q in closure
                }
        users = self._users([req for c in memo.values() for req in c.requirements], every)

        verdicts = {}
        for path, view in views.items():
            if view.snapshot not in snapshots:
                verdicts[path] = FileVerdict(view, "its record's snapshot is missing", {})
                continue
            closure = closures[path]
            changes = per_file[path]
            reason, uses = for_closure([r for c in changes.values() for r in c.requirements], users, closure)
            salt = keys.file_salt(self.analysis.distribution_digest(path))
            verdict = decide_file(view, salt, keys.closure(closure), changes, uses)
            if reason is not None and verdict.everything is None:
                verdict = FileVerdict(view, reason, {})
            verdicts[path] = verdict
        return verdicts

    def _users(self, requirements: Sequence[Requirement], paths: Collection[str]) -> Resolved:
        if not requirements:
            return {}
        now, missing = self._facts_now(paths)
        return resolve(requirements, now, missing, self.keys)

    def _facts_now(self, paths: Collection[str]) -> tuple[dict[str, Facts], set[str]]:
        """Version 2 facts of each path's content now: stored ones, else from its source."""
        cids = {p: self._cid(p) for p in paths}
        stored = self.store.facts(sorted(set(cids.values())))
        now: dict[str, Facts] = {}
        missing: set[str] = set()
        for p, cid in cids.items():
            fact = None
            blob = stored.get(cid)
            if blob is not None:
                try:
                    fact = decode_facts(blob)
                except ProtocolError:
                    fact = None
            if fact is None or (fact.units is not None and fact.names is None):
                try:
                    fact = facts_of(self.sources.units(p), self.keys)
                except Stale:
                    missing.add(p)
                    continue
            now[p] = fact
        return now, missing

    def _changed(self, snapshot: Snapshot, paths: Collection[str]) -> dict[str, bytes]:
        """Path -> its content id in ``snapshot``, for the paths whose content differs now."""
        out = {}
        for path in paths:
            old = snapshot.contents.get(self._fid(path))
            if old is not None and old != self._cid(path):
                out[path] = old
        return out

    def _change(self, path: str, old_facts: bytes | None, test_file: bool) -> Change:
        try:
            old = decode_facts(old_facts) if old_facts is not None else None
        except ProtocolError:
            old = None
        try:
            new = self.sources.units(path)
        except Stale:
            return Change(f"{path} changed during the run")
        return file_change(path, old, new, self.keys, test_file=test_file)

    # -- after the run -----------------------------------------------------------------------

    def save(
        self,
        recorded: Recorded,
        runs: Mapping[str, RunOfFile],
        verdicts: Mapping[str, FileVerdict],
        claimed: Collection[str],
    ) -> int:
        """Write the records of the files in ``runs`` some of whose tests ran; how many were written.

        ``claimed``: every path in the closure of some analyzed test file. StoreUnavailable if the
        store cannot take them.
        """
        rewrite = {path: run for path, run in runs.items() if run.ran}
        closures = {path: self.analysis.closure(path) for path in rewrite}
        # A file edited during the run: no record rather than a wrong one for every file having it.
        closures = {p: c for p, c in closures.items() if not any(self.sources.stale(q) for q in c)}
        if not closures:
            return 0
        contents = {self._fid(q): self._cid(q) for closure in closures.values() for q in closure}
        snapshot = encode_snapshot(contents)
        sid = snapshot_id(snapshot)
        paths = {q for closure in closures.values() for q in closure}
        have = self.store.facts(sorted({self._cid(q) for q in paths}))
        new_facts: dict[bytes, bytes] = {}
        for q in sorted(paths):
            cid = self._cid(q)
            if cid not in have and cid not in new_facts:
                new_facts[cid] = encode_facts(facts_of(self.sources.units(q), self.keys))
        units_of = self._units_of
        records = {}
        for path, closure in closures.items():
            run = rewrite[path]
            fresh = {}
            for node_id, (pytest_id, seconds) in run.passed.items():
                own = recorded.own(pytest_id)
                if own is not None:
                    fresh[node_id] = (seconds, own)
            inputs = RecordInputs(
                path,
                closure,
                run.test_count,
                fresh,
                recorded.shared(path, closure, claimed),
                run.carried,
                run.skipped,
                self.analysis.distribution_digest(path),
            )
            verdict = verdicts.get(path)
            body = build_record(self.keys, sid, inputs, units_of, verdict.record if verdict else None)
            if body is not None:
                records[self.keys.record_key(path)] = body
        self.store.save_records(records, {sid: snapshot}, new_facts)
        self.sources.flush()
        return len(records)

    def _units_of(self, path: str) -> ModuleUnits | None:
        try:
            return self.sources.units(path)
        except Stale:
            return None


def closures_claimed(analysis: Analysis, paths: Collection[str]) -> set[str]:
    """Every path in the closure of one of ``paths`` (the analyzed test files)."""
    claimed: set[str] = set()
    for path in paths:
        claimed.update(analysis.closure(path))
    return claimed
