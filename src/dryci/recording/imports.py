"""Cut out the code a project module's import runs, so only that code counts for its importers.

A module's module-level code runs once per process, in whichever window imports it first, and every
later importer sees the globals it left: what ran *during that import* must count for every test file
that has the module in its closure. What the window ran before or after the import must not: a test
that lazily imports a module in the middle of its call phase would otherwise lend everything it ran
to every importer of that module (on click, one lazy ``import textwrap`` wrapper made one test's error
formatting count for all 611 tests).

The watcher is a meta path finder in front of the others that finds nothing itself: it asks the
finders behind it, and for a module whose file lies under the project root it wraps the found
loader's ``exec_module`` (on that loader instance, so its type is unchanged) to tell the recording
when the module's code starts and ends. Imports that bypass ``sys.meta_path`` (``exec``, ``runpy``,
``spec_from_file_location`` + ``exec_module``) are not cut out: their whole window counts, as before.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, Optional

__all__ = ["ImportWatcher"]

_WRAPPED = "_dryci_wrapped_exec_module"


class ImportWatcher:
    """Calls ``begin(path)`` before and ``end()`` after the module code of each project module."""

    def __init__(self, root: str, begin: Callable[[str], None], end: Callable[[], None]) -> None:
        self._root = os.path.abspath(root) + os.sep
        self._begin = begin
        self._end = end
        self._busy = False  # find_spec of the finders behind us may import: never recurse

    def install(self) -> None:
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        while self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None
    ) -> Optional[ModuleSpec]:
        if self._busy:
            return None
        self._busy = True
        try:
            spec = self._find(fullname, path, target)
        finally:
            self._busy = False
        if spec is not None and self._watched(spec):
            self._wrap(spec)
        return spec

    def _find(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType]
    ) -> Optional[ModuleSpec]:
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec: Optional[ModuleSpec] = find(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def _watched(self, spec: ModuleSpec) -> bool:
        origin = spec.origin
        if not origin or not origin.endswith(".py") or spec.loader is None:
            return False
        absolute = os.path.abspath(origin)
        return absolute.startswith(self._root) and "site-packages" not in absolute

    def _wrap(self, spec: ModuleSpec) -> None:
        loader: Any = spec.loader
        original = getattr(loader, "exec_module", None)
        if original is None or getattr(original, _WRAPPED, False):
            return
        begin, end = self._begin, self._end
        path = os.path.abspath(spec.origin or "")

        def exec_module(module: ModuleType) -> None:
            if threading.current_thread() is not threading.main_thread():
                original(module)  # windows belong to the main thread: not cut out
                return
            begin(path)
            try:
                original(module)
            finally:
                end()

        setattr(exec_module, _WRAPPED, True)
        try:
            # On the instance: a loader shared by many modules (pytest's assertion rewriter) is
            # wrapped once, and its exec_module then reports each module it executes.
            if _shared(loader):
                return self._wrap_shared(loader, original)
            loader.exec_module = exec_module
        except (AttributeError, TypeError):
            return  # a loader without an instance dict: this module's import is not cut out

    def _wrap_shared(self, loader: Any, original: Callable[[ModuleType], None]) -> None:
        begin, end, root = self._begin, self._end, self._root

        def exec_module(module: ModuleType) -> None:
            spec = getattr(module, "__spec__", None)
            origin = os.path.abspath(spec.origin) if spec is not None and spec.origin else ""
            if not origin.startswith(root) or threading.current_thread() is not threading.main_thread():
                original(module)
                return
            begin(origin)
            try:
                original(module)
            finally:
                end()

        setattr(exec_module, _WRAPPED, True)
        loader.exec_module = exec_module


def _shared(loader: Any) -> bool:
    """A loader that is also a finder serves many modules (one instance for all of them)."""
    return hasattr(loader, "find_spec")
