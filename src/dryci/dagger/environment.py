"""What outside the tree goes into every key, as named parts, and the installed distributions.

Every key holds: the Python implementation and version, the platform (OS, machine, distro), DryCI's
version, pytest and every pytest plugin with their requirement closures, the distributions the config
lists (``hash_distributions``), the variables of ``DEFAULT_ENV`` and ``hash_env``, the outcome-changing
pytest options the plugin passes, and ``DRYCI_SALT``. Each test file's key adds the distributions its
closure imports (see ``dryci.dagger.distributions``). With ``hash_distributions: all`` every installed
distribution is in every key instead, as before per-distribution keys.

Parts are ``name -> value`` strings: their digest is the salt, and ``--dryci-explain`` compares the
parts of two runs to say which one changed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from dryci.dagger.config import Config
from dryci.dagger.distributions import Installed, normalize

__all__ = ["DEFAULT_ENV", "ENV_PREFIXES", "Environment", "env_parts", "environment"]

# Variables that change what Python or pytest do (see docs/config.md for why each is here).
DEFAULT_ENV = (
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    "PYTHONWARNINGS",
    "PYTHONHASHSEED",
    "PYTHONOPTIMIZE",
    "PYTHONDEVMODE",
    "PYTHONUTF8",
    "PYTHONSAFEPATH",
    "PYTHONIOENCODING",
    "PYTHONINTMAXSTRDIGITS",
    "PYTHONWARNDEFAULTENCODING",
    "PYTHONASYNCIODEBUG",
    "PYTHONCOERCECLOCALE",
    "PYTHON_GIL",
    "PYTHON_CPU_COUNT",
    "LANG",
    "LANGUAGE",
    "TZ",
    "COLUMNS",
    "LINES",
    "NO_COLOR",
    "FORCE_COLOR",
    "PY_COLORS",
)
# Every variable with one of these prefixes is in the key too (the locale categories).
ENV_PREFIXES = ("LC_",)


def env_parts(config: Config, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``env:NAME`` -> value of the default variables that are set and of every ``hash_env`` one
    (set or not: an unset variable and an empty one are different environments)."""
    parts: dict[str, str] = {}
    for name in DEFAULT_ENV:
        if name in env:
            parts[f"env:{name}"] = env[name]
    for name, value in env.items():
        if name.startswith(ENV_PREFIXES):
            parts[f"env:{name}"] = value
    for name in config.hash_env:
        found = env.get(name)
        parts[f"env:{name}"] = "<unset>" if found is None else found
    return parts


def _distro() -> str:
    for candidate in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            text = Path(candidate).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        fields = dict(
            line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
        )
        name = fields.get("PRETTY_NAME") or fields.get("NAME") or ""
        return name.strip().strip('"') or "Unknown"
    return platform.platform(terse=True) or "Unknown"


@dataclass(frozen=True)
class Environment:
    """The parts of every key, and (unless ``hash_distributions: all``) the installed distributions
    from which each test file's own distributions are taken."""

    parts: Mapping[str, str]
    installed: Optional[Installed]
    global_distributions: frozenset[str] = frozenset()
    salt: str = field(default="", init=False)

    def __post_init__(self) -> None:
        text = "\n".join(f"{name}={value}" for name, value in sorted(self.parts.items()))
        object.__setattr__(self, "salt", hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest())


def environment(
    config: Config,
    extra: str = "",
    *,
    plugin_distributions: Optional[Iterable[str]] = None,
    plugin_modules: Iterable[str] = (),
    options: Mapping[str, str] | None = None,
    env: Mapping[str, str] = os.environ,
    cache_dir: Optional[Path] = None,
) -> Environment:
    """The environment of this process for ``config``.

    ``plugin_distributions``: the distributions of the pytest plugins loaded (None: every installed
    one with a ``pytest11`` entry point, unless ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` is set);
    ``plugin_modules``: modules registered as plugins (``-p``, ``pytest_plugins``), mapped to their
    distributions; ``options``: the pytest options that change outcomes; ``extra``: ``DRYCI_SALT``;
    ``cache_dir``: where the list of installed distributions is remembered.
    """
    from dryci import __version__

    parts: dict[str, str] = {
        "os": platform.system(),
        "arch": platform.machine(),
        "distro": _distro(),
        "python": f"{platform.python_implementation()} {sys.version}",
        "dryci": __version__,
        "salt": extra,
    }
    parts.update(env_parts(config, env))
    for name, value in (options or {}).items():
        parts[f"option:{name}"] = value
    cache_file = cache_dir / "distributions.json" if cache_dir is not None else None
    installed = Installed.scan(os.path.realpath(str(config.base_dir)), cache_file)
    if config.hash_all_distributions:
        # Name and version only, as before per-distribution keys: an editable tree is not walked.
        for name, dist in installed.dists.items():
            parts[f"dist:{name}"] = dist.version
        return Environment(parts, None, frozenset(installed.dists))
    if plugin_distributions is None:
        autoload = not env.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
        plugin_distributions = [d.name for d in installed.dists.values() if d.pytest_plugin and autoload]
    top_names = {module.split(".", 1)[0] for module in plugin_modules}
    roots = {"pytest", *map(normalize, plugin_distributions), *config.hash_distributions}
    roots |= installed.of_modules(top_names)
    everywhere = installed.closure(roots)
    for name, label in installed.labels(everywhere).items():
        parts[f"dist:{name}"] = label
    return Environment(parts, installed, everywhere)
