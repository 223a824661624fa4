"""One selection over both levels: which test files need not be imported, and each test's decision.

The file level answers first (the test file's dependency hash is unchanged and the test passed
under it); where it has no answer, the function level does (the test file's record). Both are decided
before collection; both are plain data, so xdist workers get the same answers as the controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dryci.selection.decision import Decision, Level
from dryci.selection.files import Plan, in_canary
from dryci.selection.functions import FileVerdict
from dryci.selection.keys import Keys

__all__ = ["Selection", "Uncollected"]

NOT_CACHED = "no cached pass under its current dependencies"


@dataclass(frozen=True)
class Uncollected:
    """A test file not imported this run: at which level, how many tests, and what they would take."""

    level: Level
    tests: int
    seconds: float


@dataclass(frozen=True)
class Selection:
    plan: Plan = field(default_factory=Plan)
    verdicts: Mapping[str, FileVerdict] = field(default_factory=dict)  # files read at function level
    keys: Keys | None = None

    @property
    def skip(self) -> bool:
        return self.plan.skip

    def function_id(self, path: str, name: str) -> bytes | None:
        return self.keys.test(f"{path}::{name}") if self.keys is not None else None

    def uncollected(
        self, exclude: Iterable[str] = (), canary_seed: str = "", canary: float = 0.0
    ) -> dict[str, Uncollected]:
        """Files that need not be imported at all.

        Never files the user named tests of, nor files holding a test the canary picked (it must
        run, so the file must be imported).
        """
        if not self.skip:
            return {}
        out = {}
        for path in self.plan.shortcut_files(exclude, canary_seed, canary):
            file_plan = self.plan.files[path]
            # Cached skips are not counted as cached tests: they would not have run anyway.
            tests = (file_plan.test_count or 0) - len(file_plan.skipped)
            out[path] = Uncollected(Level.FILE, tests, file_plan.seconds)
        excluded = set(exclude)
        for path, verdict in self.verdicts.items():
            record = verdict.record
            if path in out or path in excluded or not verdict.untouched:
                continue
            if any(in_canary(canary_seed, test_id.hex(), canary) for test_id in record.tests):
                continue
            out[path] = Uncollected(Level.FUNCTION, len(record.tests), sum(record.seconds))
        return out

    def decide(self, path: str, name: str) -> Decision | None:
        """The decision for one collected test; None for a file outside the analyzed inputs."""
        file_plan = self.plan.files.get(path)
        if file_plan is None:
            return None
        if not self.skip:
            return Decision(False, "skipping is off (--dryci-no-skip)", Level.FILE)
        test_id = file_plan.test_id(name)
        if test_id in file_plan.passed:
            return Decision(
                True, "passed under the same dependency hash", Level.FILE, file_plan.passed[test_id]
            )
        verdict = self.verdicts.get(path)
        function_id = self.function_id(path, name)
        if verdict is None or function_id is None:
            return Decision(False, NOT_CACHED, Level.FILE)
        why = verdict.reason_for(function_id)
        if why is None:
            return Decision(
                True, "none of the code it ran changed", Level.FUNCTION, verdict.seconds(function_id)
            )
        return Decision(False, why, Level.FUNCTION)

    def canary_id(self, path: str, name: str, decision: Decision) -> str:
        """The id the canary samples a test by (the same in every xdist worker)."""
        if decision.level is Level.FUNCTION:
            function_id = self.function_id(path, name)
            if function_id is not None:
                return function_id.hex()
        return self.plan.files[path].test_id(name)
