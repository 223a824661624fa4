"""Which code objects ran between ``start`` and ``stop``: shared by the verifier and precise mode.

Python 3.12+ uses ``sys.monitoring``: each code object is reported once per window, then disabled until
the next window re-arms it with ``restart_events``, so the overhead stays near zero. Older versions fall
back to a profile function (one dict insertion per Python call, about 4x slower test code).

Code objects are collected by identity, never in a set: two functions with the same name, first line
and body in two files compare (and hash) equal, and a set would keep only one of them, so the other
file's code would go unrecorded.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Collection
from types import CodeType, FrameType
from typing import Any, Protocol

__all__ = [
    "TOOL_IDS",
    "CodeTracer",
    "MonitoringCodeTracer",
    "ProfileCodeTracer",
    "ProjectCodeTracer",
    "make_code_tracer",
]

# Tool ids tried in order: 0-2 are conventionally debuggers, coverage and profilers; prefer the free slots.
TOOL_IDS = (4, 3, 5, 2, 1, 0)


class CodeTracer(Protocol):
    def start(self) -> None: ...

    def stop(self) -> Collection[CodeType]:
        """Stop and return the code objects that started (or resumed) since ``start`` (each once)."""
        ...

    def switch(self) -> Collection[CodeType]:
        """``stop`` then ``start``, as one step: what a window switch costs should stay small."""
        ...

    def take(self) -> Collection[CodeType]:
        """End the window without re-arming: the next one reports only code not reported since the
        last ``start`` or ``switch`` (with the profile fallback, which never disarms: all of it)."""
        ...

    def close(self) -> None:
        """Give back what the tracer holds (a monitoring tool id); it is not used again."""
        ...

    def narrow(self, keep: Callable[[str], bool]) -> None:
        """From now on only code whose ``co_filename`` ``keep`` accepts needs reporting (a hint: a
        tracer may report more, never less of what is kept)."""
        ...


class ProfileCodeTracer:
    """``sys.setprofile``-based fallback for Python < 3.12 (and when every monitoring slot is taken).

    Threads started while a window is open keep the profile function after it closes, so it adds to
    whatever window is current (a one-element box), never to a finished one.
    """

    def __init__(self) -> None:
        self._box: list[dict[int, CodeType] | None] = [None]

    def start(self) -> None:
        box = self._box
        box[0] = {}

        # A closure over locals: the cheapest callback Python allows, since it runs on every call.
        # "call" also fires when a generator or coroutine resumes.
        def profile(frame: FrameType, event: str, arg: Any) -> None:
            if event == "call":
                codes = box[0]
                if codes is not None:
                    code = frame.f_code
                    codes[id(code)] = code  # by identity: see the module docstring

        sys.setprofile(profile)
        threading.setprofile(profile)

    def stop(self) -> Collection[CodeType]:
        sys.setprofile(None)
        threading.setprofile(None)
        codes, self._box[0] = self._box[0], None
        return list(codes.values()) if codes else []

    def switch(self) -> Collection[CodeType]:
        # The profile function stays installed: only the box it fills is replaced.
        codes, self._box[0] = self._box[0], {}
        return list(codes.values()) if codes else []

    def take(self) -> Collection[CodeType]:
        return self.switch()

    def close(self) -> None:
        self._box[0] = None

    def narrow(self, keep: Callable[[str], bool]) -> None:
        pass  # the callback runs on every call anyway: a filter there would only add to it


class MonitoringCodeTracer:
    """``sys.monitoring``-based (Python 3.12+): each code object costs one callback per window.

    With ``resume=True`` a generator or coroutine resumed in this window counts too, even when it
    started in an earlier one.
    """

    def __init__(self, tool_id: int, name: str, *, resume: bool = False) -> None:
        self._tool = tool_id
        self._codes: dict[int, CodeType] = {}  # by identity: see the module docstring
        self._mon: Any = getattr(sys, "monitoring")  # noqa: B009 - absent before 3.12
        self._events = self._mon.events.PY_START | (self._mon.events.PY_RESUME if resume else 0)
        self._mon.use_tool_id(tool_id, name)
        self._mon.register_callback(tool_id, self._mon.events.PY_START, self._on_code)
        if resume:
            self._mon.register_callback(tool_id, self._mon.events.PY_RESUME, self._on_code)

    def _on_code(self, code: CodeType, offset: int) -> Any:
        self._codes[id(code)] = code
        return self._mon.DISABLE

    def start(self) -> None:
        self._codes = {}
        self._mon.restart_events()  # re-arm the code objects disabled in the previous window
        self._mon.set_events(self._tool, self._events)

    def stop(self) -> Collection[CodeType]:
        self._mon.set_events(self._tool, 0)
        codes, self._codes = self._codes, {}
        return list(codes.values())

    def switch(self) -> Collection[CodeType]:
        # Events stay set: turning them off and on would make CPython re-instrument every code
        # object twice more; one restart_events re-arms the ones this window disabled.
        codes, self._codes = self._codes, {}
        self._mon.restart_events()
        return list(codes.values())

    def take(self) -> Collection[CodeType]:
        codes, self._codes = self._codes, {}
        return list(codes.values())

    def close(self) -> None:
        # Python 3.12 keeps events and callbacks of a freed tool id: clear them first.
        self._mon.set_events(self._tool, 0)
        self._mon.register_callback(self._tool, self._mon.events.PY_START, None)
        self._mon.register_callback(self._tool, self._mon.events.PY_RESUME, None)
        self._mon.free_tool_id(self._tool)

    def narrow(self, keep: Callable[[str], bool]) -> None:
        pass


class ProjectCodeTracer:
    """``sys.monitoring`` with two tools, so that a window switch re-arms project code only.

    ``restart_events()`` re-arms every code object in the process: each one that runs again (pytest's
    own code above all) is re-instrumented and calls back once per window, most of what recording a
    test costs. Here a *finder* tool sees each code object once (its events are never restarted);
    those in files ``narrow`` keeps get local events of a *watcher* tool, and a switch re-arms just
    the watched code objects that ran since the last one, by turning their local events off and on.
    Until ``narrow`` is called every code object found is kept.
    """

    def __init__(self, finder: int, watcher: int, name: str, *, resume: bool = False) -> None:
        self._mon: Any = getattr(sys, "monitoring")  # noqa: B009 - absent before 3.12
        events = self._mon.events
        self._events = events.PY_START | (events.PY_RESUME if resume else 0)
        self._finder, self._watcher = finder, watcher
        self._keep: Callable[[str], bool] | None = None
        self._verdicts: dict[str, bool] = {}  # co_filename -> kept
        self._pending: list[CodeType] = []  # found before ``narrow``
        self._watched: dict[int, CodeType] = {}  # by identity: see the module docstring
        self._codes: dict[int, CodeType] = {}  # reported in this window
        self._disarmed: dict[int, CodeType] = {}  # reported since the last re-arm
        self._running = False
        for tool in (finder, watcher):
            self._mon.use_tool_id(tool, name)
        for event in (events.PY_START, events.PY_RESUME):
            if self._events & event:
                self._mon.register_callback(finder, event, self._on_found)
                self._mon.register_callback(watcher, event, self._on_watched)

    def _on_found(self, code: CodeType, offset: int) -> Any:
        if self._keep is None:
            self._pending.append(code)
        else:
            self._watch(code)
        return self._mon.DISABLE  # for good: the finder's events are never restarted

    def _watch(self, code: CodeType) -> None:
        assert self._keep is not None
        name = code.co_filename
        kept = self._verdicts.get(name)
        if kept is None:
            kept = self._verdicts[name] = self._keep(name)
        if kept:
            self._watched[id(code)] = code
            self._mon.set_local_events(self._watcher, code, self._events)
            if self._running:
                self._codes[id(code)] = code  # this run of it came before its local events

    def _on_watched(self, code: CodeType, offset: int) -> Any:
        if self._running:
            self._codes[id(code)] = code
        self._disarmed[id(code)] = code
        return self._mon.DISABLE

    def narrow(self, keep: Callable[[str], bool]) -> None:
        self._keep = keep
        pending, self._pending = self._pending, []
        for code in pending:
            self._watch(code)

    def _rearm(self) -> None:
        disarmed, self._disarmed = self._disarmed, {}
        local = self._mon.set_local_events
        for code in disarmed.values():
            local(self._watcher, code, 0)
            local(self._watcher, code, self._events)

    def start(self) -> None:
        self._codes = {}
        self._rearm()
        self._running = True
        self._mon.set_events(self._finder, self._events)

    def stop(self) -> Collection[CodeType]:
        self._running = False
        self._mon.set_events(self._finder, 0)
        codes, self._codes = self._codes, {}
        if self._keep is None:
            codes.update((id(code), code) for code in self._pending)
        return list(codes.values())

    def switch(self) -> Collection[CodeType]:
        codes, self._codes = self._codes, {}
        self._rearm()
        return list(codes.values())

    def take(self) -> Collection[CodeType]:
        codes, self._codes = self._codes, {}
        return list(codes.values())

    def close(self) -> None:
        self._running = False
        self._mon.set_events(self._finder, 0)
        for code in self._watched.values():
            self._mon.set_local_events(self._watcher, code, 0)
        self._watched.clear()
        for tool in (self._finder, self._watcher):
            for event in (self._mon.events.PY_START, self._mon.events.PY_RESUME):
                self._mon.register_callback(tool, event, None)
            self._mon.free_tool_id(tool)


def make_code_tracer(name: str, *, resume: bool = False, project: bool = False) -> CodeTracer:
    """The cheapest tracer this Python offers; a profile function if another tool holds every slot.

    ``project``: the caller will ``narrow`` it to project files (a :class:`ProjectCodeTracer` when
    two monitoring slots are free).
    """
    mon = getattr(sys, "monitoring", None)
    if mon is None:
        return ProfileCodeTracer()
    free = [tool_id for tool_id in TOOL_IDS if mon.get_tool(tool_id) is None]
    if project and len(free) >= 2:
        return ProjectCodeTracer(free[0], free[1], name, resume=resume)
    for tool_id in TOOL_IDS:
        if mon.get_tool(tool_id) is None:
            return MonitoringCodeTracer(tool_id, name, resume=resume)
    return ProfileCodeTracer()
