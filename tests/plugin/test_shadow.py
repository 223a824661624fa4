"""``pytest --dryci-shadow``: every test runs, and the run says what the cache would have skipped.

The forged entry is written the way a token holder with the same sources could: the real run's
dependency hash, every test id under it, and a valid tag claiming they all passed.
"""

from __future__ import annotations

import pytest

from dryci.plugin.session import session_key
from dryci.protocol import FileEntry, Provenance, PublishStats, entry_tag, hash_node_id
from dryci.store.local import LocalStore
from tests.plugin.conftest import ALL_TESTS, append, ran, write

FAILING = (
    "def test_one():\n    assert False\n\n\n"
    "def test_two():\n    assert False\n\n\n"
    "def test_three():\n    pass\n"
)


def shadow_line(result: pytest.RunResult) -> str:
    lines = [line for line in result.stdout.lines if line.startswith("dryci shadow: ")]
    assert len(lines) == 1, result.stdout.str()
    return lines[0]


def test_a_shadow_run_after_a_cached_run_says_it_would_have_skipped_everything(
    project: pytest.Pytester,
) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    shadow = project.runpytest("--dryci-shadow", "-v")
    shadow.assert_outcomes(passed=ALL_TESTS)
    assert len(ran(shadow)) == ALL_TESTS  # nothing skipped, not even whole cached files
    line = shadow_line(shadow)
    assert line.startswith(f"dryci shadow: would have skipped {ALL_TESTS} of {ALL_TESTS} tests (~")
    assert line.endswith(" saved); 0 of them failed")
    assert "MISSED FAILURES" not in shadow.stdout.str()
    assert " cached, " not in shadow.stdout.str()  # the shadow line stands in for the summary line
    assert shadow.ret == 0


def test_a_shadow_run_counts_only_what_the_cache_would_have_skipped(project: pytest.Pytester) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    append(project.path / "src/calc/text.py")
    shadow = project.runpytest("--dryci-shadow")
    shadow.assert_outcomes(passed=ALL_TESTS)
    assert shadow_line(shadow).startswith(f"dryci shadow: would have skipped {ALL_TESTS - 1} of {ALL_TESTS} ")
    # Shadow mode publishes as usual: the edited file's test is cached for the next real run.
    project.runpytest("--dryci").assert_outcomes()


def test_a_first_shadow_run_would_have_skipped_nothing(project: pytest.Pytester) -> None:
    shadow = project.runpytest("--dryci-shadow")
    shadow.assert_outcomes(passed=ALL_TESTS)
    expected = f"dryci shadow: would have skipped 0 of {ALL_TESTS} tests (~0.0s saved); 0 of them failed"
    assert shadow_line(shadow) == expected


def forge_all_passed(project: pytest.Pytester, path: str, names: list[str]) -> None:
    """Run once to learn the file's dependency hash, then claim in the local cache that all passed."""
    recorder = project.inline_run("--dryci")
    config = recorder.getcalls("pytest_sessionfinish")[0].session.config
    planned = config.stash[session_key].planned
    assert planned is not None
    file_plan = planned.selection.plan.files[path]
    h = file_plan.dependency_hash
    tests = {hash_node_id(h, f"{path}::{name}"): 0.5 for name in names}
    forged = FileEntry(tests, len(tests), tag=entry_tag(h, len(tests), tests))
    with LocalStore(project.path / ".pytest_cache/d/dryci") as store:
        store.publish({file_plan.key: forged}, Provenance(), PublishStats())


def test_a_forged_entry_for_a_failing_test_shows_up_as_a_missed_failure(project: pytest.Pytester) -> None:
    write(project.path / "tests/test_fails.py", FAILING)
    forge_all_passed(project, "tests/test_fails.py", ["test_one", "test_two", "test_three"])
    # The real run believes the forged entry: no file is even imported.
    project.runpytest("--dryci").assert_outcomes()
    shadow = project.runpytest("--dryci-shadow")
    shadow.assert_outcomes(passed=ALL_TESTS + 1, failed=2)
    assert shadow.ret == pytest.ExitCode.TESTS_FAILED
    total = ALL_TESTS + 3
    assert shadow_line(shadow).startswith(f"dryci shadow: would have skipped {total} of {total} tests (~")
    assert shadow_line(shadow).endswith(" saved); 2 of them failed")
    shadow.stdout.fnmatch_lines(
        [
            "*dryci MISSED FAILURES*",
            "dryci: 2 test(s) the cache would have skipped failed (a stale or forged cache entry, *",
            "  tests/test_fails.py::test_one: would skip: passed under the same dependency hash "
            "(file level, entry *)",
            "  tests/test_fails.py::test_two: would skip: *",
        ]
    )


def test_a_new_test_in_a_file_whose_entry_verifies_would_have_been_skipped_too(
    project: pytest.Pytester,
) -> None:
    write(project.path / "tests/test_fails.py", FAILING)
    forge_all_passed(project, "tests/test_fails.py", ["test_three"])
    shadow = project.runpytest("--dryci-shadow", "tests")
    shadow.assert_outcomes(passed=ALL_TESTS + 1, failed=2)
    shadow.stdout.fnmatch_lines(
        [
            "  tests/test_fails.py::test_one: would skip: its file's entry * verified,"
            " so the file was not imported"
        ]
    )


