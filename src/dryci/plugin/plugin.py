"""pytest entry point of DryCI: declares the options and, when enabled, registers the run's session.

Everything heavy (the analyzer, SQLite, httpx) is imported only when ``--dryci`` is on, so merely
having the plugin installed costs nothing.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

SESSION_PLUGIN_NAME = "dryci-session"
LEVELS = ("file", "function")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dryci", "DryCI test-result cache")
    group.addoption(
        "--dryci",
        action="store_true",
        dest="dryci_enabled",
        help="skip tests that passed before with identical dependencies; publish what passes.",
    )
    group.addoption(
        "--dryci-level",
        dest="dryci_level",
        choices=LEVELS,
        help="(implies --dryci) file: a test file's tests re-run when any file it depends on changed; "
        "function: only those whose executed functions changed (default on Python 3.12+).",
    )
    group.addoption(
        "--dryci-no-skip",
        action="store_true",
        dest="dryci_no_skip",
        help="run every test, but still publish the ones that pass.",
    )
    group.addoption(
        "--dryci-shadow",
        action="store_true",
        dest="dryci_shadow",
        help="(implies --dryci) run every test, publish as usual, and report which tests the cache "
        "would have skipped, and any of those that failed.",
    )
    group.addoption(
        "--dryci-no-publish",
        action="store_true",
        dest="dryci_no_publish",
        help="skip cached tests but never publish results (for untrusted CI jobs).",
    )
    group.addoption(
        "--dryci-config",
        dest="dryci_config",
        metavar="PATH",
        help="repo_dagger config (default: repo_dagger.yaml/.toml or [tool.repo_dagger] at the rootdir).",
    )
    group.addoption(
        "--dryci-explain",
        action="store_true",
        dest="dryci_explain",
        help="say, for each test file that ran, why it was not cached.",
    )
    group.addoption(
        "--dryci-canary",
        dest="dryci_canary",
        metavar="FRACTION",
        help="re-run this fraction (e.g. 0.02) of the tests the cache would skip, to catch stale entries.",
    )
    group.addoption(
        "--dryci-precise",
        action="store_true",
        dest="dryci_precise",
        help="the same as --dryci-level=function.",
    )
    parser.addini("dryci", type="bool", default=False, help="turn DryCI on, like --dryci.")
    parser.addini("dryci_level", default="", help="file or function, like --dryci-level.")
    parser.addini("dryci_precise", type="bool", default=False, help="the same as dryci_level = function.")
    parser.addini("dryci_shadow", type="bool", default=False, help="shadow mode, like --dryci-shadow.")
    parser.addini("dryci_config", default="", help="repo_dagger config path, relative to the rootdir.")
    parser.addini("dryci_canary", default="", help="default for --dryci-canary.")
    parser.addini(
        "dryci_lock_timeout",
        default="5",
        help="seconds to wait for the local cache while another pytest process writes it.",
    )
    parser.addini(
        "dryci_no_publish", type="bool", default=False, help="never publish, like --dryci-no-publish."
    )


def default_level() -> str:
    """Function level where ``sys.monitoring`` makes recording cheap (3.12+), file level before."""
    return "function" if sys.version_info >= (3, 12) else "file"


def _level(config: pytest.Config, options: Any) -> str | None:
    """The level this run uses, or None when DryCI is off; ``options``: the (early) parsed options."""
    explicit = getattr(options, "dryci_level", None)
    precise = getattr(options, "dryci_precise", False) or config.getini("dryci_precise")
    enabled = (
        getattr(options, "dryci_enabled", False)
        or config.getini("dryci")
        or getattr(options, "dryci_shadow", False)
        or config.getini("dryci_shadow")
    )
    ini = str(config.getini("dryci_level") or "").strip()
    if ini and ini not in LEVELS:
        raise pytest.UsageError(f"dryci_level: expected file or function, got {ini!r}")
    if explicit or precise:
        return explicit or "function"
    if not enabled:
        return None
    return ini or default_level()


def _publishes(config: pytest.Config, options: Any) -> bool:
    return not (getattr(options, "dryci_no_publish", False) or config.getini("dryci_no_publish"))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # Function level records from before the first conftest imports project code: functions called
    # at import time must be seen. Options are not parsed into config.option yet: read the early,
    # partial parse. Nothing is recorded when nothing would be published.
    options = early_config.known_args_namespace
    if _level(early_config, options) == "function" and _publishes(early_config, options):
        from dryci.recording.runtime import Recording, recording_key

        early_config.stash[recording_key] = Recording()


def pytest_configure(config: pytest.Config) -> None:
    level = _level(config, config.option)
    if level is None:
        return
    from dryci.plugin.cached import JunitHook
    from dryci.plugin.session import DryciSession, session_key
    from dryci.plugin.settings import read_settings

    session = DryciSession(config, read_settings(config, level))
    config.stash[session_key] = session
    config.pluginmanager.register(session, SESSION_PLUGIN_NAME)
    config.pluginmanager.register(JunitHook(session.cached_into_junit), SESSION_PLUGIN_NAME + "-junit")
    if config.pluginmanager.hasplugin("xdist"):
        from dryci.plugin.xdist import XdistHooks

        config.pluginmanager.register(XdistHooks(session), SESSION_PLUGIN_NAME + "-xdist")


def pytest_report_header(config: pytest.Config) -> list[str]:
    # pytest's terminal writes the header after every other sessionstart hook: the session has
    # planned by then. Without the session module imported, DryCI is off.
    if "dryci.plugin.session" not in sys.modules:
        return []
    from dryci.plugin.report import session_header

    return session_header(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Give the tracer back even when the session never started (--help, a usage error). Without
    # the module imported, nothing was recorded.
    runtime = sys.modules.get("dryci.recording.runtime")
    recording = config.stash.get(runtime.recording_key, None) if runtime is not None else None
    if recording is not None:
        recording.stop()
