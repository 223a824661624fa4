"""Per-process recording during a pytest run: which units ran, and on whose behalf.

The tracer runs from before the first conftest is imported until the session ends; hooks cut it into
windows, each with an *owner* that decides which tests count the window's units as executed:

- the call phase of test T: T's own units;
- the collection of a file (its module): that test file's *bucket*, shared by its tests only; the
  collection of a class in it: that class's bucket, shared by the tests of the class. Module-level
  code of a test module runs for its own tests: no other file sees the globals it leaves (an import
  of it from another test file is an import group, below);
- the setup phase of test T (function-scoped fixtures, xunit ``setup_method``, setup code outside any
  fixture, reporting of the setup phase): T's own units, as its call phase, in one window with it.
  Such a fixture is computed for T alone. A fixture of scope ``class`` (xunit ``setup_class``,
  unittest's ``setUpClass`` and class-scoped fixtures) is computed for one class and cached for it
  only: the class bucket. One of scope ``module`` (xunit ``setup_module``) is cached for its module:
  that test's file bucket. A ``session`` or ``package`` fixture's value is reused by tests of other
  files: GLOBAL. Fixtures set up inside others (``request.getfixturevalue``) stack. One window for
  setup and call is also one re-arming of the tracer per test instead of two (re-arming is the
  larger part of what recording costs);
- everything else (start-up: plugins and conftest imports; directory and package collection; teardown;
  session finish): GLOBAL, shared by every test of the run.

A window in which module-level code of project files ran is also an *import group* of those modules:
module-level code runs once per process, in whichever window imports the module first, and its results
(globals, registries, caches) are seen by every later importer. So the group's units count for every
test file whose static closure contains one of the modules, and for every test file when the modules
lie in no analyzed test file's closure (an importer the analysis cannot see). Its units also stay with
the window's owner. A test file's shared units are GLOBAL, its bucket, and its import groups.

Code run in another process cannot be traced: a test whose call phase forks or starts a Python
process (subprocess, ``os.system``, exec, spawn) gets no record and so always re-runs when its
dependencies change; such a process started outside any call phase (a fixture starting a server)
leaves the whole run unrecorded.

Known limit, shared with pytest-testmon: state one window leaves behind outside module-level code (an
``lru_cache`` filled, a global mutated) and a later test of another file or test reads is attributed
to the first window's owner only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from dryci.recording.recording import Unit, UnitRecorder
from dryci.recording.units import ModuleUnits
from dryci.tracing import CodeTracer, make_code_tracer

__all__ = [
    "ImportGroup",
    "Recorded",
    "Recording",
    "Unrecordable",
    "encode_recorded",
    "merge_recorded",
    "recording_key",
]


@dataclass(frozen=True)
class ImportGroup:
    """The units of windows in which module-level code of ``modules`` (project paths) ran."""

    modules: frozenset[str]
    units: frozenset[Unit]


@dataclass(frozen=True)
class Recorded:
    """A run's recording: units per owner (see the module docstring), per test id its own units."""

    global_units: frozenset[Unit]
    files: Mapping[str, frozenset[Unit]]  # test file path -> its bucket
    imports: tuple[ImportGroup, ...]
    tests: Mapping[str, frozenset[Unit]]  # node id -> the units its call phase ran
    classes: Mapping[str, frozenset[Unit]] = field(default_factory=dict)  # class node id -> its bucket

    def own(self, nodeid: str) -> frozenset[Unit] | None:
        """The units a test ran itself: its setup and call phases and the setup of the classes around it."""
        units = self.tests.get(nodeid)
        if units is None:
            return None
        around = [bucket for cls, bucket in self.classes.items() if nodeid.startswith(cls + "::")]
        return units.union(*around) if around else units

    def shared(self, test_path: str, closure: Collection[str], claimed: Collection[str]) -> frozenset[Unit]:
        """What every test of ``test_path`` counts as executed.

        ``closure``: the test file's static closure; ``claimed``: every path in the closure of some
        analyzed test file (a group outside all of them counts for everyone).
        """
        out = set(self.global_units)
        out.update(self.files.get(test_path, ()))
        for group in self.imports:
            if any(m in closure for m in group.modules) or not any(m in claimed for m in group.modules):
                out.update(group.units)
        return frozenset(out)


# An owner: ("global", ""), ("file", test file path), ("class", class node id) or ("test", node id).
_Owner = tuple[str, str]
_GLOBAL: _Owner = ("global", "")
_SHARED_SCOPES = frozenset({"session", "package"})

