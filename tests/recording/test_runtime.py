"""Recording in real pytest sessions: what each test's call phase ran, and what is shared."""

from __future__ import annotations

import json
import sys

import pytest

from dryci.recording.runtime import ImportGroup, Recorded, _runs_python, merge_recorded

CONFTEST = """
import json
import sys
from dryci.recording.runtime import Recording, encode_recorded

RECORDING = Recording()


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

def for_session():
    return 7

def for_class():
    return 8

def for_each_test():
    return 10

def at_teardown():
    return 9

VALUE = at_import()
"""

TESTS = """
import pytest
import lib

@pytest.fixture(scope="module")
def shared_value():
    return lib.for_fixture()

@pytest.fixture(scope="session")
def session_value():
    yield lib.for_session()
    lib.at_teardown()

def test_first():
    assert lib.first() == 1

def test_second(shared_value):
    assert lib.second() + shared_value == 5

def test_imports_late(session_value):
    import late
    assert late.late_value() == 6

@pytest.fixture
def per_test():
    return lib.for_each_test()

def test_with_a_function_fixture(per_test):
    assert per_test == 10

class TestInClass:
    @classmethod
    def setup_class(cls):
        cls.value = lib.for_class()

    def test_in_class(self):
        assert self.value == 8
"""


@pytest.fixture
def recorded(pytester: pytest.Pytester) -> Recorded:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(lib=LIB, late="def late_value():\n    return 6\n", test_lib=TESTS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)
    merged = merge_recorded([json.loads((pytester.path / "recorded.json").read_text())])
    tests = {nodeid.split("::", 1)[1]: units for nodeid, units in merged.tests.items()}
    classes = {nodeid.split("::", 1)[1]: units for nodeid, units in merged.classes.items()}
    return Recorded(merged.global_units, merged.files, merged.imports, tests, classes)


def test_each_test_records_the_functions_its_call_phase_ran(recorded):
    tests = recorded.tests
    assert ("lib.py", "first") in tests["test_first"]
    assert ("lib.py", "second") not in tests["test_first"]
    assert ("lib.py", "second") in tests["test_second"]
    assert ("test_lib.py", "test_first") in tests["test_first"]


def test_collection_and_module_fixtures_go_to_the_test_files_bucket(recorded):
    bucket = recorded.files["test_lib.py"]
    assert {("lib.py", "at_import"), ("test_lib.py", "shared_value"), ("lib.py", "for_fixture")} <= bucket
    assert not {("lib.py", "for_fixture"), ("lib.py", "for_class")} & recorded.global_units
    assert all(("lib.py", "for_fixture") not in units for units in recorded.tests.values())


def test_a_function_scoped_fixture_counts_for_the_test_that_used_it_only(recorded):
    assert {("lib.py", "for_each_test"), ("test_lib.py", "per_test")} <= recorded.tests[
        "test_with_a_function_fixture"
    ]
    assert ("lib.py", "for_each_test") not in recorded.files["test_lib.py"]
    assert ("lib.py", "for_each_test") not in recorded.global_units
    assert all(("lib.py", "for_each_test") not in units for units in recorded.classes.values())
    others = [units for test, units in recorded.tests.items() if test != "test_with_a_function_fixture"]
    assert all(("lib.py", "for_each_test") not in units for units in others)


def test_setup_class_goes_to_the_class_bucket_and_counts_for_the_tests_of_the_class_only(recorded):
    assert ("lib.py", "for_class") in recorded.classes["TestInClass"]
    assert ("lib.py", "for_class") not in recorded.files["test_lib.py"]
    assert ("lib.py", "for_class") in (recorded.own("TestInClass::test_in_class") or set())
    assert ("lib.py", "for_class") not in (recorded.own("test_first") or set())


def test_session_fixtures_and_teardown_are_global(recorded):
    assert {("lib.py", "for_session"), ("lib.py", "at_teardown")} <= recorded.global_units
    assert ("lib.py", "for_session") not in recorded.files["test_lib.py"]


def test_a_window_that_imports_project_modules_is_an_import_group_of_them(recorded):
    groups = {group.modules: group.units for group in recorded.imports}
    assert {("lib.py", "<module>"), ("lib.py", "at_import")} <= groups[frozenset({"lib.py", "test_lib.py"})]
    assert {("late.py", "<module>"), ("late.py", "late_value")} <= groups[frozenset({"late.py"})]


def test_a_call_phase_that_imports_keeps_what_it_ran_as_its_own(recorded):
    assert {("late.py", "late_value"), ("test_lib.py", "test_imports_late")} <= recorded.tests[
        "test_imports_late"
    ]


def test_functions_nobody_ran_are_recorded_nowhere(recorded):
    everywhere = [recorded.global_units, *recorded.files.values(), *recorded.tests.values()]
    everywhere += [group.units for group in recorded.imports]
    assert all(("lib.py", "never") not in units for units in everywhere)


def test_a_test_file_shares_global_units_its_bucket_and_the_import_groups_of_its_closure():
    recorded = Recorded(
        frozenset({("g.py", "g")}),
        {"t_a.py": frozenset({("a.py", "f")}), "t_b.py": frozenset({("b.py", "f")})},
        (
            ImportGroup(frozenset({"m.py"}), frozenset({("m.py", "init")})),
            ImportGroup(frozenset({"n.py"}), frozenset({("n.py", "init")})),
            ImportGroup(frozenset({"unclaimed.py"}), frozenset({("u.py", "init")})),
        ),
        {},
    )
    claimed = {"t_a.py", "t_b.py", "m.py", "n.py"}
    assert recorded.shared("t_a.py", {"t_a.py", "m.py"}, claimed) == {
        ("g.py", "g"),
        ("a.py", "f"),
        ("m.py", "init"),
        ("u.py", "init"),
    }


def test_recordings_of_several_processes_merge_owner_by_owner():
    merged = merge_recorded(
        [
            {
                "global": [["a.py", "f"]],
                "files": {"t.py": [["a.py", "s"]]},
                "imports": [[["m.py"], [["m.py", "<module>"]]]],
                "tests": {"t::one": [["a.py", "g"]]},
            },
            {
                "global": [["b.py", "h"]],
                "files": {"t.py": [["a.py", "u"]], "v.py": []},
                "imports": [[["m.py"], [["m.py", "x"]]]],
                "tests": {"t::one": [["a.py", "k"]], "t::two": []},
            },
        ]
    )
    assert merged == Recorded(
        frozenset({("a.py", "f"), ("b.py", "h")}),
        {"t.py": frozenset({("a.py", "s"), ("a.py", "u")}), "v.py": frozenset()},
        (ImportGroup(frozenset({"m.py"}), frozenset({("m.py", "<module>"), ("m.py", "x")})),),
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
