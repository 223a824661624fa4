"""Per-process recording during a pytest run: which units each test's call phase executed.

The tracer runs from before the first conftest is imported until the session ends; hooks around each
test's call phase cut it into windows. What runs in a call phase belongs to that test. Everything else
is *shared* and counts as run by every test: collection and imports (module-level calls leave their
results in globals), fixture setup and teardown (a session- or module-scoped fixture computed for one
test is reused by the next), and any call phase in which a project module was imported.

Code run in another process cannot be traced: a test whose call phase forks or starts a Python
process (subprocess, ``os.system``, exec, spawn) gets no record and so always re-runs when its
dependencies change; such a process started outside any call phase (a fixture starting a server)
leaves the whole run unrecorded.

Known limit, shared with pytest-testmon: state one test's call phase leaves behind (an ``lru_cache``
filled, a global mutated) and a later test reads is attributed to the first test only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from typing import Any

import pytest

from dryci.precise.recording import Unit, UnitRecorder
from dryci.tracing import CodeTracer, make_code_tracer

__all__ = [
    "PreciseRecording",
    "Recorded",
    "Unrecordable",
    "encode_recorded",
    "merge_recorded",
    "recording_key",
]

Recorded = tuple[frozenset[Unit], dict[str, frozenset[Unit]]]  # (shared units, node id -> units)

# Audit events of starting another process; its code runs where no tracer sees it. A fork copies
# this process (and may run project code there); for the others only a Python program can run
# project code, which its arguments show (``uname`` from ``platform.platform()`` does not count).
_FORK_EVENTS = frozenset({"os.fork", "os.forkpty"})
_SPAWN_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.startfile"}
)
_listening: list[PreciseRecording] = []  # the recording the audit hook reports to (the newest)
_hook_installed = False


def _runs_python(args: tuple[Any, ...]) -> bool:
    text = repr(args).lower()
    return "python" in text or os.path.basename(sys.executable).lower() in text


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _listening and (event in _FORK_EVENTS or (event in _SPAWN_EVENTS and _runs_python(args))):
        _listening[-1].spawned = True


def _listen(recording: PreciseRecording) -> None:
    # Audit hooks cannot be removed: install one per process, and point it at the live recording.
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True
    _listening.append(recording)


class Unrecordable(Exception):
    """The run cannot be recorded soundly (said once in the summary); no manifest is saved."""


class PreciseRecording:
    """Started as early as possible; :meth:`attach` names the project root once it is known."""

    def __init__(self, tracer: CodeTracer | None = None) -> None:
        self._tracer = tracer if tracer is not None else make_code_tracer("dryci-precise", resume=True)
        self._recorder: UnitRecorder | None = None
        self._shared: set[Unit] = set()
        self._tests: dict[str, set[Unit]] = {}
        self._running = True
        self.spawned = False
        self.unrecordable: str | None = None
        self._untraced: set[str] = set()
        _listen(self)
        self._tracer.start()

    def attach(self, root: str | os.PathLike[str]) -> None:
        self._recorder = UnitRecorder(root, self._tracer)

    def _switch(self, owner: str | None) -> None:
        """End the current window (``owner``: the test whose call phase it was) and start the next."""
        if self._recorder is None or not self._running:
            return
        window = self._recorder.stop()
        spawned, self.spawned = self.spawned, False
        if spawned and owner is not None:
            self._untraced.add(owner)
        elif spawned and self.unrecordable is None:
            self.unrecordable = (
                "a process was started outside a test's call phase (its code cannot be traced)"
            )
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

    def stop(self) -> None:
        """Stop for good without a result (idempotent; :meth:`finish` after it records nothing)."""
        if self._running:
            if self.unrecordable is None:
                self.unrecordable = "the recording stopped before the session finished"
            self._running = False
            self._tracer.stop()
            self._tracer.close()
            if self in _listening:
                _listening.remove(self)

    def finish(self) -> Recorded:
        """Stop for good (the tracer is given back) and return what was recorded."""
        if self._running:
            if self._recorder is not None:
                self._shared.update(self._recorder.stop().units)
            else:
                self._tracer.stop()
            self._running = False
            self._tracer.close()
            if self in _listening:
                _listening.remove(self)
        if self.unrecordable is not None:
            raise Unrecordable(self.unrecordable)
        tests = {
            nodeid: frozenset(units) for nodeid, units in self._tests.items() if nodeid not in self._untraced
        }
        return frozenset(self._shared), tests


def encode_recorded(recording: PreciseRecording) -> dict[str, Any]:
    """Finish ``recording`` and return it JSON-able (xdist workers send this to the controller)."""
    try:
        shared, tests = recording.finish()
    except Unrecordable as exc:
        return {"unrecordable": str(exc)}
    return {"shared": sorted(shared), "tests": {nodeid: sorted(units) for nodeid, units in tests.items()}}


def merge_recorded(parts: list[dict[str, Any]]) -> Recorded:
    """Several processes' recordings as one; every process's shared units count for every test.

    :class:`Unrecordable` if any process could not record soundly.
    """
    shared: set[Unit] = set()
    tests: dict[str, set[Unit]] = {}
    for part in parts:
        if "unrecordable" in part:
            raise Unrecordable(part["unrecordable"])
        shared.update((path, name) for path, name in part["shared"])
        for nodeid, units in part["tests"].items():
            tests.setdefault(nodeid, set()).update((path, name) for path, name in units)
    return frozenset(shared), {nodeid: frozenset(units) for nodeid, units in tests.items()}


recording_key = pytest.StashKey[PreciseRecording]()
