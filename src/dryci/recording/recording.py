"""Which units of project code ran in a window (a test's call phase, collection, fixture setup...).

The tracer reports code objects; each is mapped once to ``(path, qualname)`` by its file and first line,
using the units of the file as it is on disk (parsed once per file). A code object outside the project
root, or in a file that is not Python source, is ignored: the dependency hash covers what lies outside.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

from dryci.exceptions import AnalysisError
from dryci.recording.units import MODULE, ModuleUnits, parse_units
from dryci.tracing import CodeTracer, make_code_tracer

__all__ = ["Unit", "UnitRecorder", "Window"]

Unit = tuple[str, str]  # (path relative to the root, POSIX; qualname or MODULE)

_THIRD_PARTY = ("site-packages", "dist-packages")


@dataclass(frozen=True)
class Window:
    """What ran in one window; ``modules``: the project files whose module-level code ran in it.

    An inert module (:attr:`ModuleUnits.inert`, e.g. an empty ``__init__.py``) is left out of
    ``modules``: importing it leaves no state that another window could read.
    """

    units: frozenset[Unit]
    modules: frozenset[str] = frozenset()

    @property
    def imported(self) -> bool:
        return bool(self.modules)


class UnitRecorder:
    """Records project units per window; one tracer for its whole life (``close`` gives it back)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        tracer: CodeTracer | None = None,
        units_of: Callable[[str], ModuleUnits | None] | None = None,
    ) -> None:
        """``units_of``: the units of a file as the analysis read it (from the parse cache), or
        LookupError when it has none (the file is then read and parsed here)."""
        self._root = os.path.abspath(root)
        self._units_of = units_of
        self._tracer = tracer if tracer is not None else make_code_tracer("dryci", resume=True, project=True)
        self._tracer.narrow(lambda filename: self._relative(filename) is not None)
        # By identity (the code object kept alive, so its id stays unique): equal code objects of two
        # files (same name, line and body) must not share one file's unit.
        self._unit_of: dict[int, tuple[CodeType, Unit | None]] = {}
        self._files: dict[str, ModuleUnits | None] = {}

    def start(self) -> None:
        self._tracer.start()

    def stop(self) -> Window:
        return self._window(self._tracer.stop())

    def switch(self) -> Window:
        """The window that ends now; the next one starts at once."""
        return self._window(self._tracer.switch())

    def take(self) -> Window:
        """The window that ends now, without re-arming the tracer (see ``CodeTracer.take``)."""
        return self._window(self._tracer.take())

    def _window(self, codes: Iterable[CodeType]) -> Window:
        units: set[Unit] = set()
        modules: set[str] = set()
        for code in codes:
            unit = self._unit(code)
            if unit is not None:
                units.add(unit)
                if code.co_name == "<module>" and unit[1] == MODULE and not self._inert(unit[0]):
                    modules.add(unit[0])
        return Window(frozenset(units), frozenset(modules))

    def close(self) -> None:
        self._tracer.close()

    def relative(self, filename: str | os.PathLike[str]) -> str | None:
        """``filename`` relative to the root (POSIX), or None when it lies outside."""
        absolute = os.path.abspath(filename)
        if not absolute.startswith(self._root + os.sep):
            return None
        return Path(os.path.relpath(absolute, self._root)).as_posix()

    def _unit(self, code: CodeType) -> Unit | None:
        try:
            return self._unit_of[id(code)][1]
        except KeyError:
            pass
        unit: Unit | None = None
        path = self._relative(code.co_filename)
        if path is not None:
            units = self._units(path)
            if code.co_name == "<module>" or units is None:
                # A module's code may start on its first statement (Python < 3.11), which can be a
                # function's line; an unparsable file counts as module-level code: any change re-runs.
                unit = (path, MODULE)
            else:
                unit = (path, units.unit_at(code.co_firstlineno))
        self._unit_of[id(code)] = (code, unit)
        return unit

    def _relative(self, filename: str) -> str | None:
        if not filename.endswith(".py"):
            return None  # "<string>", "<frozen ...>", compiled templates
        absolute = os.path.abspath(filename)
        if not absolute.startswith(self._root + os.sep):
            return None
        relative = Path(os.path.relpath(absolute, self._root))
        if any(part in _THIRD_PARTY or part.startswith(".") for part in relative.parts[:-1]):
            return None  # a virtualenv or tool directory inside the project
        return relative.as_posix()

    def _inert(self, path: str) -> bool:
        """Importing ``path`` leaves no state for importers: it makes no import group."""
        units = self._units(path)
        return units is not None and units.inert

    def _units(self, path: str) -> ModuleUnits | None:
        if path not in self._files and self._units_of is not None:
            with contextlib.suppress(LookupError):  # not analyzed, or changed since: parsed below
                self._files[path] = self._units_of(path)
        if path not in self._files:
            try:
                source = Path(self._root, path).read_bytes()
                self._files[path] = parse_units(source, path)
            except (OSError, AnalysisError):
                self._files[path] = None
        return self._files[path]
