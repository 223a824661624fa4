"""Installed distributions: which provide a top-level module, what each requires, and what identifies each.

A test file's key holds the distributions its closure imports (a top-level name -> every distribution
that installs it: namespace packages have several), each with its requirement closure, since an
upgrade of a requirement can change what the importer does. A distribution is identified by name and
version, plus, where it was not installed from an index, its source: the VCS commit or archive hash of
``direct_url.json``, the hashes in its ``RECORD`` for a local folder, or the content of the tree an
editable install points to (its version does not change when its code does).

Everything is read once per process from ``importlib.metadata``; names are normalized (PEP 503).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

__all__ = ["Distribution", "Installed", "normalize"]

_SEPARATORS = re.compile(r"[-_.]+")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_FINDER_MAPPING = re.compile(r"MAPPING\s*(?::[^=\n]*)?=\s*(\{[^}]*\})")
_SOURCE_SUFFIXES = (".py", ".pyx", ".pxd", ".pyi", ".so", ".pyd", ".c", ".h", ".cpp")
_SKIPPED_DIRS = frozenset({"__pycache__", "build", "dist", "node_modules", "site-packages"})
# An editable tree is hashed by content; beyond this many files it is named by its version alone.
_EDITABLE_FILE_CAP = 20_000


def normalize(name: str) -> str:
    """The PEP 503 form of a distribution name: ``Foo_Bar.baz`` -> ``foo-bar-baz``."""
    return _SEPARATORS.sub("-", name).lower().strip()


@dataclass(frozen=True)
class Distribution:
    name: str  # normalized
    version: str
    requires: tuple[str, ...] = ()  # normalized names, whichever are installed or not
    direct_url: Optional[Mapping[str, Any]] = None
    location: str = ""  # the .dist-info folder (for RECORD)
    pytest_plugin: bool = False  # has a ``pytest11`` entry point: pytest loads it in every run

    @property
    def editable(self) -> Optional[str]:
        """The folder an editable install points to, or None."""
        info = self.direct_url or {}
        dir_info = info.get("dir_info")
        url = info.get("url", "")
        if isinstance(dir_info, dict) and dir_info.get("editable") and url.startswith("file://"):
            from urllib.parse import unquote, urlparse

            return unquote(urlparse(url).path)
        return None


def _requirement_names(requires: Iterable[str]) -> tuple[str, ...]:
    """Names of the requirements whose markers hold here without extras. Which extras were asked for
    at install time is not recorded, and counting every extra's requirements would put most of an
    environment in each key; the verifier reports a distribution an extra brought in that a test loaded."""
    try:
        from packaging.markers import InvalidMarker, UndefinedEnvironmentName
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - pytest depends on packaging
        return tuple(sorted({normalize(m.group(1)) for raw in requires if (m := _NAME.match(raw))}))
    names = []
    for raw in requires:
        try:
            requirement = Requirement(raw)
        except InvalidRequirement:
            match = _NAME.match(raw)
            if match:
                names.append(normalize(match.group(1)))
            continue
        marker = requirement.marker
        if marker is not None:
            try:
                if not marker.evaluate({"extra": ""}):
                    continue
            except (InvalidMarker, UndefinedEnvironmentName):
                pass  # a marker that cannot be evaluated counts: more distributions, never fewer
        names.append(normalize(requirement.name))
    return tuple(sorted(set(names)))


def _top_level_names(dist: Any) -> set[str]:
    """Top-level modules a distribution installs: ``top_level.txt``, else the files it lists (and,
    for an editable install, the modules its finder maps or its ``.pth`` folder holds)."""
    names: set[str] = set()
    text = dist.read_text("top_level.txt")
    if text:
        names.update(line.strip().replace("/", ".").split(".", 1)[0] for line in text.splitlines())
    for file in dist.files or ():
        parts = file.parts
        if not parts or parts[0] == ".." or parts[0].endswith((".dist-info", ".egg-info")):
            continue
        first = parts[0]
        if len(parts) > 1:
            if first != "__pycache__" and first.isidentifier():
                names.add(first)
            continue
        if first.startswith("__editable__") and first.endswith(".py"):
            names.update(_finder_names(dist, file))
        elif first.endswith(".pth"):
            names.update(_pth_names(dist, file))
        elif first.endswith((".py", ".so", ".pyd")):
            stem = first.split(".", 1)[0]
            if stem.isidentifier() and not stem.startswith("__editable__"):
                names.add(stem)
    names.discard("")
    return names


def _finder_names(dist: Any, file: Any) -> set[str]:
    try:
        text = Path(str(dist.locate_file(file))).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    match = _FINDER_MAPPING.search(text)
    if not match:
        return set()
    return set(re.findall(r"""['"]([A-Za-z_]\w*)['"]\s*:""", match.group(1)))


