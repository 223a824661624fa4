"""``analyze``: config + tree -> relations, file digests and one dependency hash per input file."""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from dryci.dagger.config import Config
from dryci.dagger.environment import Environment
from dryci.dagger.filecache import FileFacts
from dryci.dagger.globs import FileTree
from dryci.dagger.graph import closure, shortest_chain
from dryci.dagger.hashing import ALGORITHM_VERSION, closure_marks, dependency_hashes, with_distributions
from dryci.dagger.resolve import ModuleResolver
from dryci.dagger.rules import RuleEngine
from dryci.exceptions import AnalysisError

__all__ = ["Analysis", "analyze"]


@dataclass(frozen=True)
class Analysis:
    """The result of one analysis. Paths are posix and relative to the config's base dir."""

    inputs: tuple[str, ...]
    hashes: Mapping[str, str]
    relations: Mapping[str, tuple[str, ...]]
    digests: Mapping[str, str]
    warnings: Sequence[str] = ()
    files_read: int = 0
    relations_computed: int = 0
    # Top-level names each file imports from outside the project (files importing none are left out).
    externals: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Each input's own distributions (beyond those in every key), when an environment was given.
    distributions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    environment: Optional[Environment] = None
    _closures: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

    def closure(self, path: str) -> frozenset[str]:
        """Transitive dependencies of ``path``, including itself. Raises KeyError for an unknown file."""
        if path not in self.relations:
            raise KeyError(path)
        cached = self._closures.get(path)
        if cached is None:
            cached = closure(self.relations, path)
            self._closures[path] = cached
        return cached

    def file_digest(self, path: str) -> str:
        """sha256 of one analyzed file's content. Raises KeyError for an unknown file."""
        return self.digests[path]

    def distribution_labels(self, test: str) -> dict[str, str]:
        """``name -> version`` of the distributions in the test file's own key (not every key's)."""
        installed = self.environment.installed if self.environment is not None else None
        if installed is None:
            return {}
        return installed.labels(self.distributions.get(test, ()))

    def distribution_digest(self, test: str) -> str:
        """A digest of the test file's own distributions ('' when it has none)."""
        installed = self.environment.installed if self.environment is not None else None
        names = self.distributions.get(test)
        return installed.fingerprint(names) if installed is not None and names else ""

    def key_parts(self, test: str) -> dict[str, str]:
        """Everything outside the tree in the test file's key, by name (``dist:numpy`` -> ``2.0.0``)."""
        parts = dict(self.environment.parts) if self.environment is not None else {}
        parts.update({f"dist:{name}": label for name, label in self.distribution_labels(test).items()})
        return parts

    def why(self, test: str, dep: str) -> Optional[list[str]]:
        """The shortest chain ``test -> ... -> dep``, or None when ``test`` does not depend on ``dep``."""
        if test not in self.relations:
            return None
        return shortest_chain(self.relations, test, dep)


def _input_list(
    config: Config, tree: FileTree, input_files: Optional[Sequence[str]], warnings: list[str]
) -> list[str]:
    if input_files is None:
        found: set[str] = set()
        for pattern in config.inputs:
            matched = tree.glob(pattern, ".")
            if not matched:
                # Otherwise silent: the tests it meant get no hash, so they always run and the cache
                # looks broken.
                warnings.append(f"inputs: {pattern!r} matches no file under {config.base_dir}")
            found.update(matched)
        return sorted(found)
    base = str(config.base_dir)
    chosen: set[str] = set()
    for raw in input_files:
        if not raw:
            continue
        path = raw
        if os.path.isabs(path):
            path = os.path.relpath(path, base)
        rel = os.path.normpath(path).replace(os.sep, "/")
        if rel.startswith("../") or rel == ".." or not tree.is_file(rel):
            # The original drops such inputs silently; we say so.
            warnings.append(f"{raw}: not a file under {base}; skipped")
            continue
        chosen.add(rel)
    return sorted(chosen)


def analyze(
    config: Config,
    *,
    input_files: Optional[Sequence[str]] = None,
    salt: str = "",
    cache_dir: Optional[Path] = None,
    environment: Optional[Environment] = None,
) -> Analysis:
    """Build the dependency graph from the inputs and hash every input's closure.

    ``input_files`` are paths relative to the base dir (default: the config's ``inputs`` globs);
    ``salt`` goes into every hash: pass ``environment_salt(config, extra)`` to cover the platform, the
    installed distributions and the ``hash_env`` variables; ``cache_dir`` holds the persistent per-file
    cache (None: no persistent cache); ``environment`` (with installed distributions): each input's
    hash also covers the distributions its closure imports, with their requirements.
    Raises ``AnalysisError`` naming a file that cannot be read.
    """
    # The analysis allocates millions of small tuples and strings and frees nothing cyclic: the cyclic
    # garbage collector would rescan the growing graph again and again (a third of the cold time at 50k).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyze(config, input_files, salt, cache_dir, environment)
    finally:
        if gc_was_enabled:
            gc.enable()