def test_a_test_file_named_on_the_command_line_is_judged_test_by_test(project: pytest.Pytester) -> None:
    # pytest always imports a file given as an argument, so the real run would run its new tests.
    write(project.path / "tests/test_fails.py", FAILING)
    forge_all_passed(project, "tests/test_fails.py", ["test_three"])
    project.runpytest("--dryci", "tests/test_fails.py").assert_outcomes(skipped=1, failed=2)
    shadow = project.runpytest("--dryci-shadow", "tests/test_fails.py")
    shadow.assert_outcomes(passed=1, failed=2)
    assert shadow_line(shadow).startswith("dryci shadow: would have skipped 1 of 3 tests")
    assert shadow_line(shadow).endswith("; 0 of them failed")


READS_UNDECLARED = (
    "import os\n\n\ndef test_reads_a_variable_outside_the_key():\n    assert 'BREAK_IT' not in os.environ\n"
)


def test_a_missed_failure_is_reported_with_xdist_too(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A missing rule: the test reads a variable its key does not hold, so its entry goes stale.
    write(project.path / "tests/test_env.py", READS_UNDECLARED)
    project.runpytest_subprocess("--dryci", "-p", "xdist", "-n", "2").assert_outcomes(passed=ALL_TESTS + 1)
    monkeypatch.setenv("BREAK_IT", "1")
    shadow = project.runpytest_subprocess("--dryci-shadow", "-p", "xdist", "-n", "2")
    shadow.assert_outcomes(passed=ALL_TESTS, failed=1)
    assert shadow.ret == pytest.ExitCode.TESTS_FAILED
    total = ALL_TESTS + 1
    assert shadow_line(shadow).startswith(f"dryci shadow: would have skipped {total} of {total} ")
    assert shadow_line(shadow).endswith("; 1 of them failed")
    shadow.stdout.fnmatch_lines(
        [
            "*dryci MISSED FAILURES*",
            "  tests/test_env.py::test_reads_a_variable_outside_the_key: would skip: passed under the same"
            " dependency hash (file level, entry *)",
        ]
    )


def test_shadow_at_function_level_counts_tests_none_of_whose_code_changed(
    project: pytest.Pytester,
) -> None:
    project.makeini("[pytest]\npythonpath = src\ndryci_level = function\n")
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    ops = project.path / "src/calc/ops.py"
    ops.write_text(ops.read_text().replace("return a - b", "return -(b - a)"))
    real = project.runpytest("--dryci", "--dryci-no-publish", "-v")
    shadow = project.runpytest("--dryci-shadow", "-v")
    shadow.assert_outcomes(passed=ALL_TESTS)
    cached_by_real = ALL_TESTS - len(ran(real))
    assert cached_by_real == ALL_TESTS - 1  # test_add at function level, the other files at file level
    expected = f"dryci shadow: would have skipped {cached_by_real} of {ALL_TESTS} "
    assert shadow_line(shadow).startswith(expected)


def test_shadow_and_no_skip_together_are_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--dryci-shadow", "--dryci-no-skip")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --dryci-shadow: cannot be combined with --dryci-no-skip (shadow mode runs every test*"]
    )


def test_shadow_alone_turns_dryci_on(project: pytest.Pytester) -> None:
    project.runpytest("--dryci-shadow").assert_outcomes(passed=ALL_TESTS)
    # The shadow run published: a real run now skips everything.
    project.runpytest("--dryci").assert_outcomes()


def test_the_ini_option_turns_shadow_mode_on(project: pytest.Pytester) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    project.makeini("[pytest]\npythonpath = src\ndryci_level = file\ndryci_shadow = true\n")
    shadow = project.runpytest()
    shadow.assert_outcomes(passed=ALL_TESTS)
    assert shadow_line(shadow).startswith(f"dryci shadow: would have skipped {ALL_TESTS} of {ALL_TESTS} ")


def test_a_missed_failure_at_function_level_names_the_record(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makeini("[pytest]\npythonpath = src\ndryci_level = function\n")
    write(
        project.path / "tests/test_env.py",
        "import os\n\nfrom calc.ops import add\n\n\n"
        "def test_adds_unless_broken():\n    assert add(1, 1) == 2 and 'BREAK_IT' not in os.environ\n",
    )
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS + 1)
    ops = project.path / "src/calc/ops.py"
    ops.write_text(ops.read_text().replace("return a - b", "return -(b - a)"))  # not run by test_env.py
    monkeypatch.setenv("BREAK_IT", "1")
    shadow = project.runpytest("--dryci-shadow")
    shadow.assert_outcomes(passed=ALL_TESTS, failed=1)
    assert shadow_line(shadow).endswith("; 1 of them failed")
    shadow.stdout.fnmatch_lines(
        [
            "  tests/test_env.py::test_adds_unless_broken: would skip: none of the code it ran changed"
            " (function level, record *)"
        ]
    )
