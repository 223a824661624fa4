"""A test file's new record after a run, and the facts of a file content: pure functions.

A record is rewritten only for a test file that was collected this run. Its tests are those that
passed now (with the units they ran, their class's setup included) and those the function level
skipped, carried over from the previous record: none of their units changed, so their old units
still describe them against the new snapshot. A test that ran and did not pass is left out, so it
runs next time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from dryci.protocol.facts import NO_UNIT
from dryci.protocol.records import Facts, RecordView, StatementFacts, encode_record
from dryci.recording.units import MODULE, ModuleUnits
from dryci.selection.keys import Keys

__all__ = ["OPAQUE", "RecordInputs", "build_record", "facts_of"]

Unit = tuple[str, str]  # (path, qualname)
OPAQUE = b"\0" * 16  # the module fingerprint of facts that cannot be narrowed to functions


def facts_of(units: ModuleUnits | None, keys: Keys) -> Facts:
    """The facts of one file content (None: not Python, or it does not parse)."""
    if units is None:
        return Facts(OPAQUE, None)
    short = keys.short
    return Facts(
        keys.fingerprint(units.module_fingerprint),
        {keys.name(q): keys.fingerprint(fp) for q, fp in units.fingerprints().items()},
        {keys.name(f.qualname): frozenset(map(short, f.names)) for f in units.functions},
        frozenset(keys.name(f.qualname) for f in units.functions if f.dynamic),
        tuple(
            StatementFacts(
                keys.name(st.key),
                keys.fingerprint(st.fingerprint),
                keys.fingerprint(st.doc_free),
                st.safe,
                st.plain_doc,
                frozenset(map(short, st.defines)),
                frozenset(map(short, st.refs)),
                keys.name(st.unit) if st.unit else NO_UNIT,
                frozenset(map(short, st.attr_refs)),
            )
            for st in units.statements
        ),
        {keys.name(f.qualname): frozenset(map(short, f.attrs)) for f in units.functions},
    )


@dataclass(frozen=True)
class RecordInputs:
    """What one run knows about one collected test file."""

    path: str
    closure: frozenset[str]
    test_count: int | None  # tests the file produced, when the run collected all of it
    fresh: Mapping[str, tuple[float, Collection[Unit]]]  # node id -> (seconds, units) of passes now
    shared: Collection[Unit]  # ran for every test of the file this run
    carried: Collection[str] = ()  # node ids the function level skipped this run
    skipped: Collection[str] = ()  # node ids skipped for a reason the key decides
    distributions: str = ""  # digest of the file's own distributions ('' when it imports none)


def build_record(
    keys: Keys,
    snapshot: bytes,
    inputs: RecordInputs,
    units_of: Callable[[str], ModuleUnits | None],
    previous: RecordView | None,
) -> bytes | None:
    """The new record, or None when this run's recording does not fit the sources on disk.

    ``units_of(path)`` gives a closure file's units as it is now; a unit it does not know (the file
    changed during the run) makes the test that ran it unrecorded, or the whole record when it ran
    for every test.
    """
    closure = inputs.closure
    known: dict[Unit, bytes | None] = {}  # unit -> its id (None: dropped), computed once per unit

    def unit_id(unit: Unit) -> bytes | None:
        path, qualname = unit
        parsed = units_of(path)
        if parsed is None or qualname not in parsed.fingerprints():
            raise LookupError(unit)
        return keys.unit(path, qualname)

    def ids(units: Iterable[Unit]) -> set[bytes] | None:
        out = set()
        for unit in units:
            if unit not in known:
                if unit[0] not in closure or unit[1] == MODULE:
                    # outside: the dependency hash covers it; module level: the facts do
                    known[unit] = None
                    continue
                try:
                    known[unit] = unit_id(unit)
                except LookupError:
                    return None
            found = known[unit]
            if found is not None:
                out.add(found)
        return out

    shared = ids(inputs.shared)
    if shared is None:
        return None
    tests: dict[bytes, tuple[float, Iterable[bytes]]] = {}
    for node_id, (seconds, units) in inputs.fresh.items():
        own = ids(units)
        if own is not None:
            tests[keys.test(node_id)] = (seconds, own - shared)
    if previous is not None and inputs.carried:
        old_shared, old_tests = previous.executed()
        seconds_of = dict(zip(previous.tests, previous.seconds))
        for node_id in inputs.carried:
            test_id = keys.test(node_id)
            if test_id in old_tests and test_id not in tests:
                # What ran for every test then still counts for this one, shared now or not.
                tests[test_id] = (seconds_of[test_id], (old_tests[test_id] | old_shared) - shared)
    return encode_record(
        salt=keys.file_salt(inputs.distributions),
        snapshot=snapshot,
        closure=keys.closure(closure),
        test_count=inputs.test_count,
        tests=tests,
        shared=shared,
        skipped=[keys.test(node_id) for node_id in inputs.skipped],
    )
