"""File level: what the store holds under each test file's dependency hash, and what to publish.

Nothing here touches pytest, the disk or the network; the session feeds plain values in and acts on
the small frozen dataclasses that come out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dryci.protocol import FileEntry, entry_tag, hash_node_id, key_for

__all__ = [
    "FilePlan",
    "Plan",
    "TestResult",
    "canonical_node_id",
    "entries_to_publish",
    "forged_tags",
    "in_canary",
    "make_plan",
]


def canonical_node_id(path: str, name: str) -> str:
    """A test's id independent of pytest's rootdir: path relative to the config's base dir + name."""
    return f"{path}::{name}"


@dataclass(frozen=True)
class FilePlan:
    """What the cache knows about one test file under its current dependency hash.

    ``verified``: the entry's tag checks out under this hash (see ``dryci.protocol.entry_tag``), so
    every test the file produces passed (or was skipped for a reason the key decides) and the file
    need not be imported. ``claimed``: the store claims that much, verified or not.
    """

    path: str
    dependency_hash: str
    passed: Mapping[str, float] = field(default_factory=dict)  # test id -> seconds when it passed
    test_count: int | None = None
    skipped: frozenset[str] = frozenset()
    verified: bool = False
    claimed: bool = False

    @property
    def key(self) -> str:
        return key_for(self.dependency_hash)

    @property
    def has_entry(self) -> bool:
        return bool(self.passed) or self.test_count is not None

    @property
    def fully_cached(self) -> bool:
        """Every test the file produced under this hash passed: no need to even import it."""
        return self.verified

    @property
    def seconds(self) -> float:
        return sum(self.passed.values())

    def test_id(self, name: str) -> str:
        return hash_node_id(self.dependency_hash, canonical_node_id(self.path, name))

    def is_cached(self, name: str) -> bool:
        return self.test_id(name) in self.passed


@dataclass(frozen=True)
class Plan:
    """The cache's view of every analyzed test file (path relative to the base dir -> FilePlan)."""

    files: Mapping[str, FilePlan] = field(default_factory=dict)
    skip: bool = True

    def shortcut_files(
        self, exclude: Iterable[str] = (), canary_seed: str = "", canary: float = 0.0
    ) -> frozenset[str]:
        """Files that need not be collected at all.

        Never files the user named tests of, nor files holding a test the canary picked (it
        must run, so the file must be imported).
        """
        if not self.skip:
            return frozenset()
        excluded = set(exclude)
        return frozenset(
            p
            for p, f in self.files.items()
            if f.fully_cached
            and p not in excluded
            and not any(in_canary(canary_seed, test_id, canary) for test_id in f.passed)
        )


def make_plan(hashes: Mapping[str, str], entries: Sequence[FileEntry] | None, *, skip: bool = True) -> Plan:
    """Pair each file's hash with the store's entry for it (``entries`` in the order of ``hashes``).

    ``entries`` is None when the store was not asked or could not answer: every test then runs.
    """
    paths = list(hashes)
    if entries is None:
        return Plan({p: FilePlan(p, hashes[p]) for p in paths}, skip=False)
    if len(entries) != len(paths):
        raise ValueError(f"expected {len(paths)} entries, got {len(entries)}")
    return Plan({p: _file_plan(p, hashes[p], e) for p, e in zip(paths, entries)}, skip=skip)


def _file_plan(path: str, dependency_hash: str, entry: FileEntry) -> FilePlan:
    count = entry.test_count
    return FilePlan(
        path,
        dependency_hash,
        dict(entry.tests),
        count,
        entry.skipped,
        verified=entry.verified(dependency_hash),
        claimed=count is not None and count > 0 and bool(entry.tests or entry.skipped),
    )


def forged_tags(plan: Plan, entries: Sequence[FileEntry]) -> int:
    """How many entries carry a tag that does not verify: forged, or written for other sources."""
    return sum(
        1
        for file_plan, entry in zip(plan.files.values(), entries)
        if entry.tag is not None and not file_plan.verified
    )


def in_canary(seed: str, test_id: str, fraction: float) -> bool:
    """Deterministic sample: the same seed picks the same tests in every xdist worker."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}\0{test_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


@dataclass(frozen=True)
class TestResult:
    """How one test ended, from its setup, call and teardown reports.

    ``cached``: the cache skipped it this run because its id passed before under this hash.
    ``skipped``: it was skipped (or xfailed) for a reason the key decides (see ``selection.skips``).
    """

    __test__ = False  # not a pytest test class despite the name

    path: str
    name: str
    passed: bool
    seconds: float
    cached: bool = False
    skipped: bool = False


def entries_to_publish(
    plan: Plan,
    results: Iterable[TestResult],
    test_counts: Mapping[str, int],
) -> dict[str, FileEntry]:
    """Per key, the tests that passed with their durations, the file's test count if fully known,
    the tests skipped for a reason the key decides, and the tag when every test of the file passed
    now, was cached, or was skipped so.

    ``test_counts`` holds only files whose every test was collected this run (no node-id
    arguments, no --lf filtering), so a count never understates what a file produces.
    """
    passed: dict[str, dict[str, float]] = {}
    cached: dict[str, set[str]] = {}
    skipped: dict[str, set[str]] = {}
    for result in results:
        file_plan = plan.files.get(result.path)
        if file_plan is None:
            continue
        test_id = file_plan.test_id(result.name)
        if result.cached and test_id in file_plan.passed:
            cached.setdefault(result.path, set()).add(test_id)
        elif result.passed:
            passed.setdefault(result.path, {})[test_id] = round(result.seconds, 6)
        elif result.skipped:
            skipped.setdefault(result.path, set()).add(test_id)
    entries = {}
    for path in sorted(passed.keys() | cached.keys() | skipped.keys()):
        file_plan, count, tests = plan.files[path], test_counts.get(path), passed.get(path, {})
        complete = tests.keys() | cached.get(path, set())
        skips = frozenset(skipped.get(path, set()))
        if count is not None and count == len(complete) + len(skips):
            tag = entry_tag(file_plan.dependency_hash, count, complete, skips)
            # Also a file whose tests were all cached one by one (an older client's entry) gets it.
            entries[file_plan.key] = FileEntry(tests, count, skips, tag)
        elif tests:
            entries[file_plan.key] = FileEntry(tests=tests, test_count=count)
    return entries
