"""End to end: code run outside a test's call phase counts only for the tests it can affect.

Test files are named so that ``tests/test_shapes.py`` is collected (and imports ``geo.shapes``) first:
module-level code runs in whichever window imports a module first, and that window's units count for
every test file whose closure holds one of the modules it imported.
"""

from __future__ import annotations

import pytest

from tests.plugin.function_level.conftest import ALL, edit, explained, ran, summary

TABLE_TESTS = """\
from geo.shapes import unused

TABLE = [unused(3)]


def test_table():
    assert TABLE == [3]
"""

CLASS_TESTS = """\
import pytest

from geo.shapes import unused


class TestWithSetupClass:
    @classmethod
    def setup_class(cls):
        cls.value = unused(4)

    def test_value(self):
        assert self.value == 4


@pytest.fixture(scope="class")
def class_value():
    return unused(5)


class TestWithClassFixture:
    def test_fixture(self, class_value):
        assert class_value == 5


class TestWithoutSetup:
    def test_plain(self):
        assert True
"""

UNUSED_BODY = ("    return x\n", "    return -x\n")


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--dryci-precise", "--dryci-explain", "-v", *args)


def write(project: pytest.Pytester, rel: str, text: str) -> None:
    path = project.path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def edit_unused(project: pytest.Pytester) -> None:
    edit(project, "src/geo/shapes.py", *UNUSED_BODY)


XDIST = [pytest.param((), id="one-process"), pytest.param(("-n", "2", "-p", "xdist"), id="xdist")]


@pytest.mark.parametrize("args", XDIST)
def test_a_function_a_test_module_calls_at_import_reruns_only_that_files_tests(project, args):
    write(project, "tests/test_table.py", TABLE_TESTS)
    run(project, *args).assert_outcomes(passed=5)
    edit_unused(project)
    result = run(project, *args)
    result.assert_outcomes(failed=1)  # test_shapes.py is not even imported
    assert ran(result) == {"tests/test_table.py::test_table"}
    assert explained(result) == {
        "tests/test_table.py::test_table": "src/geo/shapes.py::unused changed (ran in setup or collection)"
    }


def test_a_function_setup_class_or_a_class_fixture_ran_reruns_only_that_class(project):
    write(project, "tests/test_table.py", CLASS_TESTS)
    run(project).assert_outcomes(passed=7)
    edit_unused(project)
    result = run(project)
    result.assert_outcomes(failed=2, skipped=1)
    assert ran(result) == {
        "tests/test_table.py::TestWithSetupClass::test_value",
        "tests/test_table.py::TestWithClassFixture::test_fixture",
    }


def test_a_function_a_session_fixture_ran_reruns_the_tests_of_every_file(project):
    write(
        project,
        "tests/conftest.py",
        "import pytest\nfrom geo.shapes import unused\n\n\n@pytest.fixture(scope='session')\n"
        "def prepared():\n    return unused(6)\n",
    )
    write(project, "tests/test_table.py", "def test_prepared(prepared):\n    assert prepared == 6\n")
    run(project).assert_outcomes(passed=5)
    edit_unused(project)
    result = run(project)
    result.assert_outcomes(passed=4, failed=1)
    assert ran(result) == ALL | {"tests/test_table.py::test_prepared"}


@pytest.mark.parametrize("args", XDIST)
def test_a_function_a_module_calls_at_import_reruns_the_files_importing_that_module_only(project, args):
    write(project, "src/geo/table.py", "from geo.shapes import unused\n\nTABLE = [unused(7)]\n")
    for name in ("a", "b"):
        write(
            project,
            f"tests/test_table_{name}.py",
            f"from geo.table import TABLE\n\n\ndef test_table_{name}():\n    assert TABLE == [7]\n",
        )
    run(project, *args).assert_outcomes(passed=6)
    edit_unused(project)
    result = run(project, *args)
    result.assert_outcomes(failed=2)
    assert ran(result) == {"tests/test_table_a.py::test_table_a", "tests/test_table_b.py::test_table_b"}


def test_a_module_a_test_imports_in_its_call_phase_counts_for_the_files_importing_it(project):
    write(project, "src/geo/table.py", "from geo.shapes import unused\n\nTABLE = [unused(7)]\n")
    write(
        project,
        "tests/test_table_a.py",
        "def test_late():\n    from geo.table import TABLE\n\n    assert TABLE == [7]\n",
    )
    write(
        project,
        "tests/test_table_b.py",
        "import geo.table\n\n\ndef test_table_b():\n    assert geo.table.TABLE == [7]\n",
    )
    # test_table_b.py's collection imports geo.table first; test_late only reads what it left.
    run(project).assert_outcomes(passed=6)
    edit_unused(project)
    result = run(project)
    assert {"tests/test_table_a.py::test_late", "tests/test_table_b.py::test_table_b"} <= ran(result)
    assert not ran(result) & ALL


def test_the_summary_counts_the_time_precise_skips_save(project):
    edit(
        project,
        "tests/test_shapes.py",
        "def test_area():\n",
        "def test_area():\n    __import__('time').sleep(0.3)\n",
    )
    run(project).assert_outcomes(passed=4)
    edit(project, "src/geo/shapes.py", "2 * (w + h)", "(w + h) * 2")
    result = run(project)
    result.assert_outcomes(passed=1, skipped=3)
    line = summary(result)
    assert line.startswith("dryci: 3 of 4 tests cached (3 at function level)")
    # The sleep makes the recorded duration at least 0.3 s: a lower bound, not a timing.
    assert "~0.0s saved" not in line


def test_a_call_at_import_in_the_first_module_of_a_test_package_stays_with_that_file(project):
    # Collecting tests/pkg/test_a.py first also runs tests/pkg/__init__.py (in every closure of the
    # package): it is empty, so its import leaves nothing the other files could read. The conftest
    # imports geo.shapes at start-up, as networkx's does, so test_a.py's collection imports no more.
    write(project, "tests/conftest.py", "import geo.shapes  # noqa: F401\n")
    write(project, "tests/pkg/__init__.py", "")
    write(project, "tests/pkg/test_a.py", TABLE_TESTS)
    write(
        project,
        "tests/pkg/test_b.py",
        "from geo.shapes import area\n\n\ndef test_b():\n    assert area(1, 1) == 1\n",
    )
    run(project).assert_outcomes(passed=6)
    edit_unused(project)
    result = run(project)
    result.assert_outcomes(failed=1)
    assert ran(result) == {"tests/pkg/test_a.py::test_table"}


def test_a_function_teardowns_run_reruns_every_test_even_when_one_tests_body_ran_it_first(project):
    # test_first's call phase runs unused() before its teardown does: the teardown window after a call
    # reports only code that call did not run, so the other tests' teardowns must still report it.
    write(
        project,
        "tests/conftest.py",
        "import pytest\nfrom geo.shapes import unused\n\n\n@pytest.fixture(autouse=True)\n"
        "def cleanup():\n    yield\n    assert unused(8) == 8\n",
    )
    write(
        project,
        "tests/test_table.py",
        "from geo.shapes import unused\n\n\ndef test_first():\n    assert unused(2) == 2\n\n\n"
        "def test_second():\n    pass\n",
    )
    run(project).assert_outcomes(passed=6)
    edit_unused(project)
    result = run(project)
    # Every teardown now fails: each test re-ran, none was skipped.
    assert ran(result) == ALL | {"tests/test_table.py::test_first", "tests/test_table.py::test_second"}
    assert "skipped" not in result.parseoutcomes()
