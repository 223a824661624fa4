"""End to end: real pytest runs (pytester) of a small project with the embedded cache."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import ALL_TESTS, append, cached_line, ran, write


def test_first_run_runs_everything_and_the_second_skips_what_passed(project: pytest.Pytester) -> None:
    first = project.runpytest("--dryci", "-v")
    first.assert_outcomes(passed=ALL_TESTS)
    assert (
        cached_line(first)
        == f"dryci: 0 of {ALL_TESTS} tests cached, ~0.0s saved; {ALL_TESTS} ran (4 files new)"
    )
    second = project.runpytest("--dryci", "-v")
    second.assert_outcomes()
    assert cached_line(second).startswith(f"dryci: {ALL_TESTS} of {ALL_TESTS} tests cached")
    assert second.ret == 0


def test_without_the_flag_nothing_is_skipped(project: pytest.Pytester) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    result = project.runpytest()
    result.assert_outcomes(passed=ALL_TESTS)
    assert "dryci:" not in result.stdout.str()


def test_the_ini_option_turns_it_on(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\npythonpath = src\ndryci = true\ndryci_level = file\n")
    project.runpytest().assert_outcomes(passed=ALL_TESTS)
    project.runpytest().assert_outcomes()


@pytest.mark.parametrize(
    ("edited", "expected"),
    [
        ("tests/test_ops.py", {"tests/test_ops.py::test_add", "tests/test_ops.py::test_sub"}),
        ("src/calc/text.py", {"tests/test_text.py::test_shout"}),
        ("tests/sub/conftest.py", {"tests/sub/test_fixture.py::test_five"}),
        ("tests/data/values.txt", {"tests/test_data.py::test_values"}),
        (
            "global.cfg",
            {
                "tests/test_ops.py::test_add",
                "tests/test_ops.py::test_sub",
                "tests/test_text.py::test_shout",
                "tests/test_data.py::test_values",
                "tests/sub/test_fixture.py::test_five",
            },
        ),
    ],
    ids=["test-file", "imported-module", "conftest", "data-file-named-by-rule", "global-dep"],
)
def test_an_edit_reruns_exactly_the_affected_tests(
    project: pytest.Pytester, edited: str, expected: set[str]
) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    append(project.path / edited, "\n" if edited.endswith(".txt") else "\n# edited\n")
    result = project.runpytest("--dryci", "-v")
    assert ran(result) == expected
    result.assert_outcomes(passed=len(expected))
    assert result.ret == 0


def test_failed_tests_are_never_cached_and_cached_ones_show_as_skipped(project: pytest.Pytester) -> None:
    write(
        project.path / "tests/test_flaky.py",
        "def test_good():\n    pass\n\n\ndef test_bad():\n    assert False\n",
    )
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS + 1, failed=1)
    result = project.runpytest("--dryci", "-v", "-rs")
    assert ran(result) == {"tests/test_flaky.py::test_bad"}
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1[]] tests/test_flaky.py: dryci: passed before with identical dependencies"]
    )
    assert result.ret == 1


def test_skips_xfails_xpasses_and_teardown_errors_are_never_cached(project: pytest.Pytester) -> None:
    write(
        project.path / "tests/test_outcomes.py",
        "import pytest\n\n\n"
        "@pytest.fixture\ndef broken_teardown():\n    yield\n    raise RuntimeError('teardown')\n\n\n"
        "def test_passes():\n    pass\n\n\n"
        "def test_skipped():\n    pytest.skip('no')\n\n\n"
        "@pytest.mark.xfail(strict=False)\ndef test_xfails():\n    assert False\n\n\n"
        "@pytest.mark.xfail(strict=False)\ndef test_xpasses():\n    pass\n\n\n"
        "def test_teardown_fails(broken_teardown):\n    pass\n",
    )
    project.runpytest("--dryci").assert_outcomes(
        passed=ALL_TESTS + 2, skipped=1, xfailed=1, xpassed=1, errors=1
    )
    result = project.runpytest("--dryci")
    # Only test_passes is cached (shown as skipped); everything else runs again.
    result.assert_outcomes(passed=1, skipped=2, xfailed=1, xpassed=1, errors=1)


def test_a_fully_cached_file_is_not_even_imported(project: pytest.Pytester) -> None:
    write(
        project.path / "tests/test_imports.py",
        "import pathlib\n"
        "with open(pathlib.Path(__file__).parent.parent / 'imports.log', 'a') as log:\n"
        "    log.write('imported\\n')\n\n\n"
        "def test_one():\n    pass\n",
    )
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS + 1)
    result = project.runpytest("--dryci")
    assert (project.path / "imports.log").read_text() == "imported\n"
    assert cached_line(result).startswith(f"dryci: {ALL_TESTS + 1} of {ALL_TESTS + 1} tests cached")


def test_a_fully_cached_run_exits_zero_even_though_no_test_ran(project: pytest.Pytester) -> None:
    project.runpytest("--dryci")
    result = project.runpytest("--dryci")
    result.stdout.fnmatch_lines(["*no tests ran*"])
    assert result.ret == 0


def test_an_empty_run_without_cached_tests_keeps_pytests_exit_code(project: pytest.Pytester) -> None:
    result = project.runpytest("--dryci", "-k", "no_such_test")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_no_publish_never_writes_to_the_cache(project: pytest.Pytester) -> None:
    project.runpytest("--dryci", "--dryci-no-publish").assert_outcomes(passed=ALL_TESTS)
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)


def test_no_skip_runs_everything_but_still_publishes(project: pytest.Pytester) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    project.runpytest("--dryci", "--dryci-no-skip").assert_outcomes(passed=ALL_TESTS)
    append(project.path / "tests/test_text.py")
    project.runpytest("--dryci", "--dryci-no-skip").assert_outcomes(passed=ALL_TESTS)
    project.runpytest("--dryci").assert_outcomes()


def test_cache_clear_forgets_the_results(project: pytest.Pytester) -> None:
    project.runpytest("--dryci")
    project.runpytest("--dryci", "--cache-clear").assert_outcomes(passed=ALL_TESTS)


def test_the_salt_changes_every_hash(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.runpytest("--dryci")
    monkeypatch.setenv("DRYCI_SALT", "bust")
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    project.runpytest("--dryci").assert_outcomes()


def test_explain_says_why_each_file_ran(project: pytest.Pytester) -> None:
    write(project.path / "tests/test_new.py", "def test_old():\n    pass\n\n\ndef test_new():\n    pass\n")
    project.runpytest("--dryci", "--deselect", "tests/test_new.py::test_new")
    write(project.path / "tests/test_more.py", "def test_more():\n    pass\n")
    append(project.path / "src/calc/ops.py")
    append(project.path / "tests/test_ops.py", "\nfrom calc import text\n")
    result = project.runpytest("--dryci", "--dryci-explain")
    result.stdout.fnmatch_lines(
        [
            "*- dryci explain -*",
            "tests/test_more.py: no cached results for it yet",
            "tests/test_new.py: 1 test new, or failed or skipped last time: test_new",
            "tests/test_ops.py: since the cached pass, changed: src/calc/ops.py, tests/test_ops.py;"
            " new dependencies: src/calc/text.py",
        ]
    )


def test_files_outside_the_inputs_doctests_and_non_python_items_just_run(project: pytest.Pytester) -> None:
    write(project.path / "other/test_outside.py", "def test_outside():\n    pass\n")
    write(
        project.path / "src/calc/doc.py",
        'def twice(x):\n    """\n    >>> twice(2)\n    4\n    """\n    return 2 * x\n',
    )
    project.makeconftest(
        "import pytest\n\n\n"
        "class YamlItem(pytest.Item):\n    def runtest(self):\n        pass\n\n\n"
        "class YamlFile(pytest.File):\n    def collect(self):\n"
        "        yield YamlItem.from_parent(self, name='spec')\n\n\n"
        "def pytest_collect_file(parent, file_path):\n"
        "    if file_path.suffix == '.yml':\n        return YamlFile.from_parent(parent, path=file_path)\n"
    )
    write(project.path / "tests/spec.yml", "a: 1\n")
    args = ["--dryci", "--doctest-modules", "tests", "other", "src"]
    project.runpytest(*args).assert_outcomes(passed=ALL_TESTS + 3)
    project.runpytest(*args).assert_outcomes(passed=3)


def test_collect_only_lists_every_test_even_when_cached(project: pytest.Pytester) -> None:
    project.runpytest("--dryci")
    result = project.runpytest("--dryci", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["tests/test_ops.py::test_add", f"{ALL_TESTS} tests collected*"])


def test_a_keyword_matching_nothing_fails_like_plain_pytest_even_when_everything_is_cached(
    project: pytest.Pytester,
) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    result = project.runpytest("--dryci", "-k", "nomatch")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert cached_line(result).startswith("dryci: 0 of 0 tests cached")


def test_selection_options_count_only_the_tests_they_keep(project: pytest.Pytester) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    by_keyword = project.runpytest("--dryci", "-k", "add")
    assert by_keyword.ret == 0
    assert cached_line(by_keyword).startswith("dryci: 1 of 1 test cached")
    deselected = project.runpytest("--dryci", "--deselect", "tests/test_ops.py::test_add")
    assert cached_line(deselected).startswith(f"dryci: {ALL_TESTS - 1} of {ALL_TESTS - 1} tests cached")
