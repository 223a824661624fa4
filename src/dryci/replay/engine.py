"""The replay itself: for each commit, oldest first, the runs at each level and what they missed.

Per commit, in this order:

1. check the commit out in the scratch worktree;
2. with ``--verify`` or ``--mutate``, run the plain suite (nothing skipped); else only collect it,
   for the totals;
3. for each mutant of a function the commit changed: the plain run with the mutant, then at each
   level a DryCI run that does not publish (``--dryci-no-publish``), so the cache still holds what
   the parent commit left; every test the plain run saw failing must have been selected;
4. at each level, the DryCI run as CI would do it: it skips what the cache allows and publishes,
   into that level's own cache folder (pytest's ``cache_dir``), carried to the next commit.

Before the first commit its parent is run at each level, unreported, so the first commit meets a
warm cache as it would in CI.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dryci.replay.history import Commit, ReplayError, changed_lines, checkout, first_parent_commits, git
from dryci.replay.mutants import Mutant, mutants_of, mutated, read_sources
from dryci.replay.runs import PytestRun, child_env, run_pytest

__all__ = ["LEVELS", "LevelResult", "ReplayOptions", "replay"]

LEVELS = ("file", "function")


@dataclass(frozen=True)
class ReplayOptions:
    repo: Path
    commits: int = 10
    levels: tuple[str, ...] = LEVELS
    verify: bool = False
    mutate: int = 0
    pytest_args: tuple[str, ...] = ()
    warm_up: bool = True
    timeout: float | None = None  # per pytest run


@dataclass(frozen=True)
class LevelResult:
    """One commit at one level; ``level`` "all" is the plain suite (run, or only collected)."""

    commit: str
    subject: str
    level: str
    tests_total: int
    tests_run: int
    tests_failed: int
    files_total: int
    files_run: int
    seconds: float | None  # wall time of the run; None when the plain suite was only collected
    cpu_seconds: float | None
    seconds_saved: float  # the plugin's estimate: the last durations of the tests it skipped
    missed_failures: int | None  # failed in the plain run, not run here; None without --verify
    missed: tuple[str, ...] = ()
    mutants: int = 0  # mutants the plain run caught (some test failed)
    mutants_missed: tuple[str, ...] = ()  # "mutant: test the level did not select"
    merge: bool = False

    @property
    def tests_skipped(self) -> int:
        return self.tests_total - self.tests_run

    @property
    def files_skipped(self) -> int:
        return self.files_total - self.files_run


Progress = Callable[[str], None]


@dataclass
class _Scratch:
    worktree: Path
    folder: Path
    env: dict[str, str] = field(default_factory=dict)

    def cache(self, level: str) -> Path:
        return self.folder / f"cache-{level}"

    def junit(self) -> Path:
        return self.folder / "junit.xml"


def _dryci_args(scratch: _Scratch, level: str, publish: bool) -> list[str]:
    args = ["--dryci", f"--dryci-level={level}", "-o", f"cache_dir={scratch.cache(level)}"]
    return args if publish else [*args, "--dryci-no-publish"]


def _collected(scratch: _Scratch, options: ReplayOptions) -> tuple[int, int]:
    """(tests, test files) of the plain suite, from ``--collect-only -q``: no test runs."""
    run = run_pytest(
        scratch.worktree,
        ["--collect-only", "-q", "-p", "no:cacheprovider", *options.pytest_args],
        scratch.junit(),
        scratch.env,
        options.timeout,
    )
    ids = [line.strip() for line in run.output.splitlines() if "::" in line and " " not in line.strip()]
    return len(ids), len({test.split("::", 1)[0] for test in ids})


def _plain(scratch: _Scratch, options: ReplayOptions) -> PytestRun:
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:dryci", *options.pytest_args]
    return run_pytest(scratch.worktree, args, scratch.junit(), scratch.env, options.timeout)


def _dryci(scratch: _Scratch, options: ReplayOptions, level: str, publish: bool) -> PytestRun:
    args = ["-q", *_dryci_args(scratch, level, publish), *options.pytest_args]
    run = run_pytest(scratch.worktree, args, scratch.junit(), scratch.env, options.timeout)
    if run.summary is None:
        tail = run.output.strip().splitlines()[-3:]
        raise ReplayError(
            f"pytest --dryci printed no `dryci:` summary line; its last lines: {' | '.join(tail)}"
        )
    return run


def _mutant_misses(
    scratch: _Scratch, options: ReplayOptions, mutants: Sequence[Mutant], baseline: set[str]
) -> tuple[int, dict[str, list[str]]]:
    """How many mutants the plain suite caught, and per level what each level did not select."""
    caught = 0
    missed: dict[str, list[str]] = {level: [] for level in options.levels}
    for mutant in mutants:
        path = scratch.worktree / mutant.path
        original = path.read_text(encoding="utf-8")
        path.write_text(mutated(original, mutant), encoding="utf-8")
        try:
            # Tests that fail without the mutant too are --verify's business, not the mutant's.
            failing = _plain(scratch, options).failed - baseline
            if not failing:
                continue  # no test notices this mutant: it says nothing about selection
            caught += 1
            for level in options.levels:
                selected = _dryci(scratch, options, level, publish=False).executed
                missed[level] += [f"{mutant}: {test}" for test in sorted(failing - selected)]
        finally:
            path.write_text(original, encoding="utf-8")
    return caught, missed


def _replay_commit(scratch: _Scratch, options: ReplayOptions, commit: Commit) -> list[LevelResult]:
    checkout(scratch.worktree, commit.sha)
    plain: PytestRun | None = None
    if options.verify or options.mutate:
        plain = _plain(scratch, options)
        total, files = len(plain.outcomes), len(plain.files())
    else:
        total, files = _collected(scratch, options)
    caught = 0
    mutant_missed: dict[str, list[str]] = {level: [] for level in options.levels}
    if options.mutate and plain is not None:
        changed = changed_lines(scratch.worktree, commit)
        chosen = mutants_of(changed, read_sources(scratch.worktree, sorted(changed)), options.mutate)
        caught, mutant_missed = _mutant_misses(scratch, options, chosen, plain.failed)
    results = [
        LevelResult(
            commit=commit.sha,
            subject=commit.subject,
            level="all",
            tests_total=total,
            tests_run=total,
            tests_failed=len(plain.failed) if plain is not None else 0,
            files_total=files,
            files_run=files,
            seconds=plain.wall_seconds if plain is not None else None,
            cpu_seconds=plain.cpu_seconds if plain is not None else None,
            seconds_saved=0.0,
            missed_failures=0 if options.verify else None,
            mutants=caught,
            merge=commit.is_merge,
        )
    ]
    for level in options.levels:
        run = _dryci(scratch, options, level, publish=True)
        summary = run.summary
        assert summary is not None  # _dryci raises otherwise
        missed = sorted(plain.failed - run.executed) if options.verify and plain is not None else []
        results.append(
            LevelResult(
                commit=commit.sha,
                subject=commit.subject,
                level=level,
                tests_total=total,
                tests_run=len(run.executed),
                tests_failed=len(run.failed),
                files_total=files,
                files_run=len(run.files("passed", "failed", "skipped")),
                seconds=run.wall_seconds,
                cpu_seconds=run.cpu_seconds,
                seconds_saved=summary.seconds_saved,
                missed_failures=len(missed) if options.verify else None,
                missed=tuple(missed),
                mutants=caught,
                mutants_missed=tuple(mutant_missed[level]),
                merge=commit.is_merge,
            )
        )
    return results


def _eta(started: float, done: int, left: int) -> str:
    from dryci.plugin.report import format_seconds

    if not done:
        return ""
    return f", ETA {format_seconds((time.perf_counter() - started) / done * left)}"


def replay(options: ReplayOptions, progress: Progress) -> list[LevelResult]:
    """Replay the last ``options.commits`` first-parent commits; one result per commit and level."""
    from dryci.replay.history import scratch_worktree

    if options.commits < 1:
        raise ReplayError(f"--commits: expected a positive number, got {options.commits}")
    repo = options.repo.resolve()
    git(repo, "rev-parse", "--git-dir")  # not a repository: git's own words, before anything is made
    history = first_parent_commits(repo, options.commits)
    commits = history[-options.commits :]
    warm = history[0] if len(history) > options.commits and options.warm_up else None
    results: list[LevelResult] = []
    folder = Path(tempfile.mkdtemp(prefix="dryci-replay-caches-"))
    try:
        with scratch_worktree(repo) as worktree:
            scratch = _Scratch(worktree, folder, child_env(worktree))
            if warm is not None:
                progress(f"replay: warming the caches at {warm.short} (the parent of the first commit)")
                checkout(worktree, warm.sha)
                for level in options.levels:
                    _dryci(scratch, options, level, publish=True)
            started = time.perf_counter()
            for i, commit in enumerate(commits):
                eta = _eta(started, i, len(commits) - i)
                progress(
                    f"replay: commit {i + 1} of {len(commits)}: {commit.short} {commit.subject[:50]}{eta}"
                )
                results.extend(_replay_commit(scratch, options, commit))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results
