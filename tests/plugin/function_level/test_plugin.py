"""End to end: real pytest runs (pytester) of the function level on a small project."""

from __future__ import annotations

import sys

import pytest

from tests.plugin.function_level.conftest import ALL, data_path, edit, explained, ran, summary


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--dryci-precise", "--dryci-explain", "-v", *args)


def first_pass(project: pytest.Pytester) -> None:
    result = run(project)
    result.assert_outcomes(passed=4)
    assert summary(result).startswith("dryci: 0 of 4 tests cached, ")


def test_a_file_none_of_whose_tests_ran_the_edited_function_is_not_even_imported(project):
    first_pass(project)
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    result = run(project)
    result.assert_outcomes()
    result.stdout.fnmatch_lines(["*collected 0 items"])
    assert result.ret == pytest.ExitCode.OK
    assert summary(result).startswith("dryci: 4 of 4 tests cached (4 at function level), ")


def test_an_edit_in_a_function_a_test_ran_reruns_only_that_test(project):
    first_pass(project)
    edit(project, "src/geo/shapes.py", "2 * (w + h)", "(w + h) * 2")
    result = run(project)
    result.assert_outcomes(passed=1, skipped=3)
    assert ran(result) == {"tests/test_shapes.py::test_perimeter"}
    assert explained(result) == {
        "tests/test_shapes.py::test_perimeter": "src/geo/shapes.py::perimeter changed"
    }


def test_a_broken_function_fails_the_tests_that_ran_it(project):
    first_pass(project)
    edit(project, "src/geo/shapes.py", "return w * h * SCALE", "raise RuntimeError('broken')")
    result = run(project)
    result.assert_outcomes(failed=1, skipped=3)
    assert ran(result) == {"tests/test_shapes.py::test_area"}


@pytest.mark.parametrize(
    "old, new, reran, why",
    [
        ("SCALE = 1\n", "SCALE = 1\nEXTRA = 2\n", set(), None),
        ("def unused(x=1):", "def unused(x=2):", set(), None),
        (
            "    sides = 4\n",
            "    sides = 4\n\n    def name(self):\n        return 'square'\n",
            {"tests/test_shapes.py::test_name"},
            "src/geo/shapes.py: module-level name added, and the test uses it",
        ),
        ("SCALE = 1\n", 'SCALE = len("a")\n', ALL, "src/geo/shapes.py: module-level code changed (SCALE)"),
    ],
    ids=["unused-constant", "default-argument-of-an-unused-function", "new-method-override", "a-call"],
)
def test_module_level_edits_rerun_the_tests_that_use_what_changed(project, old, new, reran, why):
    first_pass(project)
    edit(project, "src/geo/shapes.py", old, new)
    result = run(project)
    assert ran(result) == reran
    assert set(explained(result).values()) == ({why} if why else set())


def test_a_changed_constant_fails_exactly_the_test_whose_code_uses_it(project):
    first_pass(project)
    edit(project, "src/geo/shapes.py", "SCALE = 1\n", "SCALE = 2\n")
    result = run(project)
    result.assert_outcomes(failed=1, skipped=3)
    assert ran(result) == {"tests/test_shapes.py::test_area"}
    why = "src/geo/shapes.py: module-level SCALE changed, and the test uses it"
    assert explained(result) == {"tests/test_shapes.py::test_area": why}


def test_a_new_method_override_that_breaks_a_test_is_caught(project):
    first_pass(project)
    edit(
        project,
        "src/geo/shapes.py",
        "    sides = 4\n",
        "    sides = 4\n\n    def name(self):\n        return 'square'\n",
    )
    result = run(project)
    result.assert_outcomes(failed=1, skipped=3)
    assert ran(result) == {"tests/test_shapes.py::test_name"}


def test_a_data_file_change_reruns_every_test(project):
    first_pass(project)
    data_path(project).write_text("1 2 3\n")
    result = run(project)
    result.assert_outcomes(passed=3, failed=1)
    assert set(explained(result).values()) == {"tests/data/sizes.txt changed (non-Python file)"}


def test_a_global_dependency_change_reruns_every_test(project):
    first_pass(project)
    (project.path / "global.cfg").write_text("setting = 2\n")
    result = run(project)
    assert ran(result) == ALL
    assert set(explained(result).values()) == {
        "config, environment, a distribution it imports or global dependencies changed"
    }


def test_tests_skipped_by_precise_mode_stay_skipped_in_later_runs(project):
    first_pass(project)
    edit(project, "src/geo/shapes.py", "2 * (w + h)", "(w + h) * 2")
    run(project).assert_outcomes(passed=1, skipped=3)
    # Nothing changed: the file's record (the re-run test's fresh, the others' carried) holds them all.
    run(project).assert_outcomes()
    edit(project, "src/geo/shapes.py", "return w * h * SCALE", "return h * w * SCALE")
    result = run(project)
    assert ran(result) == {"tests/test_shapes.py::test_area"}


