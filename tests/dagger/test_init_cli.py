"""``dryci init`` on generated projects of each layout, then real ``pytest --dryci`` runs (pytester)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import dryci.plugin.session  # imported once in the outer process: see tests/plugin/conftest.py
from dryci.cli import main as dryci
from dryci.dagger import analyze, find_config, load_config
from tests.dagger.layouts import DATA, LAYOUTS, write_layout

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def init(root: Path, *args: str) -> int:
    return dryci(["init", "--root", str(root), *args])


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_init_then_the_second_pytest_run_skips_everything(
    pytester: pytest.Pytester, layout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_layout(pytester.path, layout)
    assert init(pytester.path) == 0
    out = capsys.readouterr().out
    assert f"wrote {pytester.path / 'repo_dagger.yaml'}" in out
    assert "files in the graph, 2 test files" in out
    load_config(pytester.path / "repo_dagger.yaml")
    # This repository's own `tests` package is imported in this process: a project whose tests/ is a
    # package must run in a fresh one.
    run = pytester.runpytest_subprocess if layout == "tests-at-top" else pytester.runpytest

    run("--dryci").assert_outcomes(passed=2)
    second = run("--dryci")
    second.assert_outcomes()
    second.stdout.fnmatch_lines(["dryci: 2 of 2 tests cached*"])

    data_file, reader = DATA[layout]
    (pytester.path / data_file).write_text("a b\n\n", encoding="utf-8")
    third = run("--dryci", "-v")
    third.assert_outcomes(passed=1)
    third.stdout.fnmatch_lines([f"{reader} PASSED*"])


def test_init_prints_the_largest_closures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_layout(tmp_path, "src")
    assert init(tmp_path) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        # uv.lock is no global dependency: the installed distributions are in the keys.
        "7 files in the graph, 2 test files",
        "largest closures (files a test file depends on):",
        "       5  tests/test_table.py",
        "       4  tests/test_core.py",
    ]


def test_init_never_overwrites_a_config_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_layout(tmp_path, "flat")
    (tmp_path / "repo_dagger.yaml").write_text("inputs: mine\n", encoding="utf-8")
    assert init(tmp_path) == 2
    assert capsys.readouterr().err == (
        f"dryci init: error: {tmp_path / 'repo_dagger.yaml'} already holds a repo_dagger config; "
        "pass --force to replace it, or edit it by hand\n"
    )
    assert (tmp_path / "repo_dagger.yaml").read_text(encoding="utf-8") == "inputs: mine\n"
    assert init(tmp_path, "--force") == 0
    assert load_config(tmp_path / "repo_dagger.yaml").inputs == ("tests/**/test_*.py",)


def test_toml_writes_a_table_into_pyproject_and_keeps_the_rest(tmp_path: Path) -> None:
    write_layout(tmp_path, "src")
    pyproject = tmp_path / "pyproject.toml"
    original = '# top comment\n[project]\nname = "x"\n\n' + pyproject.read_text(encoding="utf-8")
    pyproject.write_text(original, encoding="utf-8")
    assert init(tmp_path, "--toml") == 0
    text = pyproject.read_text(encoding="utf-8")
    assert text.startswith(original)
    assert find_config(tmp_path) == pyproject
    config = load_config(pyproject)
    assert config.python_roots == ("src", "tests")
    assert [rule.pattern for rule in config.path_rules] == ["**/*.py", "src/mypkg/table.py"]
    assert tomllib.loads(text)["tool"]["pytest"]["ini_options"]["pythonpath"] == ["src"]

    assert init(tmp_path, "--toml") == 2
    assert init(tmp_path, "--toml", "--force") == 0
    assert pyproject.read_text(encoding="utf-8") == text


def test_toml_creates_pyproject_when_there_is_none(tmp_path: Path) -> None:
    write_layout(tmp_path, "namespace")
    assert init(tmp_path, "--toml") == 0
    assert load_config(tmp_path / "pyproject.toml").root_python_packages == ("acme",)


def test_yaml_is_refused_when_pyproject_already_holds_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_layout(tmp_path, "src")
    assert init(tmp_path, "--toml") == 0
    capsys.readouterr()
    assert init(tmp_path, "--force") == 2
    assert "remove it before writing repo_dagger.yaml" in capsys.readouterr().err
    assert not (tmp_path / "repo_dagger.yaml").exists()


def test_print_writes_nothing_and_the_output_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_layout(tmp_path, "tests-in-package")
    assert init(tmp_path, "--print") == 0
    assert list(tmp_path.glob("repo_dagger.*")) == []
    printed = tmp_path / "printed.yaml"
    printed.write_text(capsys.readouterr().out, encoding="utf-8")
    config = load_config(printed)
    assert config.inputs == ("mypkg/**/test_*.py",)
    assert config.global_deps == ("setup.cfg",)
    assert len(analyze(config).inputs) == 2


def test_a_missing_root_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert init(tmp_path / "nope") == 2
    assert capsys.readouterr().err == f"dryci init: error: {tmp_path / 'nope'}: not a folder\n"


def test_init_writes_the_variables_the_code_reads_into_hash_env_with_where(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("import os\n\nMODE = os.getenv('APP_MODE', 'x')\n")
    (tmp_path / "pkg" / "paths.py").write_text("import os\n\nHOME = os.environ['HOME']\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("import pkg\n\n\ndef test_a():\n    assert pkg.MODE\n")
    assert init(tmp_path) == 0
    text = (tmp_path / "repo_dagger.yaml").read_text()
    assert '  - "APP_MODE"  # read in pkg/__init__.py' in text
    assert '  # - "HOME"  # read in pkg/paths.py; names the machine or CI job, so left out' in text
    assert load_config(tmp_path / "repo_dagger.yaml").hash_env == ("APP_MODE",)
