"""Which absolute paths count as repository files, and their base-relative posix names.

Reads of the virtualenv, site-packages, caches and anything outside the base dir are not dependencies a
config rule could name, so they are dropped here; compiled ``.pyc`` files map to the source they cache.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# Folder names whose contents are never project dependencies.
IGNORED_PARTS = frozenset(
    {
        ".eggs",
        ".git",
        ".hg",
        ".hypothesis",
        ".mypy_cache",
        ".nox",
        ".pytest_cache",
        ".ruff_cache",
        ".svn",
        ".tox",
        ".venv",
        "__pypackages__",
        "dist-packages",
        "node_modules",
        "site-packages",
        "venv",
    }
)
_OWN_DIR = os.path.dirname(os.path.abspath(__file__))


class PathFilter:
    """Maps absolute paths inside ``base_dir`` to relative posix names; ``None`` for everything else."""

    def __init__(self, base_dir: Path) -> None:
        bases = {os.path.abspath(base_dir), os.path.realpath(base_dir)}
        self._prefixes = tuple(sorted(os.path.join(b, "") for b in bases))
        self.base_dir = Path(os.path.abspath(base_dir))

    def relative(self, path: str) -> str | None:
        """``path`` (absolute or relative to the cwd) as a base-relative posix path, or None when ignored."""
        path = os.path.abspath(path)
        for prefix in self._prefixes:
            if path.startswith(prefix):
                rel = path[len(prefix) :]
                break
        else:
            return None
        parts = rel.split(os.sep)
        if "__pycache__" in parts and rel.endswith(".pyc"):
            try:
                source = importlib.util.source_from_cache(path)
            except ValueError:
                return None
            return self.relative(source)
        if IGNORED_PARTS.intersection(parts) or path.startswith(_OWN_DIR):
            return None
        return "/".join(parts)

    def project_code(self, filename: str) -> str | None:
        """A code object's file as a relative name when it belongs to the project (not a library, not this
        verifier); None otherwise. Unlike ``relative``, names like ``<frozen ...>`` never resolve."""
        if not filename.startswith(self._prefixes):
            return None
        return self.relative(filename)
