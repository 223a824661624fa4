"""Record, per test file, every repository file used while that file is collected and its tests run.

Sources, each attributed to the test file whose window is open:
- audit events (``sys.addaudithook``): ``open`` (``open``, ``io.open``, ``pathlib``, ``io.open_code``, and the
  C-level opens that raise the event), ``import`` (resolved to the module's ``__file__`` when the window
  closes), ``os.listdir`` / ``os.scandir`` of project folders;
- code execution (``tracer``) and the project modules reachable from the test module (``modules``), so a
  module first imported by an earlier test file still counts for a later one.

An audit hook cannot be removed, so it is installed once per process and gated by the active recorder.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from dryci.verify.paths import PathFilter
from dryci.verify.tracer import Tracer, make_tracer
from dryci.verify.usage import Use

_EVENTS = frozenset({"open", "import", "os.listdir", "os.scandir"})
_WRITE_ONLY_MODES = ("w", "a", "x")
_MODULE_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd")
_active: Recorder | None = None
_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    recorder = _active
    if recorder is None or event not in _EVENTS or recorder._sinks is None or recorder._busy:
        return
    recorder._busy = True
    try:
        recorder._on_event(event, args)
    except Exception:
        pass
    finally:
        recorder._busy = False


class Recorder:
    """Holds what each test file used. ``window(test_file)`` opens an attribution window."""

    def __init__(self, base_dir: Path, *, trace_execution: bool = True) -> None:
        self.paths = PathFilter(base_dir)
        self.uses: dict[str, set[Use]] = {}
        self._fixture_uses: dict[str, set[Use]] = {}
        self._sinks: list[set[Use]] | None = None
        self._pending_imports: list[tuple[str, str | None]] = []
        self._busy = False
        self._trace_execution = trace_execution
        self._tracer: Tracer | None = None

    def activate(self) -> None:
        global _active, _installed
        _active = self
        if self._trace_execution and self._tracer is None:
            self._tracer = make_tracer()
        if not _installed:
            sys.addaudithook(_audit)
            _installed = True

    def deactivate(self) -> None:
        global _active
        if _active is self:
            _active = None
        if self._tracer is not None:
            self._tracer.close()
            self._tracer = None

    @contextmanager
    def window(self, test_file: str) -> Iterator[None]:
        """Attribute everything used inside the ``with`` block to ``test_file`` (windows do not nest)."""
        if self._sinks is not None:  # e.g. a test that runs pytest in-process: keep the outer window
            yield
            return
        sink = self.uses.setdefault(test_file, set())
        self._sinks = [sink]
        if self._tracer is not None:
            self._tracer.start()
        try:
            yield
        finally:
            ran = self._tracer.stop() if self._tracer is not None else set()
            self._sinks = None
            self._flush_imports(sink)
            for filename in ran:
                rel = self.paths.project_code(filename)
                if rel is not None:
                    sink.add(Use(rel, "runs"))

    @contextmanager
    def fixture(self, name: str) -> Iterator[None]:
        """Also remember what a shared fixture's setup uses, for every later test that requests it."""
        bucket = self._fixture_uses.setdefault(name, set())
        if self._sinks is None:
            yield
            return
        self._sinks.append(bucket)
        try:
            yield
        finally:
            if self._sinks is not None and bucket in self._sinks:
                self._sinks.remove(bucket)

    def add_fixture_uses(self, test_file: str, fixture_names: Iterable[str]) -> None:
        sink = self.uses.setdefault(test_file, set())
        for name in fixture_names:
            sink.update(self._fixture_uses.get(name, ()))

    def snapshot(self) -> dict[str, frozenset[Use]]:
        """What each test file used, module uses named after the module (``via``) where still loaded.

        ``importlib.import_module`` raises no ``import`` audit event, only the ``open`` of the file, so
        the module name comes from ``sys.modules`` at the end of the session.
        """
        names: dict[str, str] = {}
        for name, module in list(sys.modules.items()):
            filename = getattr(module, "__file__", None)
            rel = self.paths.relative(filename) if isinstance(filename, str) else None
            if rel is not None:
                names.setdefault(rel, name)
        result = {}
        for test_file, uses in self.uses.items():
            result[test_file] = frozenset(
                Use(u.path, u.kind, u.reader, names.get(u.path))
                if u.via is None and u.kind in ("imports", "runs", "references")
                else u
                for u in uses
            )
        return result

    def add(self, test_file: str, uses: Iterable[Use]) -> None:
        self.uses.setdefault(test_file, set()).update(uses)

    # -- events -----------------------------------------------------------------------------------

    def _emit(self, use: Use) -> None:
        for sink in self._sinks or ():
            sink.add(use)

    def _on_event(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "import":
            frame = sys._getframe(2)
            self._pending_imports.append((str(args[0]), self._reader(frame)))
            return
        target = args[0]
        if target is None:
            target = "."
        if isinstance(target, int):  # a file descriptor: already opened, already recorded
            return
        path = os.fsdecode(target)
        if event == "open" and self._is_write_only(args):
            return
        rel = self.paths.relative(path)
        if rel is None:
            return
        frame = sys._getframe(2)
        caller = frame.f_code.co_filename
        reader = self._reader(frame)
        if event == "open":
            by_import_system = caller.startswith("<frozen importlib")
            kind = "imports" if by_import_system and rel.endswith(_MODULE_SUFFIXES) else "reads"
            if kind == "reads" and reader is None:
                return  # pytest's own reads (tracebacks, assertion rewriting) are not the test's
            self._emit(Use(rel, kind, reader))
        elif reader is not None and not caller.startswith("<frozen importlib"):
            # Listings by the import system fill its finder cache; only the project's own count.
            self._emit(Use(rel, "lists", reader))

    @staticmethod
    def _is_write_only(args: tuple[Any, ...]) -> bool:
        mode = args[1] if len(args) > 1 else None
        if isinstance(mode, str):
            return "+" not in mode and any(m in mode for m in _WRITE_ONLY_MODES)
        flags = args[2] if len(args) > 2 else None
        return isinstance(flags, int) and (flags & os.O_ACCMODE) == os.O_WRONLY

    def _reader(self, frame: FrameType | None) -> str | None:
        """The innermost project file on the stack: the code that asked for the file."""
        while frame is not None:
            rel = self.paths.project_code(frame.f_code.co_filename)
            if rel is not None:
                return rel
            frame = frame.f_back
        return None

    def _flush_imports(self, sink: set[Use]) -> None:
        pending, self._pending_imports = self._pending_imports, []
        for name, reader in pending:
            module = sys.modules.get(name)
            filename = getattr(module, "__file__", None)
            if not isinstance(filename, str):
                continue
            rel = self.paths.relative(filename)
            if rel is not None:
                sink.add(Use(rel, "imports", reader, name))
