"""What outside the tree a test file used that its key does not hold: distributions and variables.

- Environment variables: while the verifier runs, ``os.environ``'s class records every key looked up
  (``os.environ[...]``, ``.get``, ``os.getenv``, ``in``) by code of the project (the caller's file is
  under the base dir), attributed to the test file whose window is open. Variables every key holds
  (``DEFAULT_ENV``, the locale, ``hash_env``) and DryCI's and pytest's own are not findings.
- Distributions: the modules that appear in ``sys.modules`` while a test file's window is open, mapped
  to their distributions and compared with the file's key (its own distributions and every key's).

A module a previous test file imported is not seen again, as for the file recorder: run the verifier
with ``--dryci-verify-isolated`` for a complete picture.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["EnvironmentFinding", "EnvironmentRecorder", "environment_findings", "finding_lines"]

_IGNORED_PREFIXES = ("DRYCI_", "PYTEST_", "_PYTEST")
# Mapping.get and __contains__ (where os.environ's lookups go through) live here.
_ABC_FILE = getattr(sys.modules.get("_collections_abc"), "__file__", "") or ""


class EnvironmentRecorder:
    """Records variable reads and module loads per test file; ``install`` patches ``os.environ``."""

    def __init__(self, base_dir: str) -> None:
        self.base_dir = os.path.realpath(base_dir) + os.sep
        self.variables: dict[str, set[str]] = {}
        self.modules: dict[str, set[str]] = {}
        self._current: str | None = None
        self._original: Any = None

    def install(self) -> None:
        environ_class = type(os.environ)
        if self._original is not None:
            return
        original = environ_class.__getitem__
        recorder = self

        def __getitem__(self: Any, key: Any) -> Any:
            if recorder._current is not None and isinstance(key, str):
                recorder._record(key)
            return original(self, key)

        self._original = original
        environ_class.__getitem__ = __getitem__  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            type(os.environ).__getitem__ = self._original  # type: ignore[method-assign]
            self._original = None

    def _record(self, key: str) -> None:
        frame = sys._getframe(2)
        # Skip the Mapping machinery (get, __contains__) and os.getenv to find who asked.
        while frame is not None and _is_lookup_machinery(frame.f_code.co_filename):
            frame = frame.f_back  # type: ignore[assignment]
        if frame is None or frame.f_code.co_filename.startswith("<"):
            return
        caller = os.path.realpath(frame.f_code.co_filename)
        if caller.startswith(self.base_dir) and "site-packages" not in caller and self._current is not None:
            self.variables.setdefault(self._current, set()).add(key)

    @contextmanager
    def window(self, test_file: str) -> Iterator[None]:
        before = set(sys.modules)
        previous, self._current = self._current, test_file
        try:
            yield
        finally:
            self._current = previous
            new = {name.split(".", 1)[0] for name in set(sys.modules) - before}
            if new:
                self.modules.setdefault(test_file, set()).update(new)


def _is_lookup_machinery(filename: str) -> bool:
    # Frozen stdlib modules (3.11+) name their code "<frozen os>", not os.__file__.
    return filename in (os.__file__, _ABC_FILE) or filename in ("<frozen os>", "<frozen _collections_abc>")


@dataclass(frozen=True)
class EnvironmentFinding:
    test_file: str
    kind: str  # "variable" or "distribution"
    name: str
    detail: str = ""  # a distribution's version


def environment_findings(
    recorder: EnvironmentRecorder,
    analysis: Any,
    hash_env: tuple[str, ...],
) -> list[EnvironmentFinding]:
    """Variables read but not in any key, and distributions loaded but not in the file's key."""
    from dryci.dagger.environment import DEFAULT_ENV, ENV_PREFIXES

    keyed = set(DEFAULT_ENV) | set(hash_env)
    findings = []
    for test_file, names in sorted(recorder.variables.items()):
        for name in sorted(names):
            if name in keyed or name.startswith(ENV_PREFIXES) or name.startswith(_IGNORED_PREFIXES):
                continue
            findings.append(EnvironmentFinding(test_file, "variable", name))
    env = analysis.environment
    installed = env.installed if env is not None else None
    if installed is None:
        return findings  # hash_distributions: all: every distribution is in every key
    for test_file, modules in sorted(recorder.modules.items()):
        if test_file not in analysis.hashes:
            continue
        own: Mapping[str, Any] = analysis.distributions
        in_key = set(own.get(test_file, ())) | set(env.global_distributions)
        for dist in sorted(installed.of_modules(modules) - in_key):
            label = installed.label(dist)
            if label.endswith("(source project)"):
                continue  # the project itself, installed editable: its files are the closure
            findings.append(EnvironmentFinding(test_file, "distribution", dist, label))
    return findings


def finding_lines(findings: list[EnvironmentFinding]) -> list[str]:
    """Terminal lines, with the YAML to add."""
    if not findings:
        return []
    lines = []
    variables = sorted({f.name for f in findings if f.kind == "variable"})
    dists = sorted({f.name for f in findings if f.kind == "distribution"})
    for finding in findings:
        if finding.kind == "variable":
            lines.append(f"  {finding.test_file} reads environment variable {finding.name}, not in hash_env")
        else:
            lines.append(
                f"  {finding.test_file} loaded distribution {finding.name} {finding.detail}, not in its key"
            )
    lines += ["", "dryci verify: add to your repo_dagger.yaml (merge with lists already there):", ""]
    if variables:
        lines.append(f"    hash_env: [{', '.join(variables)}]")
    if dists:
        lines.append(f"    hash_distributions: [{', '.join(dists)}]")
    uses = f"{len(findings)} use{'' if len(findings) == 1 else 's'}"
    head = f"dryci verify: {uses} outside the tree not in the key"
    return [head, *lines]
