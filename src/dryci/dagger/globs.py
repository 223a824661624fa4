"""Doublestar globbing (``**`` spans folders, ``{a,b}`` alternatives), compiled once, over a cached tree.

Matching uses wcmatch's translation to regular expressions, compiled once per pattern set. Globbing on the
disk walks only the part of the tree below a pattern's literal prefix, and each folder is listed once per
analysis, so thousands of ``visit_siblings`` rules cost one ``scandir`` per folder.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Optional

from wcmatch import glob as wcglob

__all__ = ["FileTree", "Matcher", "compile_globs", "has_magic"]

# Doublestar semantics of repo_dagger: `**` crosses folders, `*` matches dotfiles, `{a,b}` alternatives.
_FLAGS = wcglob.GLOBSTAR | wcglob.DOTGLOB | wcglob.BRACE
_MAGIC = re.compile(r"[*?\[{]")


class Matcher:
    """Matches posix relative paths against a set of globs (any of them)."""

    __slots__ = ("_regex", "patterns")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        regex: Optional[re.Pattern[str]] = None
        if patterns:
            include, _ = wcglob.translate(list(patterns), flags=_FLAGS)
            regex = re.compile("|".join(f"(?:{part})" for part in include))
        self._regex = regex

    def __call__(self, path: str) -> bool:
        return self._regex is not None and self._regex.match(path) is not None

    def __bool__(self) -> bool:
        return self._regex is not None


@lru_cache(maxsize=4096)
def compile_globs(patterns: tuple[str, ...]) -> Matcher:
    """A matcher for ``patterns``; the same tuple always returns the same compiled object."""
    return Matcher(patterns)


def has_magic(pattern: str) -> bool:
    return _MAGIC.search(pattern) is not None


def _join(folder: str, name: str) -> str:
    return name if folder in ("", ".") else f"{folder}/{name}"


class FileTree:
    """Read-only view of the files below ``base_dir``; folder listings and glob results are cached."""

    def __init__(self, base_dir: str) -> None:
        self.base_dir = base_dir
        self._listings: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._globs: dict[tuple[str, str], tuple[str, ...]] = {}
        self._name_sets: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        # Every folder listed -> its mtime_ns before listing (None: missing); the file cache keeps it.
        self.listed: dict[str, Optional[int]] = {}
        self._isdir: dict[str, bool] = {}

    def _abs(self, rel: str) -> str:
        return self.base_dir if rel in ("", ".") else os.path.join(self.base_dir, rel)

    def listing(self, folder: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(files, subfolders) of ``folder`` (relative posix path); empty when it is not a folder."""
        cached = self._listings.get(folder)
        if cached is not None:
            return cached
        files: list[str] = []
        dirs: list[str] = []
        path = self._abs(folder)
        # The mtime is taken before listing: a change during the listing then shows up next run.
        try:
            self.listed[folder] = os.stat(path).st_mtime_ns
        except OSError:
            self.listed[folder] = None
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir():
                            dirs.append(entry.name)
                        elif entry.is_file():
                            files.append(entry.name)
                    except OSError:
                        continue
        except OSError:
            pass
        result = (tuple(sorted(files)), tuple(sorted(dirs)))
        self._listings[folder] = result
        return result

    def _names(self, folder: str) -> tuple[frozenset[str], frozenset[str]]:
        names = self._name_sets.get(folder)
        if names is None:
            files, dirs = self.listing(folder)
            names = (frozenset(files), frozenset(dirs))
            self._name_sets[folder] = names
        return names

    def is_file(self, rel: str) -> bool:
        """Whether ``rel`` is a file; answered from the cached listing of its folder (one scandir each)."""
        folder, _, name = rel.rpartition("/")
        if name in ("", ".", ".."):
            return False
        if folder and not self.is_dir(folder):
            return False
        return name in self._names(folder or ".")[0]

    def is_dir(self, rel: str) -> bool:
        if rel in ("", "."):
            return True
        cached = self._isdir.get(rel)
        if cached is None:
            folder, _, name = rel.rpartition("/")
            if name in ("", ".", ".."):
                cached = os.path.isdir(self._abs(rel))
            else:
                cached = (not folder or self.is_dir(folder)) and name in self._names(folder or ".")[1]
            self._isdir[rel] = cached
        return cached

    def walk_files(self, folder: str) -> list[str]:
        """Every file below ``folder``, as paths relative to the base.

        Symlinked folders are followed (as Go's os.DirFS does), except into a folder already walked
        or into one of the folders above: a link to ``..`` must not loop forever.
        """
        out: list[str] = []
        stack = [folder]
        seen_real: set[str] = set()
        while stack:
            current = stack.pop()
            files, dirs = self.listing(current)
            out.extend(_join(current, name) for name in files)
            for name in reversed(dirs):
                child = _join(current, name)
                if os.path.islink(self._abs(child)):
                    real = os.path.realpath(self._abs(child))
                    here = os.path.realpath(self._abs(current))
                    if real in seen_real or here == real or here.startswith(real + os.sep):
                        continue
                    seen_real.add(real)
                stack.append(child)
        return out

    def glob(self, pattern: str, folder: str = ".") -> tuple[str, ...]:
        """Files matching ``pattern`` relative to ``folder``; returned relative to the base, sorted."""
        key = (folder, pattern)
        cached = self._globs.get(key)
        if cached is not None:
            return cached
        result = tuple(sorted(self._glob(pattern, folder)))
        self._globs[key] = result
        return result

    def _glob(self, pattern: str, folder: str) -> list[str]:
        pattern = pattern.strip()
        while pattern.startswith("./"):
            pattern = pattern[2:]
        if not pattern or pattern.startswith("/"):
            return []
        if not has_magic(pattern):
            rel = os.path.normpath(_join(folder, pattern)).replace(os.sep, "/")
            if rel.startswith("../") or rel == "..":
                return []
            return [rel] if self.is_file(rel) else []
        # Walk only below the literal folders in front of the first wildcard.
        parts = pattern.split("/")
        prefix: list[str] = []
        while parts and not has_magic(parts[0]):
            prefix.append(parts.pop(0))
        start = folder
        for part in prefix:
            start = _join(start, part)
        start = os.path.normpath(start).replace(os.sep, "/")
        if start.startswith(".."):
            return []
        if not self.is_dir(start):
            return []
        matcher = compile_globs(("/".join(parts),))
        cut = 0 if start == "." else len(start) + 1
        if "**" not in parts and "{" not in pattern:
            return self._glob_fixed_depth(start, parts, matcher, cut)
        return [path for path in self.walk_files(start) if matcher(path[cut:])]

    def _glob_fixed_depth(self, start: str, parts: list[str], matcher: Matcher, cut: int) -> list[str]:
        # Without `**` a pattern has a fixed depth: descend exactly that many folders.
        folders = [start]
        for _ in parts[:-1]:
            folders = [_join(f, d) for f in folders for d in self.listing(f)[1]]
        out = []
        for current in folders:
            for name in self.listing(current)[0]:
                path = _join(current, name)
                if matcher(path[cut:]):
                    out.append(path)
        return out
