"""What the plugin tells the user: the one summary line, and ``--dryci-explain`` reasons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dryci.plugin.selection import FilePlan

__all__ = ["RunCounts", "explain_file", "format_seconds", "format_summary"]


@dataclass(frozen=True)
class RunCounts:
    cached: int
    seconds_saved: float
    ran: int
    files_changed: int
    files_with_new_or_failed: int = 0
    files_not_analyzed: int = 0


def format_seconds(seconds: float) -> str:
    """``~6m 12s`` style: coarse on purpose, durations from earlier runs are estimates."""
    if seconds < 10:
        return f"~{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"~{hours}h {minutes:02d}m"
    if minutes:
        return f"~{minutes}m {secs:02d}s"
    return f"~{secs}s"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def format_summary(counts: RunCounts) -> str:
    """e.g. ``dryci: 1,204 of 1,310 tests cached, ~6m 12s saved; 106 ran (3 files changed)``."""
    total = counts.cached + counts.ran
    line = (
        f"dryci: {counts.cached:,} of {_plural(total, 'test')} cached, "
        f"{format_seconds(counts.seconds_saved)} saved; {counts.ran:,} ran"
    )
    why = []
    if counts.files_changed:
        why.append(f"{_plural(counts.files_changed, 'file')} changed")
    if counts.files_with_new_or_failed:
        why.append(f"{_plural(counts.files_with_new_or_failed, 'file')} with new, failed or skipped tests")
    if counts.files_not_analyzed:
        why.append(f"{_plural(counts.files_not_analyzed, 'file')} not analyzed")
    return line + (f" ({', '.join(why)})" if why else "")


def _short_list(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def explain_file(
    file_plan: FilePlan | None,
    manifest_hash: str | None,
    manifest: Mapping[str, str] | None,
    current: Mapping[str, str],
    ran_names: Sequence[str],
) -> str:
    """Why the tests of one file ran.

    ``manifest`` is ``{dependency: digest}`` of the file's last cached pass (with its hash),
    ``current`` the same for now, ``ran_names`` the tests of the file that ran.
    """
    if file_plan is None:
        return "not among the analyzed inputs, so it always runs"
    if not file_plan.has_entry:
        if manifest is None:
            return "no cached results for it yet"
        if manifest_hash == file_plan.dependency_hash:
            return "no cached results for its current dependencies (the cache was cleared or unreachable)"
        changed = sorted(p for p in current if p in manifest and manifest[p] != current[p])
        added = sorted(p for p in current if p not in manifest)
        removed = sorted(p for p in manifest if p not in current)
        parts = []
        if changed:
            parts.append(f"changed: {_short_list(changed)}")
        if added:
            parts.append(f"new dependencies: {_short_list(added)}")
        if removed:
            parts.append(f"no longer depends on: {_short_list(removed)}")
        if not parts:
            return "dependency files unchanged since the cached pass; the config, salt or environment changed"
        return "since the cached pass, " + "; ".join(parts)
    names = sorted(ran_names)
    return f"{_plural(len(names), 'test')} new, or failed or skipped last time: {_short_list(names)}"