# Audit events of starting another process; its code runs where no tracer sees it. A fork copies
# this process (and may run project code there); for the others only a Python program can run
# project code, which its arguments show (``uname`` from ``platform.platform()`` does not count).
_FORK_EVENTS = frozenset({"os.fork", "os.forkpty"})
_SPAWN_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.startfile"}
)
_listening: list[Recording] = []  # the recording the audit hook reports to (the newest)
_hook_installed = False


def _runs_python(args: tuple[Any, ...]) -> bool:
    text = repr(args).lower()
    return "python" in text or os.path.basename(sys.executable).lower() in text


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _listening and (event in _FORK_EVENTS or (event in _SPAWN_EVENTS and _runs_python(args))):
        _listening[-1].spawned = True


def _listen(recording: Recording) -> None:
    # Audit hooks cannot be removed: install one per process, and point it at the live recording.
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True
    _listening.append(recording)


class Unrecordable(Exception):
    """The run cannot be recorded soundly (said once in the summary); no record is saved."""


class Recording:
    """Started as early as possible; :meth:`attach` names the project root once it is known."""

    def __init__(self, tracer: CodeTracer | None = None) -> None:
        self._tracer = tracer if tracer is not None else make_code_tracer("dryci", resume=True, project=True)
        self._recorder: UnitRecorder | None = None
        self._owners: list[_Owner] = [_GLOBAL]  # the innermost window's owner last
        self._setup_open = False  # the setup window (the test's own) stays open until the call phase
        self._global: set[Unit] = set()
        self._files: dict[str, set[Unit]] = {}
        self._classes: dict[str, set[Unit]] = {}
        self._imports: dict[frozenset[str], set[Unit]] = {}
        self._tests: dict[str, set[Unit]] = {}
        self._running = True
        self.spawned = False
        self.unrecordable: str | None = None
        self._untraced: set[str] = set()
        _listen(self)
        self._tracer.start()

    def attach(
        self, root: str | os.PathLike[str], units_of: Callable[[str], ModuleUnits | None] | None = None
    ) -> None:
        """``units_of``: see :class:`UnitRecorder`."""
        self._recorder = UnitRecorder(root, self._tracer, units_of)

    def _close_window(self, *, restart: bool = True, rearm: bool = True) -> None:
        """Give the current window to its owner (and to an import group) and start the next.

        ``rearm=False``: the next window reports only code not yet reported since the last re-arm
        (see :meth:`_end_call`); re-arming is what costs (CPython re-instruments each code object).
        """
        if self._recorder is None or not self._running:
            return
        if not restart:
            window = self._recorder.stop()
        else:
            window = self._recorder.switch() if rearm else self._recorder.take()
        kind, owner = self._owners[-1]
        spawned, self.spawned = self.spawned, False
        if spawned and kind == "test":
            self._untraced.add(owner)
        elif spawned and self.unrecordable is None:
            self.unrecordable = (
                "a process was started outside a test's call phase (its code cannot be traced)"
            )
        if kind == "test":
            self._tests.setdefault(owner, set()).update(window.units)
        elif kind == "file":
            self._files.setdefault(owner, set()).update(window.units)
        elif kind == "class":
            self._classes.setdefault(owner, set()).update(window.units)
        else:
            self._global.update(window.units)
        if window.modules:
            self._imports.setdefault(window.modules, set()).update(window.units)

    def _push(self, owner: _Owner) -> None:
        # Same owner as the open window: keep it open (fewer switches; a larger import group at worst).
        if owner != self._owners[-1]:
            self._close_window()
        self._owners.append(owner)

    def _replace(self, owner: _Owner) -> None:
        if owner != self._owners[-1]:
            self._close_window()
        self._owners[-1] = owner

    def _pop(self) -> None:
        if self._owners[-1] != self._owners[-2]:
            self._close_window()  # while its owner is still on top
        self._owners.pop()

    def _file_owner(self, node: Any) -> _Owner:
        """The bucket of the file ``node`` lies in; GLOBAL when it has none inside the root."""
        path = getattr(node, "path", None)
        if self._recorder is None or path is None:
            return _GLOBAL
        relative = self._recorder.relative(path)
        return _GLOBAL if relative is None else ("file", relative)

    def _class_owner(self, node: pytest.Class) -> _Owner:
        """The bucket of a test class; GLOBAL when its file lies outside the root."""
        return ("class", node.nodeid) if self._file_owner(node) != _GLOBAL else _GLOBAL

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, None]:
        # A Package is a Module on pytest < 8 but stands for a whole directory: GLOBAL.
        if isinstance(collector, pytest.Class):
            self._push(self._class_owner(collector))
        elif isinstance(collector, pytest.File) and not isinstance(collector, pytest.Package):
            self._push(self._file_owner(collector))
        else:
            self._push(_GLOBAL)
        yield
        self._pop()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Generator[None, Any, None]:
        scope = str(getattr(fixturedef, "scope", "session"))
        node = getattr(request, "node", None)
        if scope in _SHARED_SCOPES:
            self._push(_GLOBAL)
        elif scope == "class" and isinstance(node, pytest.Class):
            self._push(self._class_owner(node))
        elif scope == "function" and isinstance(node, pytest.Item):
            self._push(("test", node.nodeid))  # computed for this test alone
        else:
            self._push(self._file_owner(node))
        yield
        self._pop()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, None]:
        self._push(("test", item.nodeid))
        yield
        self._setup_open = True  # closed by the call phase, or by teardown when setup failed or skipped

    def _after_setup(self, owner: _Owner) -> None:
        if self._setup_open:
            self._setup_open = False
            self._replace(owner)
        else:
            self._push(owner)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, None]:
        self._after_setup(("test", item.nodeid))
        yield
        self._end_call()

    def _end_call(self) -> None:
        """Close the call window without re-arming: one re-instrumentation of everything less per test.

        Sound because the window after a call phase (reporting, teardown: GLOBAL) only runs until the
        next test's setup, which re-arms. Code it runs that this call phase already ran stays this
        test's: if it changes, this test re-runs, and its teardown with it; any other test whose
        teardown runs that code reports it in its own call window (re-armed) or teardown window.
        """
        if self._owners[-1] != self._owners[-2]:
            self._close_window(rearm=False)
        self._owners.pop()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, None]:
        self._after_setup(_GLOBAL)
        yield
        self._pop()

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
                self._owners[-1:] = [_GLOBAL]  # session finish
                self._close_window(restart=False)
            else:
                self._tracer.stop()
            self._running = False
            self._tracer.close()
            if self in _listening:
                _listening.remove(self)
        if self.unrecordable is not None:
            raise Unrecordable(self.unrecordable)
        return Recorded(
            frozenset(self._global),
            {path: frozenset(units) for path, units in self._files.items()},
            tuple(ImportGroup(modules, frozenset(units)) for modules, units in self._imports.items()),
            {
                nodeid: frozenset(units)
                for nodeid, units in self._tests.items()
                if nodeid not in self._untraced
            },
            {nodeid: frozenset(units) for nodeid, units in self._classes.items()},
        )


