"""Which project files had code executed while one test file was being collected or run.

This is what keeps module caching from hiding a dependency in the default (single-process) mode: a module
imported by an earlier test file leaves no import or open event when a later test file uses it, but its
functions still run. Python 3.12+ uses ``sys.monitoring`` (each code object reported once per window,
then disabled until the next window); older versions fall back to a profile function, which costs more.
"""

from __future__ import annotations

import sys
import threading
from types import FrameType
from typing import Any, Protocol


class Tracer(Protocol):
    def start(self) -> None: ...

    def stop(self) -> set[str]:
        """Stop and return the co_filenames of the code that ran since ``start``."""
        ...

    def close(self) -> None:
        """Give back what the tracer holds (a monitoring tool id); it is not used again."""
        ...


class ProfileTracer:
    """``sys.setprofile``-based: one set insertion per Python call (about 4x slower test code)."""

    def __init__(self) -> None:
        self._files: set[str] = set()

    def start(self) -> None:
        files: set[str] = set()
        add = files.add

        # A closure over locals: the cheapest callback Python allows, since it runs on every call.
        def profile(frame: FrameType, event: str, arg: Any) -> None:
            if event == "call":
                add(frame.f_code.co_filename)

        self._files = files
        sys.setprofile(profile)
        threading.setprofile(profile)

    def stop(self) -> set[str]:
        sys.setprofile(None)
        threading.setprofile(None)
        files, self._files = self._files, set()
        return files

    def close(self) -> None:
        pass


class MonitoringTracer:
    """``sys.monitoring``-based (Python 3.12+): each code object costs one callback per window."""

    def __init__(self, tool_id: int) -> None:
        self._tool = tool_id
        self._files: set[str] = set()
        self._mon: Any = getattr(sys, "monitoring")  # noqa: B009 - absent before 3.12
        self._mon.use_tool_id(tool_id, "dryci-verify")
        self._mon.register_callback(tool_id, self._mon.events.PY_START, self._on_start)

    def _on_start(self, code: Any, offset: int) -> Any:
        self._files.add(code.co_filename)
        return self._mon.DISABLE

    def start(self) -> None:
        self._files = set()
        self._mon.restart_events()  # re-arm the code objects disabled in the previous window
        self._mon.set_events(self._tool, self._mon.events.PY_START)

    def stop(self) -> set[str]:
        self._mon.set_events(self._tool, 0)
        files, self._files = self._files, set()
        return files

    def close(self) -> None:
        # Python 3.12 keeps events and callbacks of a freed tool id: clear them first.
        self._mon.set_events(self._tool, 0)
        self._mon.register_callback(self._tool, self._mon.events.PY_START, None)
        self._mon.free_tool_id(self._tool)


def make_tracer() -> Tracer | None:
    """The cheapest tracer this Python offers; None if another tool holds every monitoring slot."""
    mon = getattr(sys, "monitoring", None)
    if mon is None:
        return ProfileTracer()
    for tool_id in (4, 3, 5, 2, 1, 0):
        if mon.get_tool(tool_id) is None:
            return MonitoringTracer(tool_id)
    return ProfileTracer()