def _pth_names(dist: Any, file: Any) -> set[str]:
    """Modules in the folders a legacy editable ``.pth`` puts on ``sys.path``."""
    try:
        text = Path(str(dist.locate_file(file))).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    names: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "import ")) or not os.path.isdir(line):
            continue
        try:
            entries = os.listdir(line)
        except OSError:
            continue
        for entry in entries:
            stem = entry[:-3] if entry.endswith(".py") else entry
            if stem.isidentifier() and (entry.endswith(".py") or os.path.isdir(os.path.join(line, entry))):
                names.add(stem)
    return names


@dataclass
class Installed:
    """The distributions importable here, by normalized name, and top-level module -> distributions."""

    dists: Mapping[str, Distribution]
    modules: Mapping[str, tuple[str, ...]]
    project_dir: str = ""  # editable installs of the project itself are the tree, already hashed
    _closures: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _labels: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def scan(cls, project_dir: str = "", cache_file: Optional[Path] = None) -> Installed:
        """What ``importlib.metadata`` finds on ``sys.path``; ``cache_file`` keeps it while no
        ``sys.path`` folder changed (installing, upgrading or removing a distribution changes its
        folder's mtime): reading every distribution's metadata costs ~3 ms each."""
        key = _path_fingerprint()
        cached = _load_cache(cache_file, key)
        if cached is not None:
            return cls(cached[0], cached[1], project_dir)
        installed = cls._scan(project_dir)
        if cache_file is not None and key is not None:
            _save_cache(cache_file, key, installed)
        return installed

    @classmethod
    def _scan(cls, project_dir: str) -> Installed:
        from importlib import metadata

        dists: dict[str, Distribution] = {}
        modules: dict[str, set[str]] = {}
        for dist in metadata.distributions():
            meta = dist.metadata  # parsed on each access: once per distribution
            name = normalize(meta["Name"] or "")
            if not name or name in dists:
                continue  # the first one on sys.path is the one imported
            try:
                direct_text = dist.read_text("direct_url.json")
                direct = json.loads(direct_text) if direct_text else None
            except ValueError:
                direct = {"unreadable": True}
            location = str(getattr(dist, "_path", ""))
            requires = _requirement_names(meta.get_all("Requires-Dist") or ())
            plugin = any(entry.group == "pytest11" for entry in dist.entry_points)
            dists[name] = Distribution(name, meta["Version"] or "", requires, direct, location, plugin)
            for module in _top_level_names(dist):
                modules.setdefault(module, set()).add(name)
        return cls(dists, {m: tuple(sorted(n)) for m, n in modules.items()}, project_dir)

    def of_modules(self, names: Iterable[str]) -> set[str]:
        """Distributions that install any of the top-level modules ``names`` (unknown names add none)."""
        out: set[str] = set()
        for name in names:
            out.update(self.modules.get(name, ()))
        return out

    def closure(self, names: Iterable[str]) -> frozenset[str]:
        """``names`` with every installed distribution they require, transitively."""
        out: set[str] = set()
        for name in names:
            cached = self._closures.get(name)
            if cached is None:
                cached = self._closures[name] = self._closure_of(name)
            out |= cached
        return frozenset(out)

    def _closure_of(self, start: str) -> frozenset[str]:
        seen = {start}
        stack = [start]
        while stack:
            dist = self.dists.get(stack.pop())
            if dist is None:
                continue
            for required in dist.requires:
                if required in self.dists and required not in seen:
                    seen.add(required)
                    stack.append(required)
        return frozenset(seen)

    def label(self, name: str) -> str:
        """``1.2.3``, ``1.2.3 (source abcd1234...)`` or ``not installed``: what the key holds for ``name``."""
        cached = self._labels.get(name)
        if cached is None:
            dist = self.dists.get(name)
            if dist is None:
                cached = "not installed"
            else:
                source = self._source(dist)
                cached = dist.version if not source else f"{dist.version} (source {source[:12]})"
            self._labels[name] = cached
        return cached

    def labels(self, names: Iterable[str]) -> dict[str, str]:
        return {name: self.label(name) for name in sorted(set(names))}

    def fingerprint(self, names: Iterable[str]) -> str:
        """One digest of the distributions ``names`` (with their labels)."""
        text = "\n".join(f"{name}=={label}" for name, label in self.labels(names).items())
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    def _source(self, dist: Distribution) -> str:
        info = dist.direct_url
        if info is None:
            return ""  # from an index: the name and version say it all
        vcs = info.get("vcs_info")
        if isinstance(vcs, dict) and vcs.get("commit_id"):
            return str(vcs["commit_id"])
        archive = info.get("archive_info")
        if isinstance(archive, dict) and (archive.get("hashes") or archive.get("hash")):
            return _digest(json.dumps(archive.get("hashes") or archive.get("hash"), sort_keys=True))
        editable = dist.editable
        if editable is not None:
            return self._tree_digest(editable)
        # A local folder or an archive without a hash: the installed files' hashes (RECORD) say it.
        try:
            record = Path(dist.location, "RECORD").read_bytes()
        except OSError:
            return _digest(json.dumps(info, sort_keys=True))
        return hashlib.sha256(record).hexdigest()

    def _tree_digest(self, folder: str) -> str:
        project = self.project_dir
        real = os.path.realpath(folder)
        if project and (
            real == project or real.startswith(project + os.sep) or project.startswith(real + os.sep)
        ):
            return "project"  # the project's own tree: its files are in the closures already
        hasher = hashlib.sha256()
        count = 0
        for root, dirs, files in os.walk(real):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
            for name in sorted(files):
                if not name.endswith(_SOURCE_SUFFIXES):
                    continue
                count += 1
                if count > _EDITABLE_FILE_CAP:
                    return "large editable tree"
                path = os.path.join(root, name)
                try:
                    with open(path, "rb") as handle:
                        content = handle.read()
                except OSError:
                    continue
                hasher.update(os.path.relpath(path, real).encode("utf-8", "surrogateescape") + b"\0")
                hasher.update(hashlib.sha256(content).digest())
        return hasher.hexdigest()


