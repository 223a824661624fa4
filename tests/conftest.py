"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import dryci.plugin.plugin
import dryci.verify.plugin  # noqa: F401  (imported once here, so pytester runs never re-import them)

pytest_plugins = ["pytester"]

SRC = Path(__file__).resolve().parents[1] / "src"
# pytest finds DryCI's plugins through the entry points of the installed distribution. From a source
# tree (PYTHONPATH=src, nothing installed) there are none: pytester runs are then given the modules.
PLUGIN_MODULES = {"dryci": "dryci.plugin.plugin", "dryci_verify": "dryci.verify.plugin"}


def _plugins_without_entry_point() -> list[str]:
    if sys.version_info >= (3, 10):
        group = entry_points(group="pytest11")
    else:  # pragma: no cover - 3.9 has no selection by group
        group = entry_points().get("pytest11", [])
    installed = {point.name for point in group}
    return [module for name, module in PLUGIN_MODULES.items() if name not in installed]


@pytest.fixture(autouse=True)
def _dryci_plugins_for_pytester(request: pytest.FixtureRequest) -> None:
    if "pytester" not in request.fixturenames:
        return
    missing = _plugins_without_entry_point()
    if not missing:
        return
    request.getfixturevalue("pytester")  # first: setting up, it clears PYTEST_ADDOPTS
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    # PYTEST_ADDOPTS reaches in-process runs, subprocess runs and xdist workers alike; PYTHONPATH lets
    # the subprocesses import the modules.
    options = " ".join(f"-p {module}" for module in missing)
    monkeypatch.setenv("PYTEST_ADDOPTS", f"{os.environ.get('PYTEST_ADDOPTS', '')} {options}".strip())
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))


def require_service(what: str, available: bool) -> None:
    """Skip when a service is missing on a developer machine; fail in CI (DRYCI_STRICT_SERVICES=1)."""
    if available:
        return
    if os.environ.get("DRYCI_STRICT_SERVICES") == "1":
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``monkeypatch`` with DryCI's settings, CI detection and proxies cleared (pytester runs in-process)."""
    for name in (
        "DRYCI_SERVER",
        "DRYCI_TOKEN",
        "DRYCI_SALT",
        "DRYCI_TIMEOUT",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "CI",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
