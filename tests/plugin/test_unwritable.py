"""An unwritable or full cache folder costs the cache, never the run: real read-only mounts and a tiny tmpfs.

Root ignores file permissions, so a read-only folder needs a read-only mount; these tests need root
and mount(8), and skip with the reason elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.plugin.conftest import ALL_TESTS, append

RUNNING_ALL = "(running all tests)"


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def can_mount(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) for a read-only bind mount or a tmpfs")
    probe = tmp_path / "probe"
    probe.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe))
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"mount is not permitted here: {exc.stderr.strip()}")
    subprocess.run(["umount", str(probe)], check=True)


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,bind,ro", str(folder))
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[None]:
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> None:
    """Write until the file system says it is full."""
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


def dryci_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if line.startswith("dryci: ") and " cached, " not in line]


def assert_ran_everything_cleanly(result: pytest.RunResult) -> None:
    result.assert_outcomes(passed=ALL_TESTS)
    assert result.ret == pytest.ExitCode.OK
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output and "Traceback" not in output


@pytest.mark.usefixtures("can_mount")
def test_a_fresh_read_only_cache_folder_runs_every_test_with_one_line(project: pytest.Pytester) -> None:
    cache = project.path / ".pytest_cache"
    cache.mkdir()
    with read_only(cache):
        result = project.runpytest_subprocess("--dryci")
    assert_ran_everything_cleanly(result)
    (line,) = dryci_lines(result)
    assert line.startswith("dryci: cannot use the cache folder ") and "Read-only file system" in line
    assert line.endswith(RUNNING_ALL)


@pytest.mark.usefixtures("can_mount")
def test_a_cache_made_read_only_after_a_run_still_runs_every_changed_test(project: pytest.Pytester) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    append(project.path / "src/calc/ops.py")
    append(project.path / "src/calc/text.py")
    append(project.path / "tests/conftest.py")
    with read_only(project.path / ".pytest_cache"):
        result = project.runpytest_subprocess("--dryci")
    assert_ran_everything_cleanly(result)
    (line,) = dryci_lines(result)
    assert line.endswith(RUNNING_ALL) or line.startswith("dryci: could not save results: "), line


@pytest.mark.usefixtures("can_mount")
def test_a_full_disk_when_the_cache_is_first_made_runs_every_test_with_one_line(
    project: pytest.Pytester,
) -> None:
    cache = project.path / ".pytest_cache"
    cache.mkdir()
    with tmpfs(cache, "256k"):
        fill(cache)
        result = project.runpytest_subprocess("--dryci")
    assert_ran_everything_cleanly(result)
    (line,) = dryci_lines(result)
    assert line.endswith(RUNNING_ALL), line


@pytest.mark.usefixtures("can_mount")
def test_a_disk_that_fills_up_means_results_are_not_saved_in_one_line(project: pytest.Pytester) -> None:
    cache = project.path / ".pytest_cache"
    cache.mkdir()
    with tmpfs(cache, "2m"):
        project.runpytest_subprocess("--dryci").assert_outcomes(passed=ALL_TESTS)
        append(project.path / "src/calc/ops.py")
        append(project.path / "src/calc/text.py")
        append(project.path / "tests/conftest.py")
        fill(cache)
        result = project.runpytest_subprocess("--dryci")
    assert_ran_everything_cleanly(result)
    # SQLite may already fail to open (no room for its shared-memory file) or only fail to save.
    (line,) = dryci_lines(result)
    assert line.endswith(RUNNING_ALL) or line.startswith("dryci: could not save results: "), line
