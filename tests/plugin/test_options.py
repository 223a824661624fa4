"""Options, environment variables and the canary, through real pytest runs."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import ALL_TESTS, write


@pytest.mark.parametrize("value", ["lots", "1.5", "-0.1", "nan"])
def test_a_bad_canary_fraction_is_a_usage_error_naming_the_flag(project: pytest.Pytester, value: str) -> None:
    result = project.runpytest("--dryci", f"--dryci-canary={value}")
    result.stderr.fnmatch_lines(
        [f"ERROR: --dryci-canary: expected a fraction from 0 to 1 (e.g. 0.02), got '{value}'"]
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("DRYCI_TIMEOUT", "soon", "dryci: DRYCI_TIMEOUT: expected a positive number of seconds, got 'soon'"),
        ("DRYCI_TIMEOUT", "0", "dryci: DRYCI_TIMEOUT: expected a positive number of seconds, got '0'"),
        (
            "DRYCI_SERVER",
            "cache.example.com",
            "dryci: DRYCI_SERVER: expected an http:// or https:// URL, got 'cache.example.com'",
        ),
    ],
)
def test_a_bad_environment_variable_means_one_line_and_every_test_runs(
    project: pytest.Pytester, env: pytest.MonkeyPatch, name: str, value: str, line: str
) -> None:
    # Like a broken config file: the variable is named, the cache is off, the exit code is the tests'.
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    env.setenv(name, value)
    result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"{line} (running all tests)"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_missing_config_file_option_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--dryci", "--dryci-config", "nope.yaml")
    result.stderr.fnmatch_lines(["ERROR: --dryci-config: no such file: nope.yaml"])


def test_a_config_elsewhere_can_be_named(project: pytest.Pytester) -> None:
    (project.path / "repo_dagger.yaml").rename(project.path / "deps.yaml")
    project.runpytest("--dryci", "--dryci-config", "deps.yaml").assert_outcomes(passed=ALL_TESTS)
    project.runpytest("--dryci", "--dryci-config", "deps.yaml").assert_outcomes()


def test_no_config_at_all_means_one_line_and_an_inferred_config(project: pytest.Pytester) -> None:
    (project.path / "repo_dagger.yaml").unlink()
    result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    result.stdout.fnmatch_lines(["dryci config: inferred (no repo_dagger.yaml; `dryci init` writes one); *"])


def test_a_bad_config_means_one_line_naming_file_and_key_and_every_test_runs(
    project: pytest.Pytester,
) -> None:
    (project.path / "repo_dagger.yaml").write_text('inputs: "tests/**/test_*.py"\npath_ruls: {}\n')
    result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    result.stdout.fnmatch_lines(["dryci: *repo_dagger.yaml: path_ruls: * (running all tests)"])
    assert result.ret == 0


def test_invalid_yaml_means_one_line_with_the_path_line_and_column_and_every_test_runs(
    project: pytest.Pytester,
) -> None:
    config = project.path / "repo_dagger.yaml"
    config.write_text('inputs: "tests/**/test_*.py"\npath_rules:\n  "**/*.py": visit: x\n')
    result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    assert (
        f"dryci: {config}: invalid YAML at line 3, column 19: mapping values are not allowed here "
        "(running all tests)"
    ) in result.stdout.lines
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_an_inputs_glob_matching_nothing_is_a_warning_naming_the_key(project: pytest.Pytester) -> None:
    config = project.path / "repo_dagger.yaml"
    text = config.read_text()
    config.write_text(
        text.replace('inputs: "tests/**/test_*.py"', 'inputs: ["tests/**/test_*.py", "test/**/test_*.py"]')
    )
    assert config.read_text() != text
    result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    assert f"dryci: warning: inputs: 'test/**/test_*.py' matches no file under {project.path}" in (
        result.stdout.lines
    )


def test_the_canary_reruns_cached_tests_and_reports_a_stale_entry_loudly(project: pytest.Pytester) -> None:
    # The test reads a file no rule names: a missing dependency rule, the canary's reason to exist.
    write(project.path / "hidden.txt", "ok\n")
    write(
        project.path / "tests/test_hidden.py",
        "from pathlib import Path\n\n\n"
        "def test_hidden():\n"
        "    assert (Path(__file__).parent.parent / 'hidden.txt').read_text() == 'ok\\n'\n",
    )
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS + 1)
    write(project.path / "hidden.txt", "broken\n")
    project.runpytest("--dryci").assert_outcomes()  # the cache cannot know
    result = project.runpytest("--dryci", "--dryci-canary=1")
    result.assert_outcomes(passed=ALL_TESTS, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*dryci CACHE ERROR*",
            "dryci: 1 test(s) the cache claimed passed failed when re-run by the canary*",
            "  tests/test_hidden.py::test_hidden",
        ]
    )
    assert result.ret == 1


def test_a_small_canary_reruns_only_some_cached_tests(project: pytest.Pytester) -> None:
    for i in range(40):
        write(project.path / f"tests/test_many_{i}.py", "def test_one():\n    pass\n")
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS + 40)
    outcomes = project.runpytest("--dryci", "--dryci-canary=0.25").parseoutcomes()
    assert 0 < outcomes.get("passed", 0) < ALL_TESTS + 40
