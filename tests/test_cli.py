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
