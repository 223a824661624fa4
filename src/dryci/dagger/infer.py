"""Infer a repo_dagger config from a repository tree: what ``dryci init`` writes and zero-config uses.

``scan_repository`` is the only I/O: it lists the tree and reads pytest's settings files and the Python
files that mention ``__file__``. ``infer`` is a pure function of that snapshot; ``as_config`` turns its
result into the same ``Config`` that ``load_config`` returns for the written file. Every guess errs on
the side of more dependencies: a missing edge would skip a test that should run.
"""

from __future__ import annotations

import configparser
import fnmatch
import hashlib
import os
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from dryci.dagger.config import Config, PathRule, RuleActions, pyproject_tool
from dryci.dagger.datapaths import data_accesses

__all__ = [
    "GLOBAL_EXCLUDE",
    "InferredConfig",
    "PytestSettings",
    "RepoSnapshot",
    "as_config",
    "infer",
    "inferred_config",
    "pytest_settings",
    "scan_repository",
]

# Folders that are never part of the project's own code.
_SKIPPED_DIRS = frozenset(
    {"node_modules", "__pycache__", "build", "dist", "site-packages", "venv", "env", "htmlcov"}
)
# Files whose change can change any test's result, in the order they are listed in the config.
# Lock files and requirements*.txt are not among them: the installed distributions are in the keys,
# each test file's own ones only, and a lock file in global_deps would re-run every test on any bump.
_GLOBAL_FILES = ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", "conftest.py")
# Variables read with a literal name: `os.environ["X"]`, `os.environ.get("X")`, `os.getenv("X")`.
_ENV_READ = re.compile(
    r"""(?:environ\s*\[\s*|environ\.get\(\s*|getenv\(\s*)[rbuRBU]?['"]([A-Za-z_][A-Za-z0-9_]*)['"]"""
)
# Read by code, but naming the machine or the CI job rather than changing a result: written commented.
_MACHINE_VARIABLES = frozenset(
    {"HOME", "USER", "USERNAME", "LOGNAME", "PATH", "PWD", "TMPDIR", "TEMP", "TMP", "SHELL", "HOSTNAME", "CI"}
)
_MACHINE_PREFIXES = ("GITHUB_", "GITLAB_", "CI_", "RUNNER_", "DRYCI_", "PYTEST_", "XDG_")
_SETTINGS_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
_NOT_IMPORTED = frozenset({"conftest", "setup", "noxfile"})
GLOBAL_EXCLUDE = ("**/*.pyc", "**/__pycache__/**", ".repo_dagger_cache/**", ".pytest_cache/**")
_DEFAULT_PYTHON_FILES = ("test_*.py", "*_test.py")


@dataclass(frozen=True)
class RepoSnapshot:
    """What inference looks at: every file (posix, relative) and the texts of the files it reads."""

    files: tuple[str, ...]
    texts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PytestSettings:
    """The pytest ini options that decide which files are tests and what is on ``sys.path``."""

    source: Optional[str] = None
    testpaths: tuple[str, ...] = ()
    python_files: tuple[str, ...] = _DEFAULT_PYTHON_FILES
    pythonpath: tuple[str, ...] = ()


@dataclass(frozen=True)
class InferredConfig:
    """An inferred config: the repo_dagger keys, plus what was found, to explain them."""

    inputs: tuple[str, ...]
    global_deps: tuple[str, ...]
    global_exclude: tuple[str, ...]
    python_roots: tuple[str, ...]
    root_python_packages: tuple[str, ...]
    data_rules: Mapping[str, tuple[str, ...]]
    settings: PytestSettings
    test_files: tuple[str, ...]
    notes: tuple[str, ...] = ()
    # Variable -> the files reading it with a literal name (every key holds DEFAULT_ENV already).
    env_reads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def hash_env(self) -> tuple[str, ...]:
        """The variables read that can change a result (machine and CI identity left out)."""
        return tuple(name for name in sorted(self.env_reads) if not machine_variable(name))

    def fingerprint(self) -> str:
        """sha256 of every key: stands in for a config file's content hash."""
        rules = sorted((k, list(v)) for k, v in self.data_rules.items())
        keys = [self.inputs, self.global_deps, self.global_exclude, self.python_roots,
                self.root_python_packages, rules, self.hash_env]  # fmt: skip
        return hashlib.sha256(repr(keys).encode("utf-8", "surrogateescape")).hexdigest()


