"""pytest entry point of DryCI: declares the options and, when enabled, registers the run's session.

Everything heavy (the analyzer, SQLite, httpx) is imported only when ``--dryci`` is on, so merely
having the plugin installed costs nothing.
"""

from __future__ import annotations

import pytest

SESSION_PLUGIN_NAME = "dryci-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dryci", "DryCI test-result cache")
    group.addoption(
        "--dryci",
        action="store_true",
        dest="dryci_enabled",
        help="skip tests that passed before with identical dependencies; publish what passes.",
    )
    group.addoption(
        "--dryci-no-skip",
        action="store_true",
        dest="dryci_no_skip",
        help="run every test, but still publish the ones that pass.",
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
        help="(implies --dryci) also skip tests whose dependencies changed only inside functions "
        "they did not run.",
    )
    parser.addini("dryci", type="bool", default=False, help="turn DryCI on, like --dryci.")
    parser.addini(
        "dryci_precise", type="bool", default=False, help="turn precise mode on, like --dryci-precise."
    )
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


def _precise(config: pytest.Config) -> bool:
    return bool(config.getoption("dryci_precise", False) or config.getini("dryci_precise"))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # Precise mode records from before the first conftest imports project code: functions called at
    # import time must be seen.
    # Options are not parsed into config.option yet: read the early, partial parse.
    early = getattr(early_config.known_args_namespace, "dryci_precise", False)
    if early or early_config.getini("dryci_precise"):
        from dryci.precise.runtime import PreciseRecording, recording_key

        early_config.stash[recording_key] = PreciseRecording()


def pytest_configure(config: pytest.Config) -> None:
    precise = _precise(config)
    if not (config.getoption("dryci_enabled") or config.getini("dryci") or precise):
        return
    from dryci.plugin.session import DryciSession, session_key
    from dryci.plugin.settings import read_settings

    session = DryciSession(config, read_settings(config))
    config.stash[session_key] = session
    config.pluginmanager.register(session, SESSION_PLUGIN_NAME)
    if config.pluginmanager.hasplugin("xdist"):
        from dryci.plugin.xdist import XdistHooks

        config.pluginmanager.register(XdistHooks(session), SESSION_PLUGIN_NAME + "-xdist")
    if precise:
        from dryci.precise.plugin import register_precise

        register_precise(config, session)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Give the tracer back even when the session never started (--help, a usage error).
    if _precise(config):
        from dryci.precise.runtime import recording_key

        recording = config.stash.get(recording_key, None)
        if recording is not None:
            recording.stop()
