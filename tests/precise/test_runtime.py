"""Recording in real pytest sessions: what each test's call phase ran, and what is shared."""

from __future__ import annotations

import json
import sys

import pytest

from dryci.precise.runtime import _runs_python, merge_recorded

CONFTEST = """
import json
import sys
from dryci.precise.runtime import PreciseRecording, encode_recorded

RECORDING = PreciseRecording()


def pytest_configure(config):
    RECORDING.attach(config.rootpath)
    config.pluginmanager.register(RECORDING, "precise-recording")


def pytest_sessionfinish(session):
    with open(session.config.rootpath / "recorded.json", "w") as handle:
        json.dump(encode_recorded(RECORDING), handle)
"""

LIB = """
def first():
    return 1

def second():
    return 2

def for_fixture():
    return 3

def at_import():
    return 4

def never():
    return 5

VALUE = at_import()
"""

TESTS = """
import pytest
import lib

@pytest.fixture(scope="module")
def shared_value():
    return lib.for_fixture()

def test_first():
    assert lib.first() == 1

def test_second(shared_value):
    assert lib.second() + shared_value == 5

def test_imports_late():
    import late
    assert late.late_value() == 6
"""


@pytest.fixture
def recorded(pytester: pytest.Pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(lib=LIB, late="def late_value():\n    return 6\n", test_lib=TESTS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)
    data = json.loads((pytester.path / "recorded.json").read_text())
    shared = {tuple(unit) for unit in data["shared"]}
    tests = {nodeid.split("::")[1]: {tuple(u) for u in units} for nodeid, units in data["tests"].items()}
    return shared, tests


def test_each_test_records_the_functions_its_call_phase_ran(recorded):
    _, tests = recorded
    assert ("lib.py", "first") in tests["test_first"]
    assert ("lib.py", "second") not in tests["test_first"]
    assert ("lib.py", "second") in tests["test_second"]
    assert ("test_lib.py", "test_first") in tests["test_first"]


def test_code_run_at_import_or_in_fixture_setup_is_shared(recorded):
    shared, tests = recorded
    assert {("lib.py", "at_import"), ("lib.py", "<module>"), ("lib.py", "for_fixture")} <= shared
    assert ("test_lib.py", "shared_value") in shared
    assert all(("lib.py", "for_fixture") not in units for units in tests.values())


def test_a_call_phase_that_imports_a_project_module_is_shared_entirely(recorded):
    shared, tests = recorded
    assert {
        ("late.py", "<module>"),
        ("late.py", "late_value"),
        ("test_lib.py", "test_imports_late"),
    } <= shared
    assert "test_imports_late" not in tests


def test_functions_nobody_ran_are_recorded_nowhere(recorded):
    shared, tests = recorded
    assert ("lib.py", "never") not in shared
    assert all(("lib.py", "never") not in units for units in tests.values())


def test_recordings_of_several_processes_merge_with_shared_units_for_all():
    merged = merge_recorded(
        [
            {"shared": [["a.py", "f"]], "tests": {"t::one": [["a.py", "g"]]}},
            {"shared": [["b.py", "h"]], "tests": {"t::one": [["a.py", "k"]], "t::two": []}},
        ]
    )
    assert merged == (
        frozenset({("a.py", "f"), ("b.py", "h")}),
        {"t::one": frozenset({("a.py", "g"), ("a.py", "k")}), "t::two": frozenset()},
    )


@pytest.mark.parametrize(
    "args, python",
    [
        ((sys.executable, [sys.executable, "-c", "pass"], None, None), True),
        (("/bin/sh", ["sh", "-c", "python3 -m pkg"], None, None), True),
        (("uname", ["uname", "-p"], None, None), False),
        (("git", ["git", "status"], None, None), False),
    ],
)
def test_only_processes_that_run_python_count_as_untraceable(args, python):
    assert _runs_python(args) is python
