"""--dryci together with pytest's own ways of choosing tests, and with pytest-xdist."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import ALL_TESTS, append, cached_line, ran, write


def test_a_k_run_publishes_only_what_it_ran(project: pytest.Pytester) -> None:
    project.runpytest("--dryci", "-k", "add").assert_outcomes(passed=1)
    result = project.runpytest("--dryci", "-v")
    assert ran(result) == set(pytest_ids_except("tests/test_ops.py::test_add"))
    result.assert_outcomes(passed=ALL_TESTS - 1, skipped=1)


def test_a_marker_selection_and_deselect_work_with_the_cache(project: pytest.Pytester) -> None:
    project.runpytest("--dryci", "--deselect", "tests/test_ops.py::test_sub").assert_outcomes(
        passed=ALL_TESTS - 1
    )
    result = project.runpytest("--dryci", "-v", "-m", "not slow")
    assert ran(result) == {"tests/test_ops.py::test_sub"}


def test_node_ids_on_the_command_line_never_claim_the_whole_file_passed(project: pytest.Pytester) -> None:
    project.runpytest("--dryci", "tests/test_ops.py::test_add").assert_outcomes(passed=1)
    # test_sub never ran: the file must not be skipped wholesale by the collection shortcut.
    result = project.runpytest("--dryci", "-v", "tests/test_ops.py")
    assert ran(result) == {"tests/test_ops.py::test_sub"}
    result.assert_outcomes(passed=1, skipped=1)
    # A file named on the command line is collected even when cached: its tests show as skipped.
    project.runpytest("--dryci", "tests/test_ops.py").assert_outcomes(skipped=2)
    project.runpytest("--dryci", "tests").assert_outcomes(passed=ALL_TESTS - 2)


def test_a_node_id_of_a_fully_cached_file_is_reported_as_cached(project: pytest.Pytester) -> None:
    project.runpytest("--dryci")
    result = project.runpytest("--dryci", "tests/test_ops.py::test_sub")
    result.assert_outcomes(skipped=1)
    assert cached_line(result).startswith("dryci: 1 of 1 test cached")


def test_last_failed_runs_only_failures_and_the_cache_completes_afterwards(project: pytest.Pytester) -> None:
    write(
        project.path / "tests/test_flag.py",
        "import os\n\n\ndef test_flag():\n    assert os.environ.get('FLAG')\n\n\ndef test_ok():\n    pass\n",
    )
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS + 1, failed=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLAG", "1")
        project.runpytest("--dryci", "--lf").assert_outcomes(passed=1)
    result = project.runpytest("--dryci")
    assert result.ret == 0
    assert cached_line(result).startswith(f"dryci: {ALL_TESTS + 2} of {ALL_TESTS + 2} tests cached")


def test_it_works_without_the_cacheprovider_plugin(project: pytest.Pytester) -> None:
    project.runpytest("--dryci", "-p", "no:cacheprovider").assert_outcomes(passed=ALL_TESTS)
    result = project.runpytest("--dryci", "-p", "no:cacheprovider")
    result.assert_outcomes()
    assert result.ret == 0


def test_xdist_workers_skip_what_the_controller_found_and_it_publishes_once(project: pytest.Pytester) -> None:
    write(
        project.path / "tests/test_flaky.py",
        "def test_good():\n    pass\n\n\ndef test_bad():\n    assert False\n",
    )
    first = project.runpytest_subprocess("--dryci", "-n", "2", "-p", "xdist")
    first.assert_outcomes(passed=ALL_TESTS + 1, failed=1)
    assert cached_line(first).startswith(f"dryci: 0 of {ALL_TESTS + 2} tests cached")
    append(project.path / "src/calc/text.py")
    second = project.runpytest_subprocess("--dryci", "-n", "2", "-p", "xdist", "-rs")
    # test_text.py changed; test_flaky.py keeps its cached pass and its failure; the rest is not collected.
    second.assert_outcomes(passed=1, failed=1, skipped=1)
    assert cached_line(second) == (
        f"dryci: {ALL_TESTS} of {ALL_TESTS + 2} tests cached, ~0.0s saved; 2 ran"
        " (1 file changed, 1 file with new, failed or skipped tests)"
    )
    third = project.runpytest_subprocess("--dryci", "-n", "2", "-p", "xdist")
    third.assert_outcomes(failed=1, skipped=1)


def test_a_fully_cached_xdist_run_exits_zero(project: pytest.Pytester) -> None:
    project.runpytest_subprocess("--dryci", "-n", "2", "-p", "xdist").assert_outcomes(passed=ALL_TESTS)
    result = project.runpytest_subprocess("--dryci", "-n", "2", "-p", "xdist")
    assert result.ret == 0
    assert cached_line(result).startswith(f"dryci: {ALL_TESTS} of {ALL_TESTS} tests cached")


def pytest_ids_except(skipped: str) -> list[str]:
    every = [
        "tests/test_ops.py::test_add",
        "tests/test_ops.py::test_sub",
        "tests/test_text.py::test_shout",
        "tests/test_data.py::test_values",
        "tests/sub/test_fixture.py::test_five",
    ]
    return [node for node in every if node != skipped]