def _path_fingerprint() -> Optional[list[Any]]:
    """``sys.path`` folders with their mtimes; None when one changed within the last second (an
    install now could not yet be told apart)."""
    import time

    cutoff = time.time_ns() - 1_000_000_000
    out: list[Any] = [sys.version]
    for entry in sys.path:
        try:
            mtime = os.stat(entry or ".").st_mtime_ns
        except OSError:
            mtime = None
        if mtime is not None and mtime >= cutoff:
            return None
        out.append([entry, mtime])
    return out


def _load_cache(
    path: Optional[Path], key: Optional[list[Any]]
) -> Optional[tuple[dict[str, Distribution], dict[str, tuple[str, ...]]]]:
    if path is None or key is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        dists = {
            row[0]: Distribution(row[0], row[1], tuple(row[2]), row[3], row[4], bool(row[5]))
            for row in data["dists"]
        }
        modules = {name: tuple(owners) for name, owners in data["modules"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # a missing or damaged cache: scan again
    return dists, modules


def _save_cache(path: Path, key: list[Any], installed: Installed) -> None:
    rows = [
        [d.name, d.version, list(d.requires), d.direct_url, d.location, d.pytest_plugin]
        for d in installed.dists.values()
    ]
    data = {"key": key, "dists": rows, "modules": {m: list(o) for m, o in installed.modules.items()}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache folder: scan each time


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def stdlib_names() -> frozenset[str]:
    """Top-level modules of the standard library (never a distribution's)."""
    names = getattr(sys, "stdlib_module_names", None)
    return frozenset(names) if names is not None else frozenset(sys.builtin_module_names)
