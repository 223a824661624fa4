"""Per-process recording during a pytest run: which units each test's call phase executed.

The tracer runs from before the first conftest is imported until the session ends; hooks around each
test's call phase cut it into windows. What runs in a call phase belongs to that test. Everything else
is *shared* and counts as run by every test: collection and imports (module-level calls leave their
results in globals), fixture setup and teardown (a session- or module-scoped fixture computed for one
test is reused by the next), and any call phase in which a project module was imported.

Known limit, shared with pytest-testmon: state one test's call phase leaves behind (an ``lru_cache``
filled, a global mutated) and a later test reads is attributed to the first test only.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any, Optional

import pytest

from dryci.precise.recording import Unit, UnitRecorder
from dryci.tracing import CodeTracer, make_code_tracer

__all__ = ["PreciseRecording", "Recorded", "encode_recorded", "merge_recorded", "recording_key"]

Recorded = tuple[frozenset[Unit], dict[str, frozenset[Unit]]]  # (shared units, node id -> units)


class PreciseRecording:
    """Started as early as possible; :meth:`attach` names the project root once it is known."""

    def __init__(self, tracer: Optional[CodeTracer] = None) -> None:
        self._tracer = tracer if tracer is not None else make_code_tracer("dryci-precise", resume=True)
        self._recorder: Optional[UnitRecorder] = None
        self._shared: set[Unit] = set()
        self._tests: dict[str, set[Unit]] = {}
        self._running = True
        self._tracer.start()

    def attach(self, root: str | os.PathLike[str]) -> None:
        self._recorder = UnitRecorder(root, self._tracer)

    def _switch(self, owner: Optional[str]) -> None:
        """End the current window (``owner``: the test whose call phase it was) and start the next."""
        if self._recorder is None or not self._running:
            return
        window = self._recorder.stop()
        if owner is None or window.imported:
            self._shared.update(window.units)
        else:
            self._tests.setdefault(owner, set()).update(window.units)
        self._recorder.start()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, None]:
        self._switch(None)
        yield
        self._switch(item.nodeid)

    def finish(self) -> Recorded:
        """Stop for good (the tracer is given back) and return what was recorded."""
        if self._running:
            if self._recorder is not None:
                self._shared.update(self._recorder.stop().units)
            else:
                self._tracer.stop()
            self._running = False
            self._tracer.close()
        return frozenset(self._shared), {nodeid: frozenset(units) for nodeid, units in self._tests.items()}


def encode_recorded(recorded: Recorded) -> dict[str, Any]:
    """A JSON-able form, for sending a worker's recording to the xdist controller."""
    shared, tests = recorded
    return {"shared": sorted(shared), "tests": {nodeid: sorted(units) for nodeid, units in tests.items()}}


def merge_recorded(parts: list[dict[str, Any]]) -> Recorded:
    """Several processes' recordings as one; every process's shared units count for every test."""
    shared: set[Unit] = set()
    tests: dict[str, set[Unit]] = {}
    for part in parts:
        shared.update((path, name) for path, name in part["shared"])
        for nodeid, units in part["tests"].items():
            tests.setdefault(nodeid, set()).update((path, name) for path, name in units)
    return frozenset(shared), {nodeid: frozenset(units) for nodeid, units in tests.items()}


recording_key = pytest.StashKey[PreciseRecording]()
