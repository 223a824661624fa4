"""Keys per distribution, end to end: real wheels pip-installed into a throwaway venv, real pytest runs.

An upgrade re-runs the test files whose closure imports the distribution (or one requiring it), a
pytest plugin's upgrade re-runs everything, and so does `hash_distributions: all`; the variables and
options that change outcomes are in every key.
"""

from __future__ import annotations

import re

import pytest

from tests.distributions import Venv
from tests.plugin.conftest import ran

CONFIG = """\
inputs: ["test_*.py"]
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
"""
FILES = {
    "helper.py": "import tinylib\n\nVALUE = tinylib.VALUE\n",
    "test_lib.py": "import tinylib\n\n\ndef test_lib():\n    assert tinylib.VALUE\n",
    "test_indirect.py": "from helper import VALUE\n\n\ndef test_indirect():\n    assert VALUE\n",
    "test_wrap.py": "import tinywrap\n\n\ndef test_wrap():\n    assert tinywrap.wrapped()\n",
    "test_plain.py": "def test_plain():\n    assert True\n",
}
EVERY = {
    "test_lib.py::test_lib",
    "test_indirect.py::test_indirect",
    "test_wrap.py::test_wrap",
    "test_plain.py::test_plain",
}


@pytest.fixture
def project(pytester: pytest.Pytester, env: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("PYTEST_ADDOPTS", "PYTHONWARNINGS", "TINY_MODE"):
        env.delenv(name, raising=False)
    # The outer environment's plugins (hypothesis, schemathesis) take seconds to load: name the two
    # needed instead. `-p` loads a plugin by its entry point, so it counts as loaded by entry point.
    env.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    (pytester.path / "repo_dagger.yaml").write_text(CONFIG)
    pytester.makeini("[pytest]\ndryci_level = file\n")
    for rel, text in FILES.items():
        (pytester.path / rel).write_text(text)
    return pytester


def run(project: pytest.Pytester, venv: Venv, *args: str) -> pytest.RunResult:
    return project.run(
        str(venv.python), "-m", "pytest", "-p", "dryci", "-p", "tinyplug", "--dryci", "-v", *args
    )


def test_upgrading_a_distribution_reruns_only_the_files_that_import_it(
    project: pytest.Pytester, venv: Venv
) -> None:
    assert ran(run(project, venv)) == EVERY
    assert ran(run(project, venv)) == set()
    venv.install("tinylib==2.0")
    result = run(project, venv, "--dryci-explain")
    assert ran(result) == {"test_lib.py::test_lib", "test_indirect.py::test_indirect"}
    result.stdout.fnmatch_lines(["test_lib.py: since the cached pass, tinylib 1.0 -> 2.0"])


def test_upgrading_a_requirement_reruns_the_importers_of_what_requires_it(
    project: pytest.Pytester, venv: Venv
) -> None:
    assert ran(run(project, venv)) == EVERY
    venv.install("tinydep==2.0")
    assert ran(run(project, venv)) == {"test_wrap.py::test_wrap"}


def test_upgrading_a_pytest_plugin_reruns_everything(project: pytest.Pytester, venv: Venv) -> None:
    assert ran(run(project, venv)) == EVERY
    venv.install("pytest-tinyplug==2.0")
    result = run(project, venv, "--dryci-explain")
    assert ran(result) == EVERY
    result.stdout.fnmatch_lines(["test_plain.py: since the cached pass, pytest-tinyplug 1.0 -> 2.0"])


def test_hash_distributions_all_reruns_everything_on_any_upgrade(
    project: pytest.Pytester, venv: Venv
) -> None:
    (project.path / "repo_dagger.yaml").write_text(CONFIG + "hash_distributions: all\n")
    assert ran(run(project, venv)) == EVERY
    venv.install("tinylib==2.0")
    assert ran(run(project, venv)) == EVERY


def test_a_listed_distribution_is_in_every_key(project: pytest.Pytester, venv: Venv) -> None:
    (project.path / "repo_dagger.yaml").write_text(CONFIG + "hash_distributions: [TinyLib]\n")
    assert ran(run(project, venv)) == EVERY
    venv.install("tinylib==2.0")
    assert ran(run(project, venv)) == EVERY


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PYTHONWARNINGS", "error::DeprecationWarning"), ("PYTEST_ADDOPTS", "-W error::DeprecationWarning")],
)
def test_turning_warnings_into_errors_reruns_and_fails_the_cached_test(
    project: pytest.Pytester, venv: Venv, env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    (project.path / "test_warns.py").write_text(
        "import warnings\n\n\ndef test_warns():\n    warnings.warn('old', DeprecationWarning)\n"
    )
    run(project, venv).assert_outcomes(passed=5, warnings=1)
    env.setenv(variable, value)
    result = run(project, venv)
    assert "test_warns.py::test_warns" in ran(result)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_warning_option_on_the_command_line_is_in_the_key(project: pytest.Pytester, venv: Venv) -> None:
    assert ran(run(project, venv)) == EVERY
    assert ran(run(project, venv, "-W", "error::UserWarning")) == EVERY
    assert ran(run(project, venv, "-W", "error::UserWarning")) == set()


def test_a_hash_env_variable_change_reruns(
    project: pytest.Pytester, venv: Venv, env: pytest.MonkeyPatch
) -> None:
    (project.path / "repo_dagger.yaml").write_text(CONFIG + "hash_env: [TINY_MODE]\n")
    assert ran(run(project, venv)) == EVERY
    env.setenv("TINY_MODE", "fast")
    result = run(project, venv, "--dryci-explain")
    assert ran(result) == EVERY
    result.stdout.fnmatch_lines(["test_plain.py: since the cached pass, TINY_MODE changed: <unset> -> fast"])


def test_deps_why_shows_the_distributions_of_a_test_files_key(project: pytest.Pytester, venv: Venv) -> None:
    main = "import sys; from dryci.cli import main; sys.exit(main())"
    result = project.run(str(venv.python), "-c", main, "deps", "why", "test_wrap.py")
    text = result.stdout.str()
    assert re.search(r"tinywrap 1\.0", text), text
    assert re.search(r"tinydep 1\.0 \(required by tinywrap\)", text), text
    assert "tinylib" not in text