def scan_repository(root: Path) -> RepoSnapshot:
    """List the files under ``root`` (skipping hidden, virtualenv and build folders) and read the texts
    ``infer`` needs: pytest's settings files and the Python files that mention ``__file__``."""
    root = Path(root)
    files: list[str] = []
    texts: dict[str, str] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _skipped_dir(d, Path(folder) / d))
        rel_folder = Path(os.path.relpath(folder, root)).as_posix()
        for name in names:
            rel = name if rel_folder == "." else f"{rel_folder}/{name}"
            files.append(rel)
            if not (name.endswith(".py") or (rel_folder == "." and name in _SETTINGS_FILES)):
                continue
            try:
                text = (Path(folder) / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if not name.endswith(".py") or "__file__" in text or "environ" in text or "getenv" in text:
                texts[rel] = text
    return RepoSnapshot(files=tuple(sorted(files)), texts=texts)


def _skipped_dir(name: str, path: Path) -> bool:
    if name.startswith(".") or name in _SKIPPED_DIRS or name.endswith(".egg-info"):
        return True
    return (path / "pyvenv.cfg").is_file()  # a virtualenv under any name


def inferred_config(root: Path) -> Config:
    """The config ``dryci init`` would write for ``root``, in memory."""
    return as_config(infer(scan_repository(root)), root)


def as_config(inferred: InferredConfig, root: Path) -> Config:
    """The ``Config`` that loading the written config would give (its ``source`` does not exist)."""
    base = Path(root).resolve()
    rules = [PathRule(pattern="**/*.py", actions=RuleActions(visit_imported_python_modules=True))]
    for path, targets in sorted(inferred.data_rules.items()):
        rules.append(PathRule(pattern=path, actions=RuleActions(visit=targets)))
    return Config(
        source=base / "repo_dagger.yaml",
        base_dir=base,
        content_hash=inferred.fingerprint(),
        inputs=inferred.inputs,
        global_deps=inferred.global_deps,
        global_exclude=inferred.global_exclude,
        root_python_packages=inferred.root_python_packages,
        python_roots=inferred.python_roots,
        hash_env=inferred.hash_env,
        path_rules=tuple(rules),
    )


def infer(snapshot: RepoSnapshot) -> InferredConfig:
    """Infer every key of a config from a snapshot of the tree."""
    files = snapshot.files
    file_set = set(files)
    dirs = _folders(files)
    settings = pytest_settings(snapshot.texts)
    notes: list[str] = []
    tests = _test_files(files, dirs, settings)
    if not tests:
        notes.append("no test files found: inputs fall back to pytest's default patterns")
    roots = _python_roots(files, file_set, dirs, settings, tests)
    data_rules: dict[str, tuple[str, ...]] = {}
    for rel in sorted(snapshot.texts):
        if not rel.endswith(".py"):
            continue
        targets = []
        for ref, open_tail in data_accesses(rel, snapshot.texts[rel]):
            target = _visit_target(ref, open_tail, file_set, dirs)
            if target is None:
                notes.append(f"{rel}: data path {ref!r} is not in the tree; no rule written")
            elif target not in targets:
                targets.append(target)
        if targets:
            data_rules[rel] = tuple(targets)
    return InferredConfig(
        env_reads=_env_reads(snapshot.texts),
        inputs=_input_globs(tests, settings),
        global_deps=tuple(_global_deps(file_set)),
        global_exclude=GLOBAL_EXCLUDE,
        python_roots=roots,
        root_python_packages=_root_packages(files, roots, settings),
        data_rules=data_rules,
        settings=settings,
        test_files=tests,
        notes=tuple(notes),
    )


def _folders(files: Iterable[str]) -> frozenset[str]:
    found = {"."}
    for rel in files:
        parent = posixpath.dirname(rel)
        while parent and parent not in found:
            found.add(parent)
            parent = posixpath.dirname(parent)
    return frozenset(found)


# --- pytest settings -------------------------------------------------------------------------------


def pytest_settings(texts: Mapping[str, str]) -> PytestSettings:
    """pytest's ini options from the first settings file that pytest would use (same order)."""
    for name in _SETTINGS_FILES:
        text = texts.get(name)
        if text is None:
            continue
        values = _ini_values(name, text)
        if values is None:
            continue
        return PytestSettings(
            source=name,
            testpaths=tuple(p.strip("/") or "." for p in _words(values.get("testpaths"))),
            python_files=_words(values.get("python_files")) or _DEFAULT_PYTHON_FILES,
            pythonpath=tuple(p.strip("/") or "." for p in _words(values.get("pythonpath"))),
        )
    return PytestSettings()


def _ini_values(name: str, text: str) -> Optional[Mapping[str, Any]]:
    """The options of ``name`` when it configures pytest; None when it does not (or cannot be read:
    pytest itself reports a broken settings file)."""
    if name == "pyproject.toml":
        table = pyproject_tool(text).get("pytest", {}).get("ini_options")
        return table if isinstance(table, dict) else None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=name)
    except configparser.Error:
        return None
    section = "tool:pytest" if name == "setup.cfg" else "pytest"
    if parser.has_section(section):
        return dict(parser.items(section))
    return {} if name in ("pytest.ini", ".pytest.ini") else None  # pytest.ini counts even when empty