def test_a_test_that_failed_is_never_skipped_by_an_older_record(project):
    first_pass(project)
    edit(project, "src/geo/shapes.py", "return w * h * SCALE", "raise RuntimeError('broken')")
    run(project).assert_outcomes(failed=1, skipped=3)
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    result = run(project)
    assert "tests/test_shapes.py::test_area" in ran(result)


def test_under_xdist_workers_record_and_the_controller_decides(project):
    result = run(project, "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=4)
    edit(project, "src/geo/shapes.py", "2 * (w + h)", "(w + h) * 2")
    result = run(project, "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=1, skipped=3)
    assert ran(result) == {"tests/test_shapes.py::test_perimeter"}
    assert explained(result) == {
        "tests/test_shapes.py::test_perimeter": "src/geo/shapes.py::perimeter changed"
    }
    assert summary(result).startswith("dryci: 3 of 4 tests cached (3 at function level), ")


@pytest.mark.parametrize("ini", ["dryci_precise = true", "dryci = true\ndryci_level = function"])
def test_the_ini_options_turn_the_function_level_on(project, ini):
    project.makeini(f"[pytest]\npythonpath = src\n{ini}\n")
    project.runpytest().assert_outcomes(passed=4)
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    result = project.runpytest()
    result.assert_outcomes()
    assert summary(result).startswith("dryci: 4 of 4 tests cached (4 at function level)")


def test_the_file_level_reruns_every_test_of_a_changed_file(project):
    project.runpytest("--dryci-level=file").assert_outcomes(passed=4)
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    project.runpytest("--dryci-level=file").assert_outcomes(passed=4)


def test_a_function_a_conftest_calls_at_import_time_counts_for_every_test(project):
    edit(project, "src/geo/shapes.py", "SCALE = 1\n", "SCALE = 1\n\n\ndef default_scale():\n    return 1\n")
    (project.path / "tests" / "conftest.py").write_text(
        "from geo.shapes import default_scale\n\nBASE = default_scale()\n"
    )
    first_pass(project)
    edit(
        project,
        "src/geo/shapes.py",
        "def default_scale():\n    return 1",
        "def default_scale():\n    return 2",
    )
    result = run(project)
    assert ran(result) == ALL
    assert set(explained(result).values()) == {
        "src/geo/shapes.py::default_scale changed (ran in setup or collection)"
    }


def test_a_function_a_session_fixture_ran_counts_for_every_test(project):
    (project.path / "tests" / "conftest.py").write_text(
        "import pytest\nfrom geo.shapes import unused\n\n\n@pytest.fixture(scope='session', autouse=True)\n"
        "def prepared():\n    return unused()\n"
    )
    first_pass(project)
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    result = run(project)
    assert ran(result) == ALL


def test_a_test_that_runs_python_in_a_subprocess_gets_no_record(project):
    (project.path / "tests" / "test_cli.py").write_text(
        "import subprocess, sys\n\nimport geo.shapes  # noqa: F401 - puts it in the closure\n\n\n"
        "def test_cli():\n"
        "    subprocess.run([sys.executable, '-c', 'import geo.shapes; geo.shapes.unused()'], check=True,\n"
        "                   env={'PYTHONPATH': 'src'})\n"
    )
    project.runpytest("--dryci-precise").assert_outcomes(passed=5)
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    result = run(project)
    result.assert_outcomes(passed=1)  # test_shapes.py is not imported; test_cli.py has no record of it
    assert ran(result) == {"tests/test_cli.py::test_cli"}


def test_a_python_process_started_by_a_fixture_leaves_the_run_unrecorded(project):
    (project.path / "tests" / "conftest.py").write_text(
        "import subprocess, sys\nimport pytest\n\n\n@pytest.fixture(scope='session', autouse=True)\n"
        "def server():\n    subprocess.run([sys.executable, '-c', 'pass'], check=True)\n"
    )
    result = run(project)
    result.assert_outcomes(passed=4)
    assert (
        "dryci: nothing recorded for the function level this run: a process was started outside a test's"
        in result.stdout.str()
    )
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    run(project).assert_outcomes(passed=4)


def test_no_publish_saves_no_record_so_nothing_is_skipped_later(project):
    project.runpytest("--dryci-precise", "--dryci-no-publish").assert_outcomes(passed=4)
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    run(project).assert_outcomes(passed=4)


def test_no_skip_runs_every_test_but_still_records(project):
    run(project, "--dryci-no-skip").assert_outcomes(passed=4)
    run(project, "--dryci-no-skip").assert_outcomes(passed=4)
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    run(project).assert_outcomes()


def test_the_tracer_is_given_back_when_no_session_runs(project):
    project.runpytest("--dryci-precise", "--help")
    assert sys.getprofile() is None
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None:
        assert all(monitoring.get_tool(tool) != "dryci" for tool in range(6))
