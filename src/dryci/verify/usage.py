"""What the recorder saw: per test file, the repository files it used and how.

Plain frozen data, shared by the recorder (which fills it), the xdist and isolated-mode merges (which
move it between processes as JSON) and ``compare`` (which judges it against the dependency graph).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dryci.exceptions import ProtocolError

# How a file was used. The order is the order of precedence when one file is used in several ways.
KINDS = ("imports", "reads", "lists", "runs", "references")
USAGE_FORMAT = 1


@dataclass(frozen=True)
class Use:
    """One use of ``path`` (posix, relative to the base dir) by code in ``reader`` (None: no project frame).

    ``kind`` is one of KINDS; ``via`` is the listed folder for ``lists`` and the module name for ``imports``.
    """

    path: str
    kind: str
    reader: str | None = None
    via: str | None = None


def use_key(use: Use) -> tuple[str, str, str, str]:
    """A total order over uses (``reader`` and ``via`` may be None)."""
    return (use.path, use.kind, use.reader or "", use.via or "")


Usage = Mapping[str, frozenset[Use]]  # test file -> what its collection and tests used


def merge(parts: Iterable[Usage]) -> dict[str, frozenset[Use]]:
    """Union of several recordings (xdist workers, isolated processes)."""
    merged: dict[str, set[Use]] = {}
    for part in parts:
        for test_file, uses in part.items():
            merged.setdefault(test_file, set()).update(uses)
    return {test_file: frozenset(uses) for test_file, uses in merged.items()}


def to_json(usage: Usage) -> dict[str, Any]:
    return {
        "format": USAGE_FORMAT,
        "usage": {
            test_file: [[u.path, u.kind, u.reader, u.via] for u in sorted(uses, key=use_key)]
            for test_file, uses in sorted(usage.items())
        },
    }


def from_json(data: Any) -> dict[str, frozenset[Use]]:
    """Read what ``to_json`` wrote; anything else is a ProtocolError naming the field."""
    if not isinstance(data, dict) or data.get("format") != USAGE_FORMAT:
        raise ProtocolError(f"expected a usage record of format {USAGE_FORMAT}", field="format")
    raw = data.get("usage")
    if not isinstance(raw, dict):
        raise ProtocolError("expected an object of test file -> uses", field="usage")
    usage: dict[str, frozenset[Use]] = {}
    for test_file, rows in raw.items():
        if not isinstance(rows, list):
            raise ProtocolError("expected a list of uses", field=f"usage.{test_file}")
        uses = set()
        for row in rows:
            if (
                not isinstance(row, list)
                or len(row) != 4
                or not isinstance(row[0], str)
                or row[1] not in KINDS
                or not all(v is None or isinstance(v, str) for v in row[2:])
            ):
                raise ProtocolError(
                    f"expected [path, kind, reader, via], got {row!r}", field=f"usage.{test_file}"
                )
            uses.add(Use(row[0], row[1], row[2], row[3]))
        usage[test_file] = frozenset(uses)
    return usage
