"""The recorder in this process: audit events and executed code attributed to the open window."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dryci.verify.paths import PathFilter
from dryci.verify.recorder import Recorder
from dryci.verify.tracer import MonitoringTracer
from dryci.verify.usage import Use

T = "tests/test_x.py"

READER = """
import importlib, os, pkgutil
from pathlib import Path
HERE = Path(__file__).parent

def read_open():
    with open(HERE / "data" / "a.txt") as f:
        return f.read()

def read_pathlib():
    return (HERE / "data" / "b.txt").read_text()

def read_pkgutil():
    return pkgutil.get_data("proj", "data/c.txt")

def list_data():
    return sorted(os.listdir(HERE / "data"))

def read_relative(path):
    with open(path) as f:
        return f.read()

def write_out(path):
    Path(path).write_text("x")

def load(name):
    return importlib.import_module("proj.plugins." + name)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    pkg = tmp_path / "proj"
    (pkg / "data").mkdir(parents=True)
    (pkg / "plugins").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "plugins" / "__init__.py").write_text("")
    (pkg / "plugins" / "alpha.py").write_text("def run():\n    return 1\n")
    (pkg / "reader.py").write_text(READER)
    for name in "abc":
        (pkg / "data" / f"{name}.txt").write_text(name)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m == "proj" or m.startswith("proj.")]:
        del sys.modules[name]


@pytest.fixture
def recorder(project: Path) -> Iterator[Recorder]:
    rec = Recorder(project)
    rec.activate()
    yield rec
    rec.deactivate()


def _reader() -> object:
    return importlib.import_module("proj.reader")


def test_open_pathlib_and_pkgutil_reads_are_attributed_to_the_reading_module(recorder: Recorder) -> None:
    module: object = _reader()
    with recorder.window(T):
        module.read_open()  # type: ignore[attr-defined]
        module.read_pathlib()  # type: ignore[attr-defined]
        module.read_pkgutil()  # type: ignore[attr-defined]
    reads = {u for u in recorder.uses[T] if u.kind == "reads"}
    assert reads == {
        Use("proj/data/a.txt", "reads", "proj/reader.py"),
        Use("proj/data/b.txt", "reads", "proj/reader.py"),
        Use("proj/data/c.txt", "reads", "proj/reader.py"),
    }


def test_nothing_is_recorded_outside_a_window(recorder: Recorder) -> None:
    module: object = _reader()
    module.read_open()  # type: ignore[attr-defined]
    assert recorder.uses == {}


def test_writes_and_files_outside_the_base_dir_are_ignored(
    recorder: Recorder, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    module: object = _reader()
    outside = tmp_path_factory.mktemp("elsewhere") / "x.txt"
    outside.write_text("x")
    with recorder.window(T):
        module.write_out(project / "proj" / "out.txt")  # type: ignore[attr-defined]
        module.write_out(outside)  # type: ignore[attr-defined]
        outside.read_text()
    assert {u.path for u in recorder.uses[T]} <= {"proj/__init__.py", "proj/reader.py"}


def test_a_listing_of_a_project_folder_is_recorded_with_its_reader(recorder: Recorder) -> None:
    module: object = _reader()
    with recorder.window(T):
        module.list_data()  # type: ignore[attr-defined]
    assert Use("proj/data", "lists", "proj/reader.py") in recorder.uses[T]


def test_imports_map_compiled_files_to_their_source(recorder: Recorder) -> None:
    with recorder.window(T):
        module: object = _reader()
        module.load("alpha")  # type: ignore[attr-defined]
    paths = {u.path for u in recorder.snapshot()[T] if u.kind == "imports"}
    expected = {"proj/__init__.py", "proj/reader.py", "proj/plugins/__init__.py", "proj/plugins/alpha.py"}
    assert expected <= paths
    assert not any("__pycache__" in p for p in paths)


def test_a_module_imported_in_an_earlier_window_still_counts_when_its_code_runs(recorder: Recorder) -> None:
    with recorder.window("tests/test_first.py"):
        module: object = _reader()
        module.load("alpha")  # type: ignore[attr-defined]
    with recorder.window(T):
        module.load("alpha").run()  # type: ignore[attr-defined]
    uses = recorder.snapshot()[T]
    assert Use("proj/plugins/alpha.py", "runs", None, "proj.plugins.alpha") in uses


def test_paths_relative_to_the_working_directory_are_resolved(
    recorder: Recorder, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module: object = _reader()
    monkeypatch.chdir(project / "proj")
    with recorder.window(T):
        module.read_relative("data/a.txt")  # type: ignore[attr-defined]
    assert Use("proj/data/a.txt", "reads", "proj/reader.py") in recorder.uses[T]


def test_listings_by_code_outside_the_project_are_ignored(recorder: Recorder, project: Path) -> None:
    with recorder.window(T):
        os.listdir(project / "proj" / "data")  # this test module is not project code
    assert not any(u.kind == "lists" for u in recorder.uses[T])


def test_many_recorders_in_one_process_each_trace_code(project: Path) -> None:
    # pytester runs pytest in-process again and again: each recorder must give its tracer back.
    for _ in range(8):
        rec = Recorder(project)
        rec.activate()
        if sys.version_info >= (3, 12):  # every monitoring slot would be taken after six leaks
            assert isinstance(rec._tracer, MonitoringTracer)
        try:
            with rec.window(T):
                module: object = _reader()
                module.load("alpha").run()  # type: ignore[attr-defined]
        finally:
            rec.deactivate()
        assert Use("proj/plugins/alpha.py", "runs") in rec.uses[T]
        for name in [m for m in sys.modules if m == "proj" or m.startswith("proj.")]:
            del sys.modules[name]


def test_a_module_loaded_from_its_cached_pyc_is_recorded_as_its_source(recorder: Recorder) -> None:
    importlib.import_module("proj.plugins.alpha")  # writes proj/plugins/__pycache__/alpha.*.pyc
    del sys.modules["proj.plugins.alpha"]
    with recorder.window(T):
        importlib.import_module("proj.plugins.alpha")
    assert Use("proj/plugins/alpha.py", "imports", None) in recorder.uses[T]


def test_the_path_filter_maps_pyc_files_and_drops_ignored_folders(project: Path) -> None:
    paths = PathFilter(project)
    cached = importlib.util.cache_from_source(str(project / "proj" / "reader.py"))
    assert paths.relative(cached) == "proj/reader.py"
    assert paths.relative(str(project / ".venv" / "lib" / "x.py")) is None
    assert paths.relative(str(project.parent / "elsewhere.txt")) is None
    assert paths.relative(str(project / "proj" / "data" / "a.txt")) == "proj/data/a.txt"