def _analyze(
    config: Config,
    input_files: Optional[Sequence[str]],
    salt: str,
    cache_dir: Optional[Path],
    environment: Optional[Environment],
) -> Analysis:
    base = str(config.base_dir)
    if not os.path.isdir(base):
        raise AnalysisError("base_dir is not a folder", file=base)
    warnings: list[str] = []
    tree = FileTree(base)
    facts = FileFacts(config.base_dir, cache_dir, context=f"{config.content_hash} {config.source}")
    resolver = ModuleResolver(tree, config.python_roots, config.root_python_packages)
    engine = RuleEngine(config, tree, facts, resolver)
    inputs = _input_list(config, tree, input_files, warnings)
    input_set = set(inputs)

    relations: dict[str, tuple[str, ...]] = {}
    digests: dict[str, str] = {}
    externals: dict[str, tuple[str, ...]] = {}
    computed = 0
    canonical: dict[str, str] = {}
    file_warnings_seen: set[str] = set()
    queue = [*inputs, *config.global_deps]
    seen = set(queue)
    while queue:
        rel = queue.pop()
        is_input = rel in input_set
        try:
            digests[rel] = facts.digest(rel)
            cached = facts.cached_relations(rel, is_input)
            if cached is None:
                computed += 1
                found, file_warnings, imported = engine.relations(rel, is_input)
                # One string object per path: 50k files' relations repeat the same paths many times.
                deps = tuple([canonical.setdefault(dep, dep) for dep in found])
                facts.store_relations(rel, is_input, deps, file_warnings, imported)
            else:
                deps = tuple([canonical.setdefault(dep, dep) for dep in cached[0]])
                file_warnings, imported = cached[1], cached[2]
            if imported:
                externals[rel] = imported
            file_warnings_seen.update(file_warnings)
        except OSError as exc:
            raise AnalysisError(f"cannot read: {exc.strerror or exc}", file=rel) from None
        relations[rel] = deps
        for dep in deps:
            if dep not in seen:
                seen.add(dep)
                queue.append(dep)

    # The hashes are a pure function of what was just checked: when nothing changed, reuse them.
    key = hashlib.sha256(
        "\0".join([ALGORITHM_VERSION, salt, *inputs]).encode("utf-8", "surrogateescape")
    ).hexdigest()
    reused = facts.reusable_hashes(key)
    hashes = (
        reused
        if reused is not None
        else dependency_hashes(inputs, relations, digests, config.content_hash, salt)
    )
    facts.save(tree.listed, (key, hashes))
    distributions: dict[str, frozenset[str]] = {}
    if environment is not None and environment.installed is not None:
        hashes, distributions = _with_distributions(hashes, relations, externals, environment)
    return Analysis(
        inputs=tuple(inputs),
        hashes=hashes,
        relations=relations,
        digests=digests,
        warnings=tuple(warnings + sorted(file_warnings_seen)),
        files_read=facts.files_read,
        relations_computed=computed,
        externals=externals,
        distributions=distributions,
        environment=environment,
    )


def _with_distributions(
    hashes: Mapping[str, str],
    relations: Mapping[str, Sequence[str]],
    externals: Mapping[str, tuple[str, ...]],
    environment: Environment,
) -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """Each input's distributions (those of every key left out) and its hash with them folded in."""
    installed = environment.installed
    assert installed is not None
    # One bit per distinct imported name: the union over a closure is then one `or` per edge.
    bits: dict[str, int] = {}
    marks: dict[str, int] = {}
    for path, names in externals.items():
        mark = 0
        for name in names:
            mark |= 1 << bits.setdefault(name, len(bits))
        marks[path] = mark
    names_of = sorted(bits, key=bits.__getitem__)
    unions = closure_marks(list(hashes), relations, marks)
    by_mark: dict[int, tuple[frozenset[str], str]] = {}
    out_hashes: dict[str, str] = {}
    out_dists: dict[str, frozenset[str]] = {}
    for test, dependency_hash in hashes.items():
        union = unions[test]
        known = by_mark.get(union)
        if known is None:
            imported = [names_of[bit] for bit in range(union.bit_length()) if union >> bit & 1]
            dists = installed.closure(installed.of_modules(imported)) - environment.global_distributions
            known = by_mark[union] = (dists, installed.fingerprint(dists) if dists else "")
        dists, fingerprint = known
        out_dists[test] = dists
        out_hashes[test] = (
            with_distributions(dependency_hash, fingerprint) if fingerprint else dependency_hash
        )
    return out_hashes, out_dists
