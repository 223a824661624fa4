"""Dependency hashes, computed bottom-up over the graph, and the salts.

Each strongly connected component gets a Merkle hash of its members (path and content digest) and of
the hashes of the components it depends on, so every file and every edge is processed once, whatever
the number of tests. A test file's hash covers the algorithm version, the config file's content, the
salt, its own path and its component's hash, and so every file of its transitive closure, by path and
content. Only sorted, process-independent data goes in: the same tree hashes the same everywhere.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence

from dryci.dagger.config import Config
from dryci.dagger.graph import strongly_connected_components

__all__ = [
    "ALGORITHM_VERSION",
    "closure_marks",
    "command_salt",
    "component_hashes",
    "dependency_hashes",
    "environment_salt",
    "hash_env_salt",
    "with_distributions",
]

# Bump whenever the same tree could hash differently.
ALGORITHM_VERSION = "dryci-dagger-1"


def component_hashes(
    edges: Mapping[str, Sequence[str]], digests: Mapping[str, str]
) -> tuple[list[str], dict[str, int]]:
    """Merkle hash of every strongly connected component, and each node's component index."""
    components, component_of = strongly_connected_components(edges)
    hashes: list[str] = []
    empty: Sequence[str] = ()
    sha256 = hashlib.sha256
    for number, members in enumerate(components):
        parts: list[bytes] = [b"component"]
        children: set[str] = set()
        for member in members:
            parts.append(member.encode("utf-8", "surrogateescape"))
            parts.append(digests[member].encode("ascii"))
            for child in edges.get(member, empty):
                child_component = component_of[child]
                if child_component != number:
                    # Components come in reverse topological order: every child is hashed already.
                    children.add(hashes[child_component])
        parts.append(b"depends-on")
        parts.extend(child_hash.encode("ascii") for child_hash in sorted(children))
        # Paths never contain NUL, digests are hex: joining with NUL is unambiguous.
        hashes.append(sha256(b"\0".join(parts)).hexdigest())
    return hashes, component_of


def dependency_hashes(
    inputs: Sequence[str],
    edges: Mapping[str, Sequence[str]],
    digests: Mapping[str, str],
    config_hash: str,
    salt: str,
) -> dict[str, str]:
    """The 64-hex dependency hash of every input file."""
    hashes, component_of = component_hashes(edges, digests)
    prefix = hashlib.sha256()
    for part in (ALGORITHM_VERSION, config_hash, salt):
        prefix.update(part.encode("utf-8", "surrogateescape"))
        prefix.update(b"\0")
    out: dict[str, str] = {}
    for test in inputs:
        hasher = prefix.copy()
        hasher.update(test.encode("utf-8", "surrogateescape"))
        hasher.update(b"\0")
        hasher.update(hashes[component_of[test]].encode("ascii"))
        out[test] = hasher.hexdigest()
    return out


def hash_env_salt(config: Config) -> str:
    """The values of the config's ``hash_env`` variables, as one string ('' when there are none)."""
    parts = []
    for name in sorted(set(config.hash_env)):
        value = os.environ.get(name)
        # An unset variable and an empty one are different environments.
        parts.append(f"{name}={'<unset>' if value is None else 'set:' + value}")
    return "\n".join(parts)


def command_salt(config: Config, salt: str) -> str:
    """The salt of the ``repo_dagger`` and ``dryci deps`` commands: ``salt`` plus the ``hash_env`` values."""
    env = hash_env_salt(config)
    return salt if not env else f"{salt}\0{env}"


def environment_salt(config: Config, extra: str = "") -> str:
    """A hex digest of everything outside the tree that goes into every key (see
    ``dryci.dagger.environment``); ``extra``: ``DRYCI_SALT`` / ``-hash-salt``."""
    from dryci.dagger.environment import environment

    return environment(config, extra).salt


def closure_marks(
    inputs: Sequence[str], edges: Mapping[str, Sequence[str]], marks: Mapping[str, int]
) -> dict[str, int]:
    """The union (bitwise or) of the marks of every file in each input's closure, computed once per
    strongly connected component, bottom-up, like the hashes."""
    if not any(marks.values()):
        return {test: 0 for test in inputs}
    components, component_of = strongly_connected_components(edges)
    unions: list[int] = []
    empty: Sequence[str] = ()
    for number, members in enumerate(components):
        union = 0
        for member in members:
            union |= marks.get(member, 0)
            for child in edges.get(member, empty):
                child_component = component_of[child]
                if child_component != number:
                    union |= unions[child_component]
        unions.append(union)
    return {test: unions[component_of[test]] for test in inputs}


def with_distributions(dependency_hash: str, fingerprint: str) -> str:
    """A test file's hash with the fingerprint of its own distributions folded in."""
    return hashlib.sha256(f"{dependency_hash}\0distributions\0{fingerprint}".encode("ascii")).hexdigest()
