"""The `dryci` dispatcher, run as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"


def dryci(*args: str, cwd: Path = EXAMPLE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dryci.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_command() -> None:
    result = dryci("--help")
    assert result.returncode == 0
    for command in ("admin", "deps", "init", "server", "verify"):
        assert f"  {command} " in result.stdout


def test_an_unknown_command_is_one_line_and_exit_code_2() -> None:
    result = dryci("frobnicate")
    assert result.returncode == 2
    assert result.stderr.startswith("dryci: unknown command 'frobnicate'")
    assert "Traceback" not in result.stderr


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(tmp_path: Path) -> None:
    # Far more output than a pipe buffers, so the writer really meets the closed pipe.
    (tmp_path / "repo_dagger.yaml").write_text(
        'inputs: "test_*.py"\nroot_python_packages: "pkg"\n'
        'path_rules: {"**/*.py": {visit_imported_python_modules: true}}\n'
    )
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    for i in range(1500):  # 1,500 lines of 77 bytes: more than a 64 KiB pipe holds
        (tmp_path / f"test_{i}.py").write_text("import pkg\n")
    pipeline = f"{sys.executable} -m dryci.cli deps hashes | head -n 1"
    result = subprocess.run(
        ["bash", "-c", pipeline], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert len(result.stdout.split()) == 2  # one "HASH  test_file" line
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr


def test_dryci_without_a_command_prints_the_usage_and_exits_2() -> None:
    result = dryci()
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: dryci COMMAND [ARGS...]")


# Runs `dryci server` in an interpreter where the server extra's packages cannot be imported, as in an
# install without `[server]`: a finder first on sys.meta_path refuses them.
WITHOUT_SERVER_EXTRA = """
import sys
from importlib.abc import MetaPathFinder

HIDDEN = {"fastapi", "starlette", "uvicorn", "psycopg", "psycopg_pool", "uvloop", "httptools"}

class HideServerExtra(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, HideServerExtra())
from dryci.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_server_command_without_the_server_extra_is_one_line_naming_the_pip_command(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_SERVER_EXTRA, "server", "--db", f"sqlite:///{tmp_path / 'c.db'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "dryci server: needs the server extra (module 'uvicorn' is not installed): "
        'pip install "pytest-dryci[server]"\n'
    )


def test_invalid_yaml_in_the_config_is_one_line_with_the_path_line_and_column(tmp_path: Path) -> None:
    config = tmp_path / "repo_dagger.yaml"
    config.write_text('inputs: "test_*.py"\npath_rules:\n  "**/*.py": visit: x\n')
    result = dryci("deps", "hashes", cwd=tmp_path)
    assert result.returncode == 2
    problem = "invalid YAML at line 3, column 19: mapping values are not allowed here"
    assert result.stderr == f"dryci deps: error: {config}: {problem}\n"


def test_an_inputs_glob_matching_nothing_is_a_warning_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "repo_dagger.yaml").write_text('inputs: ["test_*.py", "tests/**/test_*.py"]\n')
    (tmp_path / "test_a.py").write_text("")
    result = dryci("deps", "hashes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"warning: inputs: 'tests/**/test_*.py' matches no file under {tmp_path}" in result.stdout
