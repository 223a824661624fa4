"""Per-file manifests of the last cached pass, and the ``--dryci-explain`` lines built from them.

A manifest is ``{dependency path: digest}`` of a test file's closure when its tests passed; it
lives in the local store even when results go to a server, because only this machine needs it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dryci.exceptions import StoreUnavailable
from dryci.plugin.report import explain_file
from dryci.plugin.selection import Plan
from dryci.store.local import LocalStore, Manifest

__all__ = ["explain_lines", "save_manifests"]


def _current(analysis: Any, path: str) -> dict[str, str]:
    return {dep: analysis.file_digest(dep) for dep in analysis.closure(path)}


def explain_lines(
    plan: Plan, ran: Mapping[str, Sequence[str]], local: LocalStore | None, analysis: Any
) -> list[str]:
    """One ``path: reason`` line per test file that ran (``ran``: file -> names of its tests that ran)."""
    manifests: dict[str, Manifest] = {}
    if local is not None:
        with contextlib.suppress(StoreUnavailable):
            manifests = local.manifests(sorted(ran))
    lines = []
    for path in sorted(ran):
        file_plan = plan.files.get(path)
        manifest = manifests.get(path)
        current = _current(analysis, path) if file_plan is not None and manifest is not None else {}
        reason = explain_file(
            file_plan,
            manifest.dependency_hash if manifest else None,
            manifest.files if manifest else None,
            current,
            [name for name in ran[path] if name],
        )
        lines.append(f"{path}: {reason}")
    return lines


def save_manifests(local: LocalStore, plan: Plan, analysis: Any, paths: Iterable[str]) -> str | None:
    """Record the manifests of ``paths``; returns why it failed, or None."""
    manifests = {
        path: Manifest(plan.files[path].dependency_hash, _current(analysis, path)) for path in sorted(paths)
    }
    try:
        local.save_manifests(manifests)
    except StoreUnavailable as exc:
        return exc.reason
    return None
