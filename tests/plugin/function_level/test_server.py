"""The function level through a real ``dryci server``: records one checkout published serve another."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import LiveServer, live_server
from tests.plugin.function_level.conftest import edit, summary


@pytest.fixture
def server(
    project: pytest.Pytester, env: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("server")
    with live_server(
        "sqlite:///" + str(directory / "server.db"), ["--rate-limit", "0"], log_dir=directory
    ) as live:
        env.setenv("DRYCI_SERVER", live.url)
        env.setenv("DRYCI_TOKEN", live.project("acme").write)
        yield live


def clone(project: pytest.Pytester, where: Path) -> Path:
    """Another checkout of the same sources, with no cache of its own."""
    shutil.copytree(project.path, where, ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__"))
    return where


def run_in(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:randomly", "--dryci-precise", "-v", *args]
    return subprocess.run(command, cwd=checkout, capture_output=True, text=True, timeout=300)


def test_a_second_checkout_skips_at_function_level_with_the_records_the_first_published(
    project: pytest.Pytester, server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Both checkouts run the same way: the options and plugins of a run are part of its keys.
    first = run_in(project.path)
    assert "dryci: 0 of 4 tests cached, " in first.stdout, first.stdout
    other = clone(project, tmp_path_factory.mktemp("checkouts") / "second")
    edit_path = other / "src/geo/shapes.py"
    edit_path.write_text(edit_path.read_text().replace("2 * (w + h)", "(w + h) * 2"))
    result = run_in(other)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tests/test_shapes.py::test_perimeter PASSED" in result.stdout
    assert result.stdout.count(" PASSED") == 1, result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith("dryci: ")]
    assert any(line.startswith("dryci: 3 of 4 tests cached (3 at function level)") for line in lines), lines
    assert not any("could not" in line for line in lines), lines


def test_the_records_on_the_server_are_what_the_plugin_published(
    project: pytest.Pytester, server: LiveServer
) -> None:
    project.runpytest("--dryci-precise").assert_outcomes(passed=4)
    import sqlite3

    db = server.db_url[len("sqlite:///") :]
    with sqlite3.connect(db) as conn:
        (records,) = conn.execute("SELECT COUNT(*) FROM records").fetchone()
        (snapshots,) = conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()
        (facts,) = conn.execute("SELECT COUNT(*) FROM facts").fetchone()
    assert (records, snapshots) == (1, 1) and facts >= 2  # one test file; its closure's contents
    # Nothing local holds them: the plugin used the server as its record store.
    local = project.path / ".pytest_cache/d/dryci/results.sqlite"
    with sqlite3.connect(local) as conn:
        assert conn.execute("SELECT COUNT(*) FROM records").fetchone() == (0,)
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    again = project.runpytest("--dryci-precise")
    again.assert_outcomes()
    assert summary(again).startswith("dryci: 4 of 4 tests cached (4 at function level), ")
