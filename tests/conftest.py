"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester"]


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
