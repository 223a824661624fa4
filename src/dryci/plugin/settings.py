"""The plugin's settings, read once from options, ini values and environment variables.

A bad command-line flag or ini value raises ``pytest.UsageError`` naming it, as pytest's own do. A bad
environment variable is treated like a broken config file: it is named in ``Settings.problem``, said
in one line, and the run goes on with every test and nothing published. This module is the only
place that knows where each setting comes from.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from dryci.exceptions import ConfigError
from dryci.protocol import Provenance
from dryci.selection.decision import Level

__all__ = [
    "DEFAULT_TIMEOUT",
    "Settings",
    "parse_canary",
    "parse_timeout",
    "provenance_from_env",
    "read_settings",
]

DEFAULT_TIMEOUT = 3.0


@dataclass(frozen=True)
class Settings:
    skip: bool
    publish: bool
    explain: bool
    canary: float
    config_path: Path | None
    server: str | None
    token: str | None
    salt: str
    timeout: float
    lock_timeout: float = 5.0
    problem: str | None = None  # a bad environment variable: the cache is off for this run
    level: Level = Level.FILE
    # In every key: outcome-changing options (name -> value) and the plugins pytest loaded.
    key_options: tuple[tuple[str, str], ...] = ()
    plugin_distributions: tuple[str, ...] | None = None  # None: not known (every pytest11 one)
    plugin_modules: tuple[str, ...] = ()
    # Shadow mode: every test runs; the plan is made as usual and only remembered (see selection.shadow).
    shadow: bool = False


def parse_canary(value: str) -> float:
    try:
        fraction = float(value)
    except ValueError:
        fraction = math.nan
    if not 0.0 <= fraction <= 1.0:  # also rejects nan
        raise pytest.UsageError(f"--dryci-canary: expected a fraction from 0 to 1 (e.g. 0.02), got {value!r}")
    return fraction


def parse_seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (seconds > 0 and math.isfinite(seconds)):
        raise pytest.UsageError(f"{name}: expected a positive number of seconds, got {value!r}")
    return seconds


def parse_timeout(value: str | None) -> float:
    if value is None or not value.strip():
        return DEFAULT_TIMEOUT
    return parse_seconds("DRYCI_TIMEOUT", value)


def _environment(env: Mapping[str, str]) -> tuple[str | None, float, str | None]:
    """DRYCI_SERVER and DRYCI_TIMEOUT, and what is wrong with them (None when nothing is)."""
    server = env.get("DRYCI_SERVER", "").strip() or None
    try:
        timeout = parse_timeout(env.get("DRYCI_TIMEOUT"))
        if server is not None:
            from dryci.store.remote import check_server_url  # imports httpx: only when a server is set

            server = check_server_url(server)
    except (ConfigError, pytest.UsageError) as exc:
        return None, DEFAULT_TIMEOUT, str(exc)
    return server, timeout, None


def read_settings(config: pytest.Config, level: str, env: Mapping[str, str] = os.environ) -> Settings:
    canary_raw = config.getoption("dryci_canary") or config.getini("dryci_canary") or "0"
    config_raw = config.getoption("dryci_config") or config.getini("dryci_config") or None
    server, timeout, problem = _environment(env)
    plugins = loaded_plugins(config)
    config_path: Path | None = None
    if config_raw:
        config_path = Path(config_raw)
        if not config_path.is_absolute():
            base = config.invocation_params.dir if config.getoption("dryci_config") else config.rootpath
            config_path = base / config_path
        if not config_path.is_file():
            raise pytest.UsageError(f"--dryci-config: no such file: {config_raw}")
    shadow = bool(config.getoption("dryci_shadow") or config.getini("dryci_shadow"))
    if shadow and config.getoption("dryci_no_skip"):
        raise pytest.UsageError(
            "--dryci-shadow: cannot be combined with --dryci-no-skip (shadow mode runs every test "
            "already, and asks the cache what it would have skipped)"
        )
    return Settings(
        shadow=shadow,
        skip=not config.getoption("dryci_no_skip"),
        publish=not (config.getoption("dryci_no_publish") or config.getini("dryci_no_publish")),
        explain=bool(config.getoption("dryci_explain")),
        canary=parse_canary(str(canary_raw)),
        config_path=config_path,
        server=server,
        token=env.get("DRYCI_TOKEN") or None,
        salt=env.get("DRYCI_SALT", ""),
        timeout=timeout,
        lock_timeout=parse_seconds("dryci_lock_timeout", str(config.getini("dryci_lock_timeout"))),
        problem=problem,
        level=Level(level),
        key_options=key_options(config),
        plugin_distributions=plugins[0],
        plugin_modules=plugins[1],
    )


# Options that change outcomes, by their `config.option` dest; their values come from the command
# line, PYTEST_ADDOPTS and the `addopts` ini alike (pytest parses all three into the same options).
_KEY_OPTIONS = (
    ("-W", "pythonwarnings"),
    ("-o", "override_ini"),
    ("-p", "plugins"),
    ("--import-mode", "importmode"),
    ("--runxfail", "runxfail"),
    ("--strict-markers", "strict_markers"),
    ("--strict-config", "strict_config"),
    ("--strict", "strict"),
    ("--assert", "assertmode"),
)
_KEY_INIS = ("filterwarnings", "xfail_strict")


def key_options(config: pytest.Config) -> tuple[tuple[str, str], ...]:
    """The outcome-changing options and ini values of this run, as key parts."""
    parts = []
    for flag, dest in _KEY_OPTIONS:
        value = getattr(config.option, dest, None)
        if dest in ("override_ini", "plugins") and isinstance(value, list):
            # DryCI's own settings (`-o dryci_lock_timeout=...`, `-p dryci...`) change no outcome.
            value = [v for v in value if not str(v).split("=", 1)[0].strip().startswith("dryci")]
        if value not in (None, False, [], ()):
            parts.append((flag, repr(value)))
    for name in _KEY_INIS:
        try:
            value = config.getini(name)
        except (ValueError, KeyError):
            continue
        if value not in (None, False, [], (), ""):
            parts.append((f"ini:{name}", repr(value)))
    return tuple(parts)


def loaded_plugins(config: pytest.Config) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Distributions of the plugins pytest loaded by entry point, and the modules registered as plugins
    from outside the project (``-p name``, a conftest's ``pytest_plugins``)."""
    import types

    manager = config.pluginmanager
    dists = sorted(
        {str(dist.metadata["name"] or "") for _plugin, dist in manager.list_plugin_distinfo()} - {""}
    )
    root = str(config.rootpath)
    modules = set()
    for plugin in manager.get_plugins():
        if isinstance(plugin, types.ModuleType):
            file = getattr(plugin, "__file__", None) or ""
            if not file.startswith(root):
                modules.add(plugin.__name__)
    return tuple(dists), tuple(sorted(modules))


def provenance_from_env(env: Mapping[str, str]) -> Provenance:
    """Branch, commit and run URL from GitHub Actions, GitLab CI or generic CI variables."""
    if env.get("GITHUB_ACTIONS") == "true":
        run_url = None
        if env.get("GITHUB_REPOSITORY") and env.get("GITHUB_RUN_ID"):
            server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
            run_url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
        return Provenance(
            branch=env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or None,
            commit=env.get("GITHUB_SHA") or None,
            run_url=run_url,
        )
    if env.get("GITLAB_CI"):
        return Provenance(
            branch=env.get("CI_COMMIT_REF_NAME") or env.get("CI_COMMIT_BRANCH") or None,
            commit=env.get("CI_COMMIT_SHA") or None,
            run_url=env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL") or None,
        )
    if env.get("CI"):
        return Provenance(
            branch=env.get("BRANCH_NAME") or env.get("GIT_BRANCH") or env.get("CI_BRANCH") or None,
            commit=env.get("GIT_COMMIT") or env.get("COMMIT_SHA") or env.get("CI_COMMIT_ID") or None,
            run_url=env.get("BUILD_URL") or env.get("CI_BUILD_URL") or None,
        )
    return Provenance()
