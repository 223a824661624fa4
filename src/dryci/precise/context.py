"""What precise mode needs from the analysis: identities, the salt, and closure contents.

A test file's *identity* is its path plus the config identity (analyzer version, environment salt,
config file), never its dependency hash: the manifest must be found again after the closure changed.
The *salt* adds the global dependencies, so changing one of them re-runs every test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dryci.precise.manifest import FileFact, file_fact, identity_key, identity_secret

__all__ = ["PreciseContext", "make_context", "read_closure"]


@dataclass(frozen=True)
class PreciseContext:
    config_identity: str
    salt: str

    def identity(self, test_path: str) -> str:
        return f"{test_path}\0{self.config_identity}"

    def key(self, test_path: str) -> str:
        return identity_key(self.identity(test_path))

    def secret(self, test_path: str) -> str:
        return identity_secret(self.identity(test_path))


def make_context(
    config_file: Path | None, config_text: str, environment_salt: str, global_digests: Mapping[str, str]
) -> PreciseContext:
    """``config_text`` stands for an inferred config (no file); a config file counts by its content."""
    from dryci.dagger import ALGORITHM_VERSION

    if config_file is not None and config_file.is_file():
        config_digest = hashlib.sha256(config_file.read_bytes()).hexdigest()
    else:
        config_digest = hashlib.sha256(config_text.encode()).hexdigest()
    identity = hashlib.sha256(
        f"{ALGORITHM_VERSION}\0{environment_salt}\0{config_digest}".encode()
    ).hexdigest()
    globals_part = "\n".join(f"{path}\0{digest}" for path, digest in sorted(global_digests.items()))
    salt = hashlib.sha256(f"{identity}\0{globals_part}".encode()).hexdigest()
    return PreciseContext(identity, salt)


def read_closure(
    base_dir: Path, analysis: Any, test_path: str, cache: dict[str, FileFact | None]
) -> dict[str, FileFact] | None:
    """Path -> fact of the test file's closure as analyzed; None if a file changed since or is unreadable.

    Reading happens after the analysis hashed the files: a file edited in between would make the
    recorded fingerprints disagree with the dependency hash, so such a file gets no decision.
    ``cache`` keeps each file read (and parsed) once per run, whichever test files share it.
    """
    facts = {}
    for path in sorted(analysis.closure(test_path)):
        if path not in cache:
            cache[path] = _read(base_dir, analysis, path)
        fact = cache[path]
        if fact is None:
            return None
        facts[path] = fact
    return facts


def _read(base_dir: Path, analysis: Any, path: str) -> FileFact | None:
    try:
        fact = file_fact(path, (base_dir / path).read_bytes())
        analyzed = analysis.file_digest(path)
    except (OSError, KeyError):
        return None
    return fact if fact.digest == analyzed else None
