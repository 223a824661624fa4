"""Function-level decisions: which tests of a test file whose dependency hash changed may still be skipped.

Made before collection, from the file's record alone, so a file none of whose tests ran changed code
is never imported. A test re-runs, with the first reason found, when:

- the config, the environment, a distribution the file imports or a global dependency changed (the
  record's salt differs);
- a file joined or left the test file's closure;
- a changed closure file is not Python, does not parse, or has no facts of its recorded content;
- module-level code of a changed Python file changed in a way that cannot be narrowed (see
  ``dryci.selection.names``: a call, a reordering, a test file or ``conftest.py``), or it changed
  narrowly and the test's code (or what ran for every test of the file) refers to what changed;
- a function that ran for every test of the file (collection, fixtures, imports) changed;
- a function the test (or its class's setup) ran changed;
- the record does not hold the test (it is new, or it did not pass last time).

Everything else is skipped. Changes are found per closure file, between the content the record's
snapshot names and the content now, and only for files whose content id differs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dryci.protocol.records import SHARED, Facts, RecordView
from dryci.recording.units import ModuleUnits
from dryci.selection.keys import Keys
from dryci.selection.names import Requirement, Users, statement_changes

__all__ = ["NO_RECORD", "Change", "FileVerdict", "decide_file", "file_change"]

NO_RECORD = "no record of this test (it is new, or did not pass last time)"


@dataclass(frozen=True)
class Change:
    """What changed in one closure file: everything (with the reason) or these units."""

    everything: str | None = None
    units: Mapping[bytes, str] = field(default_factory=dict)  # unit id -> "path::qualname changed"
    requirements: tuple[Requirement, ...] = ()  # narrowed module-level changes


def file_change(
    path: str, old: Facts | None, new: ModuleUnits | None, keys: Keys, *, test_file: bool = False
) -> Change:
    """``old``: the facts of the recorded content (None: unknown); ``new``: the file's units now.

    ``test_file``: pytest collects it by name, so a module-level change of it counts for every test.
    """
    if old is None:
        return Change(f"{path} changed (no facts of its recorded content)")
    if new is None or old.units is None:
        kind = "Python file that does not parse" if path.endswith(".py") else "non-Python file"
        return Change(f"{path} changed ({kind})")
    requirements: tuple[Requirement, ...] = ()
    if keys.fingerprint(new.module_fingerprint) != old.module:
        if test_file:
            return Change(f"{path}: module-level code changed")
        narrowed = statement_changes(path, old, new, keys)
        if isinstance(narrowed, str):
            return Change(narrowed)
        requirements = narrowed
    changed: dict[bytes, str] = {}
    now = new.fingerprints()
    for qualname, fingerprint in now.items():
        if old.units.get(keys.name(qualname)) != keys.fingerprint(fingerprint):
            changed[keys.unit(path, qualname)] = f"{path}::{qualname} changed"
    present = {keys.name(q) for q in now}
    for name in old.units:
        if name not in present:
            # Removed: the tests that ran it re-run (its statement's names count above).
            changed[keys.unit_of(keys.file(path), name)] = f"{path}: a function it ran was removed"
    return Change(units=changed, requirements=requirements)


@dataclass(frozen=True)
class FileVerdict:
    """The function-level answer for one test file with a record."""

    record: RecordView
    everything: str | None  # every test of the file runs, for this reason
    affected: Mapping[bytes, str]  # test id -> why it runs (tests the record holds)

    @property
    def complete(self) -> bool:
        """The record holds every test the file produced: nothing it does not know of can be there."""
        record = self.record
        return record.test_count is not None and record.test_count == len(record.tests) + len(record.skipped)

    @property
    def untouched(self) -> bool:
        """No test of the file needs to run: it need not even be imported."""
        return self.everything is None and not self.affected and self.complete

    def reason_for(self, test_id: bytes) -> str | None:
        """Why this test runs, or None when it may be skipped (the record holds it as passed)."""
        if self.everything is not None:
            return self.everything
        if test_id in self.affected:
            return self.affected[test_id]
        if test_id in self._index:
            return None
        return NO_RECORD

    @functools.cached_property
    def _index(self) -> dict[bytes, int]:
        return {test_id: i for i, test_id in enumerate(self.record.tests)}

    def seconds(self, test_id: bytes) -> float:
        index = self._index.get(test_id)
        return 0.0 if index is None else self.record.seconds[index]


def decide_file(
    record: RecordView,
    salt: bytes,
    closure: bytes,
    changes: Mapping[str, Change],
    users: Sequence[Users] = (),
) -> FileVerdict:
    """``closure``: the id of the file's closure now; ``changes``: its closure files whose content
    differs from the record's snapshot, with what changed in them; ``users``: for the narrowed
    module-level changes among them, the functions referring to what changed."""
    if record.salt != salt:
        return FileVerdict(
            record, "config, environment, a distribution it imports or global dependencies changed", {}
        )
    if record.closure != closure:
        return FileVerdict(record, "a file joined or left its closure", {})
    for path in sorted(changes):
        reason = changes[path].everything
        if reason is not None:
            return FileVerdict(record, reason, {})
    affected: dict[bytes, str] = {}
    for path in sorted(changes):
        for unit, label in sorted(changes[path].units.items(), key=lambda item: item[1]):
            index = record.find_unit(unit)
            if index is None:
                continue
            for posting in record.postings(index):
                # A posting naming no test (a damaged record) counts for every test: when unsure, run.
                if posting == SHARED or posting >= len(record.tests):
                    return FileVerdict(record, f"{label} (ran in setup or collection)", {})
                affected.setdefault(record.tests[posting], label)
    if users:
        table = record.units()
        for use in users:
            found: set[int] | None = set()
            for groups in use.alternatives:
                some = _users(record, table, groups)
                found = None if some is None or found is None else found | some
            if found is None:
                return FileVerdict(record, f"{use.requirement.label} (used in setup or collection)", {})
            for posting in sorted(found):
                affected.setdefault(record.tests[posting], f"{use.requirement.label}, and the test uses it")
    return FileVerdict(record, None, affected)


def _users(record: RecordView, table: Sequence[bytes], groups: Sequence[frozenset[bytes]]) -> set[int] | None:
    """Indices of the tests that executed, for every group, a function of that group; None when
    such a function ran for every test (collection, fixtures, imports) in each group."""
    found: set[int] | None = None  # None: every test
    for group in groups:
        tests: set[int] = set()
        shared = False
        for index, unit in enumerate(table):
            if unit not in group:
                continue
            postings = record.postings(index)
            if any(p == SHARED or p >= len(record.tests) for p in postings):
                shared = True  # a damaged posting counts for every test too
                break
            tests.update(postings)
        if not shared:
            found = tests if found is None else found & tests
            if not found:
                return found
    return found
