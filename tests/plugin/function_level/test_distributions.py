"""The function level and distributions: an upgrade of one a test file imports is a file-wide change."""

from __future__ import annotations

import pytest

from tests.distributions import Venv
from tests.plugin.function_level.conftest import explained, ran, summary

TESTS = """\
import tinylib


def helper():
    return 1


def test_value():
    assert tinylib.VALUE


def test_helper():
    assert helper() == 1
"""
BOTH = {"test_lib.py::test_value", "test_lib.py::test_helper"}


@pytest.fixture
def project(pytester: pytest.Pytester, env: pytest.MonkeyPatch) -> pytest.Pytester:
    env.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the outer plugins take seconds to load
    (pytester.path / "repo_dagger.yaml").write_text('inputs: ["test_*.py"]\n')
    (pytester.path / "test_lib.py").write_text(TESTS)
    return pytester


def run(project: pytest.Pytester, venv: Venv) -> pytest.RunResult:
    return project.run(
        str(venv.python), "-m", "pytest", "-p", "dryci", "--dryci-level=function", "--dryci-explain", "-v"
    )


def test_upgrading_an_imported_distribution_reruns_every_test_of_the_file(
    project: pytest.Pytester, venv: Venv
) -> None:
    assert ran(run(project, venv)) == BOTH
    # Only the module-level-free helper changes: at function level, test_value alone would re-run.
    (project.path / "test_lib.py").write_text(TESTS.replace("return 1\n", "return 1  # edited\n"))
    assert ran(run(project, venv)) == set()
    venv.install("tinylib==2.0")
    result = run(project, venv)
    assert ran(result) == BOTH
    assert set(explained(result).values()) == {
        "config, environment, a distribution it imports or global dependencies changed"
    }
    assert summary(result).startswith("dryci: 0 of 2 tests cached")
