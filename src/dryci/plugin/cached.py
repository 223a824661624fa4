"""Cached tests stay visible: testcases in pytest's JUnit XML and, with ``-v``, the cached files.

A fully cached test file is never imported, so pytest reports none of its tests and a fully cached
run writes ``tests="0"``, which CI dashboards read as "no tests". Each cached test becomes a skipped
testcase with DryCI's reason. The local store keeps the plain names of the tests a file passed with
(locally only; a server sees hashed ids), so each has its own testcase; without them (a cache filled
by the server on another machine) the file gets one testcase, ``N tests cached``.

Only the JUnit report sees these testcases: pytest's own counts and exit status stay what they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from dryci.exceptions import StoreUnavailable
from dryci.selection.decision import SKIP_REASONS, Level
from dryci.selection.plan import Uncollected

if TYPE_CHECKING:
    from dryci.store.local import LocalStore

__all__ = [
    "CachedCase",
    "JunitHook",
    "add_cached_to_junit",
    "add_to_junit",
    "cached_cases",
    "cached_files_lines",
]


@dataclass(frozen=True)
class CachedCase:
    nodeid: str
    path: str
    reason: str


def cached_cases(
    uncollected: Mapping[str, Uncollected], names: Mapping[str, Sequence[str]]
) -> list[CachedCase]:
    """One case per cached test whose name the local store kept, else one per cached file.

    ``names``: per test file, the names of the tests its last pass had; they stand for the cached
    tests only when there are as many as the cache counts (a test added or removed since means the
    names are not this key's).
    """
    cases: list[CachedCase] = []
    for path in sorted(uncollected):
        cached = uncollected[path]
        if cached.tests <= 0:
            continue
        reason = SKIP_REASONS[cached.level]  # the reason a collected cached test gets
        known = names.get(path, ())
        if len(known) == cached.tests:
            cases.extend(CachedCase(f"{path}::{name}", path, reason) for name in sorted(known))
        else:
            cases.append(CachedCase(f"{path}::[{_tests(cached.tests)} cached]", path, reason))
    return cases


def _tests(count: int) -> str:
    return f"{count} test" + ("" if count == 1 else "s")


def _reports(case: CachedCase) -> Iterable[pytest.TestReport]:
    location = (case.path, None, case.nodeid.split("::", 1)[1])
    yield pytest.TestReport(
        case.nodeid, location, {}, "skipped", (case.path, 0, f"Skipped: {case.reason}"), "setup"
    )
    yield pytest.TestReport(case.nodeid, location, {}, "passed", None, "teardown")


def add_to_junit(
    config: pytest.Config, cases: Sequence[CachedCase], properties: Mapping[str, object] | None = None
) -> bool:
    """Hand the cases (and testsuite ``properties``) to pytest's JUnit XML writer, if ``--junitxml``
    is on; True when it was."""
    try:
        from _pytest.junitxml import xml_key  # the writer's stash key: no public way to reach it
    except ImportError:
        return False
    writer: Any = config.stash.get(xml_key, None)
    if writer is None or not cases:
        return False
    for name, value in (properties or {}).items():
        writer.add_global_property(name, value)
    for case in cases:
        for report in _reports(case):
            writer.pytest_runtest_logreport(report)
    return True


def add_cached_to_junit(
    config: pytest.Config, uncollected: Mapping[str, Uncollected], local: LocalStore | None
) -> bool:
    """The cached tests as testcases, named from the local store's last passes when it has them."""
    if not uncollected:
        return False
    try:
        passes = local.last_passes(sorted(uncollected)) if local is not None else {}
    except StoreUnavailable:
        passes = {}
    return add_to_junit(config, cached_cases(uncollected, {p: lp.tests for p, lp in passes.items()}))


def cached_files_lines(uncollected: Mapping[str, Uncollected]) -> list[str]:
    """``-v``: each fully cached file with its test count."""
    lines = []
    for path in sorted(uncollected):
        cached = uncollected[path]
        level = "function level" if cached.level is Level.FUNCTION else "file level"
        lines.append(f"{path}: {_tests(cached.tests)} cached ({level}, not imported)")
    return lines


class JunitHook:
    """Runs ``finish`` before pytest's JUnit XML writer writes (its session finish is not tryfirst)."""

    def __init__(self, finish: Callable[[], None]) -> None:
        self._finish = finish

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        self._finish()