def _words(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return ()


# --- tests, inputs, roots, packages, global deps --------------------------------------------------


def _test_files(files: Sequence[str], dirs: frozenset[str], settings: PytestSettings) -> tuple[str, ...]:
    prefixes = [p for p in settings.testpaths if p in dirs and p != "."]
    found = []
    for rel in files:
        if not rel.endswith(".py") or posixpath.basename(rel) == "conftest.py":
            continue
        if prefixes and not any(rel.startswith(p + "/") for p in prefixes):
            continue
        if _matching_pattern(rel, settings.python_files) is not None:
            found.append(rel)
    return tuple(found)


def _matching_pattern(rel: str, patterns: Sequence[str]) -> Optional[str]:
    name = posixpath.basename(rel)
    for pattern in patterns:
        if fnmatch.fnmatchcase(rel if "/" in pattern else name, pattern):
            return pattern
    return None


def _input_globs(tests: Sequence[str], settings: PytestSettings) -> tuple[str, ...]:
    """One glob per (top folder or testpath, python_files pattern) that holds test files."""
    if not tests:
        return tuple(f"**/{p}" for p in settings.python_files)
    prefixes = sorted((p for p in settings.testpaths if p != "."), key=len, reverse=True)
    globs: list[str] = []
    for rel in tests:
        pattern = _matching_pattern(rel, settings.python_files) or "test_*.py"
        prefix = next((p for p in prefixes if rel.startswith(p + "/")), rel.partition("/")[0])
        glob = pattern if "/" in pattern or "/" not in rel else f"{prefix}/**/{pattern}"
        if glob not in globs:
            globs.append(glob)
    return tuple(sorted(globs))


def _python_roots(
    files: Sequence[str],
    file_set: set[str],
    dirs: frozenset[str],
    settings: PytestSettings,
    tests: Sequence[str],
) -> tuple[str, ...]:
    roots = [p for p in settings.pythonpath if p in dirs]
    if any(rel.startswith("src/") and rel.endswith(".py") for rel in files):
        roots.append("src")
    for rel in tests:
        # pytest's default import mode puts the first folder above the test's packages on sys.path.
        folder = posixpath.dirname(rel)
        while folder and f"{folder}/__init__.py" in file_set:
            folder = posixpath.dirname(folder)
        roots.append(folder or ".")
    top_level_code = any(
        rel.endswith(".py") and posixpath.splitext(rel.partition("/")[0])[0] not in _NOT_IMPORTED
        and not rel.startswith(("src/", "tests/", "test/"))
        for rel in files
    )  # fmt: skip
    if top_level_code or not roots:
        roots.append(".")
    return tuple(dict.fromkeys(roots))


def _root_packages(files: Sequence[str], roots: Sequence[str], settings: PytestSettings) -> tuple[str, ...]:
    """Top-level packages (regular or namespace) and modules below every python root."""
    names: set[str] = set()
    root_set = set(roots)
    for root in roots:
        prefix = "" if root == "." else root + "/"
        for rel in files:
            if not rel.endswith(".py") or not rel.startswith(prefix):
                continue
            inner = rel[len(prefix) :]
            head, sep, _ = inner.partition("/")
            if sep:
                if (prefix + head) not in root_set and head.isidentifier():
                    names.add(head)
                continue
            module = head[:-3]
            importable = module.isidentifier() and module not in _NOT_IMPORTED
            if importable and _matching_pattern(rel, settings.python_files) is None:
                names.add(module)
    return tuple(sorted(names))


def _global_deps(file_set: set[str]) -> list[str]:
    return [name for name in _GLOBAL_FILES if name in file_set]


def machine_variable(name: str) -> bool:
    return name in _MACHINE_VARIABLES or name.startswith(_MACHINE_PREFIXES)


def _env_reads(texts: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    from dryci.dagger.environment import DEFAULT_ENV, ENV_PREFIXES

    found: dict[str, set[str]] = {}
    for rel, text in texts.items():
        if not rel.endswith(".py") or ("environ" not in text and "getenv" not in text):
            continue
        for name in _ENV_READ.findall(text):
            if name not in DEFAULT_ENV and not name.startswith(ENV_PREFIXES):
                found.setdefault(name, set()).add(rel)
    return {name: tuple(sorted(files)) for name, files in sorted(found.items())}


def _visit_target(ref: str, open_tail: bool, file_set: set[str], dirs: frozenset[str]) -> Optional[str]:
    if ref in file_set and not open_tail:
        return ref
    if ref in dirs and ref != ".":
        return f"{ref}/**"
    return None
