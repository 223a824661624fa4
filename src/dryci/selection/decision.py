"""The one decision type: may this test (or this whole test file) be skipped, at which level, and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["SKIP_REASONS", "Decision", "Level"]


class Level(str, Enum):
    """How a cached result was found to still hold.

    ``file``: the test file's dependency hash is unchanged and the test passed under it.
    ``function``: the hash changed, but nothing the test executed did (its record says so).
    """

    FILE = "file"
    FUNCTION = "function"

    def __str__(self) -> str:
        return self.value


SKIP_REASONS = {
    Level.FILE: "dryci: passed before with identical dependencies",
    Level.FUNCTION: "dryci: passed before, and none of the code it ran changed",
}


@dataclass(frozen=True)
class Decision:
    """For a skip, ``reason`` says why it may be skipped; for a run, why it must run."""

    skip: bool
    reason: str
    level: Level
    seconds: float = 0.0  # what a skip saves: the test's duration when it last passed

    @property
    def skip_reason(self) -> str:
        return SKIP_REASONS[self.level]
