from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

from dryci.recording.recording import UnitRecorder
from dryci.recording.units import MODULE
from dryci.tracing import ProfileCodeTracer, make_code_tracer

LIB = textwrap.dedent(
    """
    def used():
        return helper() + 1

    def helper():
        return 1

    def unused():
        return 2

    class Thing:
        def method(self):
            return 3

    def gen():
        yield 1
        yield 2
    """
)


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["best", "project", "profile"])
def recorder(request, tmp_path):
    if request.param == "profile":
        tracer = ProfileCodeTracer()
    else:
        tracer = make_code_tracer("dryci-test", resume=True, project=request.param == "project")
    rec = UnitRecorder(tmp_path, tracer)
    yield rec
    rec.close()


def write_lib(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    path = tmp_path / "pkg" / "lib.py"
    path.write_text(LIB)
    return path


def test_a_window_holds_the_functions_that_ran_and_not_the_others(recorder, tmp_path):
    lib = load(write_lib(tmp_path), "precise_lib_a")
    recorder.start()
    lib.used()
    lib.Thing().method()
    window = recorder.stop()
    assert window.units == {("pkg/lib.py", "used"), ("pkg/lib.py", "helper"), ("pkg/lib.py", "Thing.method")}
    assert window.imported is False


def test_each_window_records_again_what_an_earlier_window_already_saw(recorder, tmp_path):
    lib = load(write_lib(tmp_path), "precise_lib_b")
    for _ in range(3):
        recorder.start()
        lib.helper()
        assert recorder.stop().units == {("pkg/lib.py", "helper")}


def test_a_generator_resumed_in_a_later_window_counts_there(recorder, tmp_path):
    lib = load(write_lib(tmp_path), "precise_lib_c")
    recorder.start()
    iterator = lib.gen()
    next(iterator)
    recorder.stop()
    recorder.start()
    next(iterator)
    assert recorder.stop().units == {("pkg/lib.py", "gen")}


def test_importing_a_project_module_in_a_window_is_flagged(recorder, tmp_path):
    path = write_lib(tmp_path)
    recorder.start()
    load(path, "precise_lib_d")
    window = recorder.stop()
    assert window.imported is True, window
    assert ("pkg/lib.py", MODULE) in window.units


def test_code_outside_the_root_or_in_hidden_and_third_party_directories_is_ignored(recorder, tmp_path):
    for hidden in (".venv/lib/site-packages", "vendor/site-packages"):
        (tmp_path / hidden).mkdir(parents=True)
        (tmp_path / hidden / "dep.py").write_text("def f():\n    return 1\n")
    deps = [
        load(tmp_path / h / "dep.py", f"precise_dep_{i}")
        for i, h in enumerate((".venv/lib/site-packages", "vendor/site-packages"))
    ]
    recorder.start()
    for dep in deps:
        dep.f()
    textwrap.dedent("x")  # standard library code
    assert recorder.stop().units == frozenset()


def test_a_file_that_no_longer_parses_counts_as_module_level_code(recorder, tmp_path):
    path = write_lib(tmp_path)
    lib = load(path, "precise_lib_e")
    path.write_text("def broken(:\n")
    recorder.start()
    lib.unused()
    assert recorder.stop().units == {("pkg/lib.py", MODULE)}


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is new in Python 3.12")
def test_python_3_12_records_with_sys_monitoring_and_gives_the_tool_id_back(tmp_path):
    from dryci.tracing import MonitoringCodeTracer

    tracer = make_code_tracer("dryci-test")
    assert isinstance(tracer, MonitoringCodeTracer)
    tracer.close()
    tracer = make_code_tracer("dryci-test")
    tracer.close()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is new in Python 3.12")
def test_the_project_tracer_holds_two_tool_ids_and_gives_both_back(tmp_path):
    from dryci.tracing import ProjectCodeTracer

    free = [tool for tool in range(6) if sys.monitoring.get_tool(tool) is None]
    tracer = make_code_tracer("dryci-test", project=True)
    assert isinstance(tracer, ProjectCodeTracer)
    assert len([tool for tool in range(6) if sys.monitoring.get_tool(tool) is None]) == len(free) - 2
    tracer.close()
    assert [tool for tool in range(6) if sys.monitoring.get_tool(tool) is None] == free


def test_a_window_taken_without_rearming_reports_only_code_not_seen_since_the_last_switch(recorder, tmp_path):
    if isinstance(recorder._tracer, ProfileCodeTracer):
        pytest.skip("the profile function never disarms: take() is switch() there")
    lib = load(write_lib(tmp_path), "precise_lib_take")
    recorder.start()
    lib.helper()
    assert recorder.switch().units == {("pkg/lib.py", "helper")}
    lib.helper()
    assert recorder.take().units == {("pkg/lib.py", "helper")}
    lib.helper()
    lib.unused()
    assert recorder.take().units == {("pkg/lib.py", "unused")}  # helper ran since the last re-arm
    assert recorder.switch().units == frozenset()
    lib.helper()
    lib.unused()
    assert recorder.stop().units == {("pkg/lib.py", "helper"), ("pkg/lib.py", "unused")}


def test_code_that_ran_before_the_root_was_known_is_reported_once_it_is(tmp_path):
    lib = load(write_lib(tmp_path), "precise_lib_early")
    tracer = make_code_tracer("dryci-test", resume=True, project=True)
    tracer.start()
    lib.helper()
    recorder = UnitRecorder(tmp_path, tracer)  # narrows the tracer to the root
    textwrap.dedent("x")
    try:
        assert recorder.switch().units == {("pkg/lib.py", "helper")}
        lib.helper()
        assert recorder.stop().units == {("pkg/lib.py", "helper")}
    finally:
        recorder.close()


def test_importing_a_module_does_not_count_as_running_the_function_on_its_first_line(recorder, tmp_path):
    path = tmp_path / "first.py"
    path.write_text("def first():\n    return 1\n\nVALUE = 2\n")
    recorder.start()
    load(path, "precise_first")
    assert recorder.stop().units == {("first.py", MODULE)}


def test_equal_functions_of_two_files_are_recorded_for_each_file(recorder, tmp_path):
    # Code objects compare equal when name, line and body match, whatever their file.
    (tmp_path / "one.py").write_text("def helper(x):\n    return x + 1\n")
    (tmp_path / "two.py").write_text("def helper(x):\n    return x + 1\n")
    one, two = load(tmp_path / "one.py", "precise_equal_one"), load(tmp_path / "two.py", "precise_equal_two")
    assert one.helper.__code__ == two.helper.__code__
    recorder.start()
    one.helper(1)
    assert recorder.stop().units == {("one.py", "helper")}
    recorder.start()
    one.helper(1)
    two.helper(1)
    assert recorder.stop().units == {("one.py", "helper"), ("two.py", "helper")}


def test_equal_module_code_of_two_packages_is_recorded_for_each(recorder, tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("VALUE = 1\n")
    recorder.start()
    load(tmp_path / "a" / "__init__.py", "precise_equal_a")
    recorder.stop()
    recorder.start()
    load(tmp_path / "b" / "__init__.py", "precise_equal_b")
    assert recorder.stop().modules == {"b/__init__.py"}


def test_importing_an_inert_module_runs_its_code_but_flags_no_import(recorder, tmp_path):
    (tmp_path / "empty.py").write_text('"""Only a docstring and imports."""\nimport os\n')
    recorder.start()
    load(tmp_path / "empty.py", "precise_inert")
    window = recorder.stop()
    assert window.units == {("empty.py", MODULE)}
    assert window.modules == frozenset() and window.imported is False


def test_a_switch_ends_one_window_and_records_the_next_from_scratch(recorder, tmp_path):
    lib = load(write_lib(tmp_path), "precise_lib_switch")
    recorder.start()
    lib.helper()
    assert recorder.switch().units == {("pkg/lib.py", "helper")}
    lib.helper()
    lib.unused()
    assert recorder.switch().units == {("pkg/lib.py", "helper"), ("pkg/lib.py", "unused")}
    assert recorder.stop().units == frozenset()


def test_the_units_of_an_analyzed_file_come_from_the_caller_and_others_are_parsed_here(tmp_path):
    from dryci.recording.units import FunctionUnit, ModuleUnits

    lib = load(write_lib(tmp_path), "precise_lib_known")
    (tmp_path / "other.py").write_text("def f():\n    return 1\n")
    other = load(tmp_path / "other.py", "precise_other_known")
    first = lib.helper.__code__.co_firstlineno
    known = ModuleUnits("m", (FunctionUnit("from_the_cache", "fp", first, first + 1),))
    asked = []

    def units_of(path: str) -> ModuleUnits | None:
        asked.append(path)
        if path == "pkg/lib.py":
            return known
        raise LookupError(path)

    recorder = UnitRecorder(tmp_path, make_code_tracer("dryci-test", project=True), units_of)
    try:
        recorder.start()
        lib.helper()
        other.f()
        assert recorder.stop().units == {("pkg/lib.py", "from_the_cache"), ("other.py", "f")}
        assert sorted(asked) == ["other.py", "pkg/lib.py"]
    finally:
        recorder.close()
