"""What the plugin tells the user: the session header, the one summary line, and the ``--dryci-explain``
section.

The header (``pytest_report_header``, next to pytest's rootdir and configfile lines) says what this run
works with: the config, the store, the level, and how many test files were analyzed and are fully cached.

The explain section has one line per test file that ran, with the file level's reason (what changed
since its last pass), and under it, for tests the function level decided, each test's own reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dryci.exceptions import StoreUnavailable
from dryci.store.local import LastPass

if TYPE_CHECKING:
    from dryci.dagger import Analysis
    from dryci.plugin.planning import Planned

from dryci.plugin.outcome import RunCounts, RunOutcome
from dryci.selection.files import FilePlan
from dryci.selection.shadow import ShadowSummary

__all__ = [
    "Explanation",
    "HeaderState",
    "current_digests",
    "dryci_summary",
    "explain_file",
    "explain_lines",
    "explanations",
    "format_seconds",
    "format_shadow",
    "format_summary",
    "header_lines",
    "session_header",
]

INFERRED_CONFIG = "inferred (no repo_dagger.yaml; `dryci init` writes one)"


@dataclass(frozen=True)
class HeaderState:
    config: str | None  # the config file as shown; None: inferred in memory
    store: str  # where results are read from, as shown
    level: str
    analyzed: int  # test files with a dependency hash
    fully_cached: int  # of those, the files whose every test is cached (not even imported)


def header_lines(state: HeaderState) -> list[str]:
    """e.g. ``dryci config: repo_dagger.yaml; store: .pytest_cache/d/dryci (local); level: file`` and
    ``dryci test files: 3 analyzed, 3 fully cached``.

    Like pytest's own ``rootdir:`` and ``configfile:`` lines, each is labelled; none starts with
    ``dryci: ``, the prefix of the run's status lines, which scripts read.
    """
    config = state.config if state.config is not None else INFERRED_CONFIG
    return [
        f"dryci config: {config}; store: {state.store}; level: {state.level}",
        f"dryci test files: {state.analyzed:,} analyzed, {state.fully_cached:,} fully cached",
    ]


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def session_header(config: pytest.Config) -> list[str]:
    """The header lines of this run's DryCI session; none when DryCI is off, on xdist workers, or when
    planning failed (that already said why in one line)."""
    from dryci.dagger import find_config
    from dryci.plugin.session import session_key

    session = config.stash.get(session_key, None)
    if session is None or session.is_worker or session.planned is None:
        return []
    planned, settings, root = session.planned, session.settings, config.rootpath
    config_path = settings.config_path or find_config(root)
    if settings.server is not None:
        store = f"{settings.server} (shared)"
    else:
        cache_dir = session.cache_dir()
        store = f"{_shown(cache_dir, root)} (local)" if cache_dir is not None else "none"
    state = HeaderState(
        config=_shown(Path(config_path).resolve(), root) if config_path is not None else None,
        store=store,
        level=settings.level.value,
        analyzed=len(planned.analysis.hashes),
        fully_cached=len(planned.selection.uncollected()),
    )
    return header_lines(state)


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
    """e.g. ``dryci: 1,204 of 1,310 tests cached (1,100 at function level), ~6m 12s saved; 106 ran
    (3 files changed)``."""
    total = counts.cached + counts.ran
    by_function = f" ({counts.cached_by_function:,} at function level)" if counts.cached_by_function else ""
    line = (
        f"dryci: {counts.cached:,} of {_plural(total, 'test')} cached{by_function}, "
        f"{format_seconds(counts.seconds_saved)} saved; {counts.ran:,} ran"
    )
    why = []
    if counts.files_changed:
        why.append(f"{_plural(counts.files_changed, 'file')} {'new' if counts.first_run else 'changed'}")
    if counts.files_with_new_or_failed:
        why.append(f"{_plural(counts.files_with_new_or_failed, 'file')} with new, failed or skipped tests")
    if counts.files_not_analyzed:
        why.append(f"{_plural(counts.files_not_analyzed, 'file')} not analyzed")
    return line + (f" ({', '.join(why)})" if why else "")


def format_shadow(summary: ShadowSummary) -> str:
    """e.g. ``dryci shadow: would have skipped 1,204 of 1,310 tests (~6m 12s saved); 0 of them failed``."""
    return (
        f"dryci shadow: would have skipped {summary.would_skip:,} of {_plural(summary.total, 'test')} "
        f"({format_seconds(summary.seconds)} saved); {len(summary.missed):,} of them failed"
    )


def _short_list(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def explain_file(
    file_plan: FilePlan | None,
    manifest_hash: str | None,
    manifest: Mapping[str, str] | None,
    current: Mapping[str, str],
    ran_names: Sequence[str],
    old_parts: Mapping[str, str] | None = None,
    new_parts: Mapping[str, str] | None = None,
) -> str:
    """Why the tests of one file ran.

    ``manifest`` is ``{dependency: digest}`` of the file's last cached pass (with its hash),
    ``current`` the same for now, ``ran_names`` the tests of the file that ran; ``old_parts`` and
    ``new_parts`` the key parts outside the tree then and now (distributions, variables, options).
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
        if old_parts and new_parts is not None:
            parts.extend(parts_changed(old_parts, new_parts))
        if not parts:
            return "dependency files unchanged since the cached pass; the config, salt or environment changed"
        return "since the cached pass, " + "; ".join(parts)
    names = sorted(ran_names)
    return f"{_plural(len(names), 'test')} new, or failed or skipped last time: {_short_list(names)}"


