"""What the command-line tools print and write: repo_dagger-compatible JSON, statistics, log lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any, Optional

from dryci.dagger.analysis import Analysis
from dryci.dagger.graph import strongly_connected_components
from dryci.exceptions import AnalysisError

__all__ = [
    "dep_counts",
    "distribution_lines",
    "go_json",
    "importer_of",
    "log",
    "relations_json",
    "rev_dep_counts",
    "sorted_stats",
    "write_output",
]

# Go's encoding/json escapes these even inside strings; byte-identical output keeps old clients happy.
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any) -> str:
    """JSON as Go's ``json.Encoder`` writes it: compact, sorted map keys, HTML-escaped, newline-terminated."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if any(char in text for char in _GO_ESCAPES):
        text = "".join(_GO_ESCAPES.get(char, char) for char in text)
    return text + "\n"


def write_output(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (a file, ``/dev/stdout``, ``-`` or ``/dev/fd/N``), truncating it.

    Standard output is written through ``sys.stdout`` rather than reopened, so output redirected to a
    file is appended in order instead of truncated.
    """
    if path in ("-", "/dev/stdout"):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
    except OSError as exc:
        raise AnalysisError(f"cannot write the output file: {exc.strerror or exc}", file=path) from None


def log(message: str, stream: Optional[IO[str]] = None) -> None:
    """A log line in the original's format: ``HH:MM:SS.micro message`` on stderr."""
    target = stream if stream is not None else sys.stderr
    target.write(f"{datetime.now().strftime('%H:%M:%S.%f')} {message}\n")


def relations_json(analysis: Analysis) -> str:
    """Every analyzed file -> its sorted direct dependencies (``null`` when it has none, as the original)."""
    return go_json({path: (list(deps) or None) for path, deps in analysis.relations.items()})


def dep_counts(analysis: Analysis) -> dict[str, int]:
    """Input file -> number of files in its closure (itself included)."""
    return {test: len(analysis.closure(test)) for test in analysis.inputs}


def rev_dep_counts(analysis: Analysis) -> dict[str, int]:
    """File -> number of input files whose closure contains it.

    Computed over the components of the graph with one bit per input, so each edge is looked at once
    rather than once per test.
    """
    edges = analysis.relations
    components, component_of = strongly_connected_components(edges)
    bit_of = {test: 1 << index for index, test in enumerate(analysis.inputs)}
    reached = [0] * len(components)
    for number, members in enumerate(components):
        for member in members:
            reached[number] |= bit_of.get(member, 0)
    # Components come dependencies-first: walk them dependents-first and push the bits down.
    for number in range(len(components) - 1, -1, -1):
        bits = reached[number]
        if not bits:
            continue
        for member in components[number]:
            for child in edges.get(member, ()):
                target = component_of[child]
                if target != number:
                    reached[target] |= bits
    return {
        path: bin(reached[component_of[path]]).count("1") for path in edges if reached[component_of[path]]
    }


def sorted_stats(counts: Mapping[str, int], by: str) -> list[tuple[int, str]]:
    """(count, name) pairs: by count (highest first, then name) or by name."""
    if by == "name":
        return [(counts[name], name) for name in sorted(counts)]
    return sorted(((count, name) for name, count in counts.items()), key=lambda item: (-item[0], item[1]))


def _importers(analysis: Analysis, test: str) -> dict[str, str]:
    """Distribution -> the first file (sorted) of the test file's closure importing one of its modules."""
    env = analysis.environment
    installed = env.installed if env is not None else None
    if installed is None:
        return {}
    found: dict[str, str] = {}
    for path in sorted(analysis.closure(test)):
        for dist in sorted(installed.of_modules(analysis.externals.get(path, ()))):
            found.setdefault(dist, path)
    return found


def importer_of(analysis: Analysis, test: str, distribution: str) -> Optional[str]:
    """The closure file that brings ``distribution`` into the test file's key (by import or by a
    requirement of what it imports), or None."""
    from dryci.dagger.distributions import normalize

    name = normalize(distribution)
    importers = _importers(analysis, test)
    if name in importers:
        return importers[name]
    installed = analysis.environment.installed if analysis.environment is not None else None
    if installed is None:
        return None
    for dist, path in sorted(importers.items(), key=lambda item: item[1]):
        if name in installed.closure([dist]):
            return path
    return None


def distribution_lines(analysis: Analysis, test: str) -> list[str]:
    """The distributions in a test file's key, each with why it is there."""
    env = analysis.environment
    if env is None:
        return []
    if env.installed is None:
        return [
            f"{test}: hash_distributions: all: every installed distribution ({len(env.global_distributions)})"
        ]
    installed = env.installed
    own = sorted(analysis.distributions.get(test, ()))
    importers = _importers(analysis, test)
    lines = [f"{test}: {len(own)} distribution{'' if len(own) == 1 else 's'} of its own in its key"]
    for name in own:
        if name in importers:
            reason = f"imported by {importers[name]}"
        else:
            by = sorted(d for d in own if d != name and name in installed.dists.get(d, _NONE).requires)
            reason = f"required by {', '.join(by)}" if by else "required by an imported distribution"
        lines.append(f"  {name} {installed.label(name)} ({reason})")
    every = sorted(env.global_distributions)
    shown = ", ".join(f"{name} {installed.label(name)}" for name in every[:8])
    more = f" and {len(every) - 8} more" if len(every) > 8 else ""
    lines.append(f"in every key (pytest, its plugins, hash_distributions): {shown}{more}")
    return lines


class _NoDistribution:
    requires: tuple[str, ...] = ()


_NONE = _NoDistribution()
