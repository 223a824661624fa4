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
from collections.abc import Collection
from types import CodeType, FrameType
from typing import Any, Protocol

__all__ = ["TOOL_IDS", "CodeTracer", "MonitoringCodeTracer", "ProfileCodeTracer", "make_code_tracer"]

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


def make_code_tracer(name: str, *, resume: bool = False) -> CodeTracer:
    """The cheapest tracer this Python offers; a profile function if another tool holds every slot."""
    mon = getattr(sys, "monitoring", None)
    if mon is None:
        return ProfileCodeTracer()
    for tool_id in TOOL_IDS:
        if mon.get_tool(tool_id) is None:
            return MonitoringCodeTracer(tool_id, name, resume=resume)
    return ProfileCodeTracer()
