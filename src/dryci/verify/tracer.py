"""Which project files had code executed while one test file was being collected or run.

This is what keeps module caching from hiding a dependency in the default (single-process) mode: a module
imported by an earlier test file leaves no import or open event when a later test file uses it, but its
functions still run. The tracing itself lives in :mod:`dryci.tracing` (shared with precise mode); this
module only reduces the code objects that ran to their files.
"""

from __future__ import annotations

import sys
from typing import Protocol

from dryci.tracing import TOOL_IDS, CodeTracer, MonitoringCodeTracer, ProfileCodeTracer


class Tracer(Protocol):
    def start(self) -> None: ...

    def stop(self) -> set[str]:
        """Stop and return the co_filenames of the code that ran since ``start``."""
        ...

    def close(self) -> None:
        """Give back what the tracer holds (a monitoring tool id); it is not used again."""
        ...


class _FileTracer:
    def __init__(self, codes: CodeTracer) -> None:
        self._codes = codes

    def start(self) -> None:
        self._codes.start()

    def stop(self) -> set[str]:
        return {code.co_filename for code in self._codes.stop()}

    def close(self) -> None:
        self._codes.close()


class ProfileTracer(_FileTracer):
    """``sys.setprofile``-based: one set insertion per Python call (about 4x slower test code)."""

    def __init__(self) -> None:
        super().__init__(ProfileCodeTracer())


class MonitoringTracer(_FileTracer):
    """``sys.monitoring``-based (Python 3.12+): each code object costs one callback per window."""

    def __init__(self, tool_id: int) -> None:
        super().__init__(MonitoringCodeTracer(tool_id, "dryci-verify"))


def make_tracer() -> Tracer | None:
    """The cheapest tracer this Python offers (a profile function if every monitoring slot is taken)."""
    mon = getattr(sys, "monitoring", None)
    if mon is None:
        return ProfileTracer()
    for tool_id in TOOL_IDS:
        if mon.get_tool(tool_id) is None:
            return MonitoringTracer(tool_id)
    return ProfileTracer()
