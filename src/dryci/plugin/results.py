"""How each test ended, gathered from its setup, call and teardown reports."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dryci.selection.decision import SKIP_REASONS

__all__ = ["ResultTracker", "skip_reason"]


@dataclass
class _Outcome:
    ok: bool = True
    called: bool = False
    torn_down: bool = False
    cached: bool = False
    failed: bool = False
    seconds: float = 0.0


def skip_reason(report: pytest.TestReport) -> str:
    """The reason a skip report gives ('' for a report that gives none)."""
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""


_OURS = frozenset(SKIP_REASONS.values())


def _skipped_by_cache(report: pytest.TestReport) -> bool:
    return report.skipped and skip_reason(report).removeprefix("Skipped: ") in _OURS


class ResultTracker:
    """Passed means setup, call and teardown all reported and passed: no failure, error, skip, xfail
    or xpass, and no phase cut short (Ctrl-C in a teardown leaves no teardown report)."""

    def __init__(self) -> None:
        self._outcomes: dict[str, _Outcome] = {}

    def add(self, report: pytest.TestReport) -> None:
        outcome = self._outcomes.setdefault(report.nodeid, _Outcome())
        outcome.seconds += report.duration
        if report.when == "setup" and report.skipped and _skipped_by_cache(report):
            outcome.cached = True
        if report.failed:
            outcome.failed = True
        if report.failed or report.skipped or hasattr(report, "wasxfail"):
            outcome.ok = False
        if report.when == "call" and report.passed:
            outcome.called = True
        if report.when == "teardown":
            outcome.torn_down = True

    @staticmethod
    def skipped_by_cache(report: pytest.TestReport) -> bool:
        return _skipped_by_cache(report)

    def __contains__(self, nodeid: str) -> bool:
        return nodeid in self._outcomes

    def node_ids(self) -> list[str]:
        return list(self._outcomes)

    def passed(self, nodeid: str) -> bool:
        outcome = self._outcomes.get(nodeid)
        return outcome is not None and outcome.ok and outcome.called and outcome.torn_down

    def unfinished(self) -> list[str]:
        """Tests that started but never reported a teardown (the run was interrupted in them)."""
        return [nodeid for nodeid, outcome in self._outcomes.items() if not outcome.torn_down]

    def failed(self, nodeid: str) -> bool:
        outcome = self._outcomes.get(nodeid)
        return outcome is not None and outcome.failed

    def cached(self, nodeid: str) -> bool:
        outcome = self._outcomes.get(nodeid)
        return outcome is not None and outcome.cached

    def seconds(self, nodeid: str) -> float:
        outcome = self._outcomes.get(nodeid)
        return outcome.seconds if outcome is not None else 0.0
