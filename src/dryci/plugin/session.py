"""The per-run object: plan, skip what is cached, collect results, publish, report.

It decides nothing itself (``dryci.selection`` does) and never lets DryCI change the tests' exit
code, except turning "no tests ran" into success when the cache is what left nothing to run.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dryci.plugin.cached import add_cached_to_junit, cached_files_lines
from dryci.plugin.ci_summary import github_step_summary
from dryci.plugin.gitlab_summary import gitlab_junit_summary
from dryci.plugin.outcome import RunCounts, RunOutcome
from dryci.plugin.places import Places
from dryci.plugin.planning import Planned, plan_run
from dryci.plugin.publishing import publish_results, report_run, run_usage, save_records
from dryci.plugin.report import dryci_summary, explain_lines, explanations
from dryci.plugin.results import ResultTracker
from dryci.plugin.settings import Settings
from dryci.plugin.skips import cacheable_module_skip, cacheable_outcome, closure_sources
from dryci.plugin.sources import Stale
from dryci.plugin.terminal import write_end_of_run
from dryci.plugin.xdist import WorkerOutput, WorkerPayload
from dryci.recording.runtime import Recorded, Recording, encode_recorded, merge_recorded, recording_key
from dryci.recording.units import ModuleUnits
from dryci.selection.decision import Level
from dryci.selection.files import in_canary
from dryci.selection.plan import Selection, Uncollected
from dryci.selection.shadow import ShadowSummary, WouldSkip, shadow_summary, would_skip
from dryci.selection.skips import Resolve

if TYPE_CHECKING:
    pass

__all__ = ["DryciSession", "session_key"]


class DryciSession:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.planned: Planned | None = None  # the controller's plan
        self.selection: Selection | None = None
        self.base_dir: Path | None = None
        self.recording: Recording | None = config.stash.get(recording_key, None)
        self.canary_seed = secrets.token_hex(8)
        self.named_files: frozenset[str] = frozenset()
        self.uncollected: Mapping[str, Uncollected] = {}
        self.ignored: set[str] = set()  # uncollected files inside this run's scope
        self.index: dict[str, tuple[str, str]] = {}  # node id -> (test file, test name)
        self.test_counts: dict[str, int] = {}
        self.canary: set[str] = set()  # node ids the canary made run although the cache claimed them
        self.cacheable: set[str] = set()  # node ids skipped or xfailed for a reason the key decides
        self.module_skips: set[str] = set()  # test files skipped at import by importorskip
        # Shadow mode: what the run would have left uncollected, and each test it would have skipped.
        self.shadow_files: frozenset[str] = frozenset()
        self.would_skip: dict[str, WouldSkip] = {}
        self.worker_recordings: list[dict[str, Any]] = []
        self.tracker = ResultTracker()
        self.notes: list[str] = []  # lines for the end of the run (publish problems and the like)
        self.explanations: list[str] = []
        self._planned = False
        self._scope_paths: list[Path] | None = None
        self.places = Places(config, settings, self.say)

    # -- output ----------------------------------------------------------------------------

    def say(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr)

    # -- places ----------------------------------------------------------------------------

    def cache_dir(self) -> Path | None:
        return self.places.cache_dir()

    # -- planning --------------------------------------------------------------------------

    def _rel(self, path: Path | str) -> str | None:
        if self.base_dir is None:
            return None
        try:
            return Path(path).relative_to(self.base_dir).as_posix()
        except ValueError:
            return None

    def ensure_planned(self) -> None:
        if self._planned:
            return
        self._planned = True
        if self.is_worker:
            payload = WorkerPayload.load(self.config.workerinput.get("dryci"))  # type: ignore[attr-defined]
            if payload is not None:
                self.base_dir, self.selection = payload.base_dir, payload.selection
                self.named_files, self.canary_seed = payload.named, payload.canary_seed
                self.uncollected = payload.uncollected
                self._plan_shadow()
            return
        from dryci.dagger import find_config

        config_path = self.settings.config_path or find_config(self.config.rootpath)
        planned = plan_run(
            self.settings, config_path, self.config.rootpath, self.cache_dir(), self.places.stores, self.say
        )
        if planned is None:
            return
        self.planned, self.selection, self.base_dir = planned, planned.selection, planned.base_dir
        self.named_files = self._files_named_by_node_ids()
        if self.settings.shadow:
            self._plan_shadow()
        elif self._may_leave_uncollected():
            self.uncollected = planned.selection.uncollected(
                self.named_files, self.canary_seed, self.settings.canary
            )

    def _may_leave_uncollected(self) -> bool:
        # --collect-only is for seeing the tests: list them all, cached ones marked skipped.
        # -k/-m/--deselect pick tests by name or mark, which a file not imported cannot show:
        # collect every file, so only the tests they keep count (a typo in -k is exit 5).
        return not self.config.getoption("collectonly", False) and not self._selects_tests()

    def _plan_shadow(self) -> None:
        """In shadow mode every file is collected: keep aside the files the real run would not have
        imported (the canary is moot: every test runs)."""
        if self.settings.shadow and self.selection is not None and self._may_leave_uncollected():
            self.shadow_files = frozenset(self.selection.uncollected(self.named_files))

    def _selects_tests(self) -> bool:
        option = self.config.getoption
        return bool(option("keyword", "") or option("markexpr", "") or option("deselect", None))

    def _files_named_by_node_ids(self) -> frozenset[str]:
        named = set()
        for arg in self.config.args:
            if "::" in arg:
                rel = self._rel((self.config.invocation_params.dir / arg.split("::", 1)[0]).resolve())
                if rel is not None:
                    named.add(rel)
        return frozenset(named)

    def worker_payload(self) -> WorkerPayload | None:
        self.ensure_planned()
        if self.selection is None or self.base_dir is None:
            return None
        return WorkerPayload(
            self.base_dir, self.selection, self.named_files, self.canary_seed, self.uncollected
        )

    def merge_worker_output(self, raw: object) -> None:
        output = WorkerOutput.load(raw)
        if output is None:
            return
        self.index.update(output.index)
        for path, count in output.counts.items():
            self.test_counts[path] = max(count, self.test_counts.get(path, 0))
        self.ignored.update(output.ignored)
        self.canary.update(output.canary)
        self.cacheable.update(output.cacheable)
        self.module_skips.update(output.module_skips)
        self.would_skip.update(output.would_skip)
        if output.recording is not None:
            self.worker_recordings.append(output.recording)

    # -- pytest hooks ----------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.ensure_planned()
        recording = self.recording
        if recording is None:
            return
        functions = self.planned.functions if self.planned is not None else None
        if self.base_dir is None or (not self.is_worker and functions is None):
            recording.stop()  # nothing could keep what it records
            self.recording = None
            return
        recording.attach(self.base_dir, self._analyzed_units())
        if not self.config.pluginmanager.is_registered(recording):
            self.config.pluginmanager.register(recording, "dryci-recording")

    def _analyzed_units(self) -> Callable[[str], ModuleUnits | None] | None:
        """Units from the parse cache for the recorder, for files as the analysis read them."""
        sources = self.planned.sources if self.planned is not None else None
        if sources is None:
            return None

        def units_of(path: str) -> ModuleUnits | None:
            try:
                return sources.units(path)
            except Stale:
                raise LookupError(path) from None

        return units_of

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        if not self.uncollected:
            return None
        rel = self._rel(collection_path)
        if rel is not None and rel in self.uncollected:
            # pytest also asks about siblings of a named node id's file; only files inside a
            # directory or file argument count as cached tests of this run.
            if any(collection_path == scope or scope in collection_path.parents for scope in self._scopes()):
                self.ignored.add(rel)
            return True
        return None

    def _scopes(self) -> list[Path]:
        if self._scope_paths is None:
            here = self.config.invocation_params.dir
            self._scope_paths = [(here / arg).resolve() for arg in self.config.args if "::" not in arg]
        return self._scope_paths

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped and self.selection is not None and "::" not in report.nodeid:
            path = self.config.rootpath / report.nodeid
            rel = self._rel(path)
            if rel is not None and rel in self.selection.plan.files and cacheable_module_skip(report, path):
                self.module_skips.add(rel)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[Any]
    ) -> None:
        # tryfirst: count what each file produced before -k/-m/--deselect drop anything.
        selection = self.selection
        if selection is None:
            return
        for item in items:
            if not isinstance(item, pytest.Function) or "::" not in item.nodeid:
                continue  # doctests and non-Python items simply run
            rel = self._rel(item.path)
            if rel is None or rel not in selection.plan.files:
                continue
            name = item.nodeid.split("::", 1)[1]
            self.index[item.nodeid] = (rel, name)
            self.test_counts[rel] = self.test_counts.get(rel, 0) + 1
            if self.settings.shadow:
                # The same decision the real run acts on, remembered instead of applied.
                # pytest imports a file given as an argument whatever ignore_collect says.
                whole_file = rel in self.shadow_files and not session.isinitpath(item.path)
                would = would_skip(selection, rel, name, whole_file)
                if would is not None:
                    self.would_skip[item.nodeid] = would
                continue
            decision = selection.decide(rel, name)
            if decision is None or not selection.skip:
                continue
            picked = in_canary(
                self.canary_seed, selection.canary_id(rel, name, decision), self.settings.canary
            )
            if decision.skip:
                if picked:
                    self.canary.add(item.nodeid)
                else:
                    item.add_marker(pytest.mark.skip(reason=decision.skip_reason))
            elif picked and decision.level is Level.FILE and selection.plan.files[rel].claimed:
                # The store claims the whole file passed, yet not with this test's id (a forged or
                # stale entry): the canary checks that claim too.
                self.canary.add(item.nodeid)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Generator[None, Any, None]:
        outcome = yield
        report = outcome.get_result()
        if (
            report.skipped
            and item.nodeid in self.index
            and not self.tracker.skipped_by_cache(report)
            and cacheable_outcome(item, report, self._closure_sources(item.nodeid))
        ):
            self.cacheable.add(item.nodeid)

    def _closure_sources(self, nodeid: str) -> Resolve | None:
        """Project sources a skip condition may read a name from: the test file's closure (on the
        controller, which holds the analysis; a worker shows none)."""
        planned, base = self.planned, self.base_dir
        if planned is None or base is None:
            return None
        try:
            closure = planned.analysis.closure(self.index[nodeid][0])
        except KeyError:
            return None
        return closure_sources(closure, base)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.is_worker:
            self.tracker.add(report)

    def cached_into_junit(self) -> None:
        """The cached tests as JUnit testcases: called before pytest's writer finishes (and before
        the stores close at session finish)."""
        planned = self.planned
        if self.is_worker or planned is None:
            return
        outcome = self.outcome()
        add_cached_to_junit(self.config, outcome.uncollected, planned.local)
        shadow = self.shadow if self.settings.shadow else None
        counts = RunCounts.of(outcome)
        gitlab_junit_summary(self.config, counts, lambda: explanations(outcome, planned), shadow)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            recorded = encode_recorded(self.recording) if self.recording is not None else None
            output = WorkerOutput(
                self.index,
                self.test_counts,
                self.ignored,
                self.canary,
                self.cacheable,
                self.module_skips,
                recorded,
                self.would_skip,
            )
            session.config.workeroutput["dryci"] = output.dump()  # type: ignore[attr-defined]
            return
        outcome = self.outcome()
        counts = RunCounts.of(outcome)
        if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and counts.cached:
            session.exitstatus = pytest.ExitCode.OK
        planned = self.planned
        if planned is None:
            return
        if self.settings.explain:
            self.explanations = explain_lines(outcome, planned)
        self.notes.extend(
            github_step_summary(
                outcome,
                lambda: explanations(outcome, planned),
                shadow=self.shadow if self.settings.shadow else None,
            )
        )
        shadow = self.shadow() if self.settings.shadow else None
        usage = run_usage(outcome, counts, self.settings.level.value, shadow)
        notes, may_publish = report_run(planned, usage)
        self.notes.extend(notes)
        # A read-only token is the documented setup of a developer's runs: nothing to say about it.
        if planned.publish and may_publish is not False and not self._store_failed(planned):
            self.notes.extend(publish_results(outcome, planned, counts))
            self.notes.extend(save_records(outcome, planned, self._recorded))
        if planned.sources is not None:
            planned.sources.flush()
        for store in {id(s): s for s in (planned.store, planned.local) if s is not None}.values():
            store.close()

    @staticmethod
    def _store_failed(planned: Planned) -> bool:
        # The report just failed past the breaker: publishing would only say so a second time.
        return planned.store is not None and planned.store.breaker_open

    def _recorded(self) -> Recorded | None:
        """This run's recording; under xdist the workers' merged (the controller ran no test).
        :class:`Unrecordable` when one could not record soundly."""
        if self.worker_recordings:
            return merge_recorded(self.worker_recordings)
        return self.recording.finish() if self.recording is not None else None

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or self.planned is None:
            return
        outcome = self.outcome()
        unfinished = len(self.tracker.unfinished()) if self.planned.publish else 0
        verbose = self.config.get_verbosity() > 0
        write_end_of_run(
            terminalreporter,
            dryci_summary(outcome, RunCounts.of(outcome), self.notes, unfinished),
            shadow=self.shadow() if self.settings.shadow else None,
            broken=sorted(n for n in self.canary if self.tracker.failed(n)),
            cached_files=cached_files_lines(outcome.uncollected) if verbose else [],
            explanations=self.explanations,
        )

    def shadow(self) -> ShadowSummary:
        tracker = self.tracker
        return shadow_summary(self.would_skip, tracker.node_ids(), tracker.failed)

    # -- results ---------------------------------------------------------------------------

    def outcome(self) -> RunOutcome:
        lf_filtered = bool(self.config.getoption("lf", False))
        full = {p: n for p, n in self.test_counts.items() if p not in self.named_files and not lf_filtered}
        for path in self.module_skips:
            if path not in self.named_files and not lf_filtered:
                full[path] = 1  # the module stands for its one (skipped) outcome
        return RunOutcome(
            self.selection or Selection(),
            self.index,
            self.tracker,
            full,
            frozenset(self.cacheable),
            frozenset(self.module_skips),
            {path: self.uncollected[path] for path in self.ignored if path in self.uncollected},
        )


session_key = pytest.StashKey[DryciSession]()