def encode_recorded(recording: Recording) -> dict[str, Any]:
    """Finish ``recording`` and return it JSON-able (xdist workers send this to the controller)."""
    try:
        recorded = recording.finish()
    except Unrecordable as exc:
        return {"unrecordable": str(exc)}
    return {
        "global": sorted(recorded.global_units),
        "files": {path: sorted(units) for path, units in recorded.files.items()},
        "imports": [[sorted(g.modules), sorted(g.units)] for g in recorded.imports],
        "tests": {nodeid: sorted(units) for nodeid, units in recorded.tests.items()},
        "classes": {nodeid: sorted(units) for nodeid, units in recorded.classes.items()},
    }


def _units(raw: Iterable[Any]) -> set[Unit]:
    return {(path, name) for path, name in raw}


def merge_recorded(parts: list[dict[str, Any]]) -> Recorded:
    """Several processes' recordings as one: each owner's units are the union over the processes.

    A module imports once per process, so the import groups of every process count.
    :class:`Unrecordable` if any process could not record soundly.
    """
    global_units: set[Unit] = set()
    files: dict[str, set[Unit]] = {}
    imports: dict[frozenset[str], set[Unit]] = {}
    tests: dict[str, set[Unit]] = {}
    classes: dict[str, set[Unit]] = {}
    for part in parts:
        if "unrecordable" in part:
            raise Unrecordable(part["unrecordable"])
        global_units.update(_units(part["global"]))
        for path, units in part["files"].items():
            files.setdefault(path, set()).update(_units(units))
        for modules, units in part["imports"]:
            imports.setdefault(frozenset(modules), set()).update(_units(units))
        for nodeid, units in part["tests"].items():
            tests.setdefault(nodeid, set()).update(_units(units))
        for nodeid, units in part.get("classes", {}).items():
            classes.setdefault(nodeid, set()).update(_units(units))
    return Recorded(
        frozenset(global_units),
        {path: frozenset(units) for path, units in files.items()},
        tuple(ImportGroup(modules, frozenset(units)) for modules, units in imports.items()),
        {nodeid: frozenset(units) for nodeid, units in tests.items()},
        {nodeid: frozenset(units) for nodeid, units in classes.items()},
    )


recording_key = pytest.StashKey[Recording]()
