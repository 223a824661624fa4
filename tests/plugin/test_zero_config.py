"""Zero-config: ``pytest --dryci`` in a repository without a config infers one in memory."""

from __future__ import annotations

import pytest

from dryci.dagger import find_config
from dryci.plugin.report import INFERRED_CONFIG
from tests.dagger.layouts import DATA, LAYOUTS, write_layout

# The session header says it, next to pytest's rootdir and configfile lines.
INFERRED = f"dryci config: {INFERRED_CONFIG}; store: *"


# tests-at-top has a `tests` package, which this repository's own tests already put in sys.modules of an
# in-process run; tests/dagger/test_init_cli.py runs it in a subprocess.
@pytest.mark.parametrize("layout", sorted(name for name in LAYOUTS if name != "tests-at-top"))
def test_without_a_config_the_second_run_skips_everything(pytester: pytest.Pytester, layout: str) -> None:
    write_layout(pytester.path, layout)
    assert find_config(pytester.path) is None
    first = pytester.runpytest("--dryci")
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines([INFERRED, "dryci: 0 of 2 tests cached*"])
    second = pytester.runpytest("--dryci")
    second.assert_outcomes()
    second.stdout.fnmatch_lines([INFERRED, "dryci: 2 of 2 tests cached*"])
    assert list(pytester.path.glob("repo_dagger.*")) == []


def test_the_inferred_config_sees_a_data_file_change(pytester: pytest.Pytester) -> None:
    write_layout(pytester.path, "src")
    pytester.runpytest("--dryci").assert_outcomes(passed=2)
    data_file, reader = DATA["src"]
    (pytester.path / data_file).write_text("a b\n\n", encoding="utf-8")
    result = pytester.runpytest("--dryci", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"{reader} PASSED*"])


def test_a_new_module_changes_the_inferred_config_and_reruns_everything(pytester: pytest.Pytester) -> None:
    write_layout(pytester.path, "src")
    pytester.runpytest("--dryci").assert_outcomes(passed=2)
    # A new top-level package changes root_python_packages: the config's hash, hence every test's.
    (pytester.path / "src" / "other").mkdir()
    (pytester.path / "src" / "other" / "__init__.py").write_text("", encoding="utf-8")
    pytester.runpytest("--dryci").assert_outcomes(passed=2)
    pytester.runpytest("--dryci").assert_outcomes()


def test_a_written_config_wins_over_inference(pytester: pytest.Pytester) -> None:
    write_layout(pytester.path, "flat")
    pytester.path.joinpath("repo_dagger.yaml").write_text('inputs: "tests/test_core.py"\n', encoding="utf-8")
    result = pytester.runpytest("--dryci")
    result.assert_outcomes(passed=2)
    assert "dryci config: repo_dagger.yaml; " in result.stdout.str()
    assert INFERRED_CONFIG not in result.stdout.str()