_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "KEY", "CREDENTIAL", "AUTH")


def _value(name: str, value: str | None, kind: str) -> str:
    if value is None:
        return "<unset>" if kind == "env" else "<none>"
    if any(word in name.upper() for word in _SECRET_WORDS):
        return "<hidden>"
    return value if len(value) <= 60 else value[:57] + "..."


def parts_changed(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """What outside the tree differs between two keys, one phrase each: ``numpy 1.26.0 -> 2.0.0``,
    ``PYTHONWARNINGS changed: <not in the key> -> error``."""
    phrases = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        kind, _, label = name.partition(":")
        if kind == "dist":
            if before is None:
                phrases.append(f"now imports {label} {after}")
            elif after is None:
                phrases.append(f"no longer imports {label} {before}")
            else:
                phrases.append(f"{label} {before} -> {after}")
        else:
            shown = label if kind in ("env", "option") else name
            phrases.append(f"{shown} changed: {_value(shown, before, kind)} -> {_value(shown, after, kind)}")
    if len(phrases) > 5:
        phrases[5:] = [f"and {len(phrases) - 5} more key parts"]
    return phrases


def dryci_summary(outcome: RunOutcome, counts: RunCounts, notes: Sequence[str], unfinished: int) -> list[str]:
    """The lines at the end of the run: the summary, then what went wrong with saving."""
    lines = [format_summary(counts), *notes]
    if unfinished:
        verb = "was" if unfinished == 1 else "were"
        lines.append(
            f"dryci: the run stopped early; {unfinished:,} test{'' if unfinished == 1 else 's'} that "
            f"did not finish setup, call and teardown {verb} not published"
        )
    return lines


@dataclass(frozen=True)
class Explanation:
    """Why one test file's tests ran: the file level's reason, and each test's own where the function
    level decided it."""

    path: str
    reason: str
    ran: int  # tests of the file that ran
    tests: tuple[tuple[str, str], ...] = ()  # (test name, reason)


def explanations(outcome: RunOutcome, planned: Planned) -> list[Explanation]:
    """One explanation per test file that ran, sorted by path. Reads the local store's last passes:
    call it before the stores close."""
    ran = outcome.ran_by_file()
    passes: dict[str, LastPass] = {}
    if planned.local is not None:
        with contextlib.suppress(StoreUnavailable):
            passes = planned.local.last_passes(sorted(ran))
    analysis, selection = planned.analysis, outcome.selection
    out = []
    for path in sorted(ran):
        file_plan = selection.plan.files.get(path)
        last = passes.get(path)
        current = current_digests(analysis, path) if file_plan is not None and last is not None else {}
        reason = explain_file(
            file_plan,
            last.dependency_hash if last else None,
            last.files if last else None,
            current,
            [name for name in ran[path] if name],
            last.parts if last else None,
            analysis.key_parts(path) if last is not None and last.parts else None,
        )
        tests = []
        if path in selection.verdicts:
            for name in sorted(n for n in ran[path] if n):
                decision = selection.decide(path, name)
                if decision is not None and not decision.skip:
                    tests.append((name, decision.reason))
        out.append(Explanation(path, reason, len(ran[path]), tuple(tests)))
    return out


def explain_lines(outcome: RunOutcome, planned: Planned) -> list[str]:
    """One ``path: reason`` line per test file that ran, with the function level's reasons below."""
    lines = []
    for explained in explanations(outcome, planned):
        lines.append(f"{explained.path}: {explained.reason}")
        lines.extend(f"  {explained.path}::{name}: {reason}" for name, reason in explained.tests)
    return lines


def current_digests(analysis: Analysis, path: str) -> dict[str, str]:
    """``{dependency: digest}`` of a test file's closure now."""
    return {dep: analysis.file_digest(dep) for dep in analysis.closure(path)}
