"""The per-run object: analyze, query, skip what is cached, collect results, publish, report.

It decides nothing itself (``selection`` does) and never lets DryCI change the tests' exit code,
except turning "no tests ran" into success when everything was cached.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dryci.exceptions import DryciError, StoreUnavailable
from dryci.plugin.manifests import explain_lines, save_manifests
from dryci.plugin.report import RunCounts, format_summary
from dryci.plugin.results import ResultTracker
from dryci.plugin.selection import (
    SKIP_REASON,
    FilePlan,
    Plan,
    TestResult,
    entries_to_publish,
    forged_tags,
    in_canary,
)
from dryci.plugin.settings import Settings, provenance_from_env
from dryci.protocol import PublishStats

__all__ = ["DryciSession", "session_key"]

RUNNING_ALL = "(running all tests)"


class DryciSession:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.plan: Plan | None = None
        self.base_dir: Path | None = None
        self.analysis: Any = None
        self.dagger_config: Any = None  # kept for precise mode (its config identity and salt)
        self.config_path: Path | None = None  # the config file it came from; None when inferred
        self.environment_salt = ""
        self.store: Any = None
        self.local: Any = None
        self._local_problem: str | None = None
        self.canary_seed = secrets.token_hex(8)
        self.named_files: frozenset[str] = frozenset()
        self.shortcut: frozenset[str] = frozenset()
        self.index: dict[str, tuple[str, str]] = {}  # node id -> (test file, test name)
        self.test_counts: dict[str, int] = {}
        self.ignored: set[str] = set()
        self.precise_seconds: dict[str, float] = {}  # node id -> seconds precise mode saved
        self.canary: set[str] = set()  # node ids the canary made run although the cache claimed them
        self.tracker = ResultTracker()
        self.explanations: list[str] = []
        self.publish_error: str | None = None
        self._planned = False
        self._scope_paths: list[Path] | None = None
        self._cache_path: Path | None = None
        self._cache_problem: str | None = None

    # -- output ----------------------------------------------------------------------------

    def say(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr)

    # -- planning --------------------------------------------------------------------------

    def _rel(self, path: Path | str) -> str | None:
        if self.base_dir is None:
            return None
        try:
            return Path(path).relative_to(self.base_dir).as_posix()
        except ValueError:
            return None

    def cache_dir(self) -> Path | None:
        """DryCI's folder under pytest's cache dir, made on first use; None when it cannot be made
        (``cache_problem`` says why: a read-only checkout, a full disk)."""
        if self._cache_path is None and self._cache_problem is None:
            path = self.config.rootpath / ".pytest_cache" / "d" / "dryci"
            try:
                cache = getattr(self.config, "cache", None)
                if cache is not None:
                    path = Path(cache.mkdir("dryci"))
                else:
                    # -p no:cacheprovider: same place, made by hand.
                    path.mkdir(parents=True, exist_ok=True)
                self._cache_path = path
            except OSError as exc:
                self._cache_problem = f"cannot use the cache folder {path}: {exc.strerror or exc}"
        return self._cache_path

    def ensure_planned(self) -> None:
        if self._planned:
            return
        self._planned = True
        if self.is_worker:
            self._load_payload(self.config.workerinput.get("dryci"))  # type: ignore[attr-defined]
        else:
            self._plan()
        if self.plan is not None and not self.config.getoption("collectonly", False):
            # --collect-only is for seeing the tests: list them all, cached ones marked skipped.
            self.shortcut = self.plan.shortcut_files(
                exclude=self.named_files, canary_seed=self.canary_seed, canary=self.settings.canary
            )

    def _plan(self) -> None:
        from dryci.dagger import analyze, environment_salt, find_config, load_config
        from dryci.protocol import key_for

        if self.settings.problem is not None:
            self.say(f"dryci: {self.settings.problem} {RUNNING_ALL}")
            return
        path = self.settings.config_path or find_config(self.config.rootpath)
        cache_dir = self.cache_dir()
        try:
            if path is None:
                # Zero-config: the config `dryci init` would write, inferred in memory.
                from dryci.dagger.infer import inferred_config

                dagger_config = inferred_config(self.config.rootpath)
                self.say(
                    "dryci: no repo_dagger.yaml; using an inferred config (run `dryci init` to write one)"
                )
            else:
                dagger_config = load_config(path)
            salt = environment_salt(dagger_config, extra=self.settings.salt)
            analyzer_cache = cache_dir / "dagger" if cache_dir is not None else None
            self.analysis = analyze(dagger_config, salt=salt, cache_dir=analyzer_cache)
            self.dagger_config, self.environment_salt, self.config_path = dagger_config, salt, path
        except (DryciError, OSError) as exc:
            self.say(f"dryci: {exc} {RUNNING_ALL}")
            return
        except Exception as exc:
            # A bug in the analyzer must cost the cache, never the test run.
            self.say(f"dryci: the analysis failed unexpectedly ({type(exc).__name__}: {exc}) {RUNNING_ALL}")
            return
        self.base_dir = Path(dagger_config.base_dir)
        self.named_files = self._files_named_by_node_ids()
        for warning in list(self.analysis.warnings)[:5]:
            self.say(f"dryci: warning: {warning}")
        hashes = self.analysis.hashes
        self.store = self._open_store()
        entries = None
        if self.store is not None and self.settings.skip:
            try:
                entries = self.store.query([key_for(h) for h in hashes.values()])
            except StoreUnavailable as exc:
                self.say(f"dryci: {exc.reason} {RUNNING_ALL}")
                if getattr(self.store, "breaker_open", False):
                    # Already said once; publishing would only repeat it.
                    self.settings = replace(self.settings, publish=False)
        from dryci.plugin.selection import make_plan

        self.plan = make_plan(hashes, entries, skip=self.settings.skip)
        forged = forged_tags(self.plan, entries) if entries is not None else 0
        if forged:
            self.say(
                f"dryci: {forged} cache entr{'y' if forged == 1 else 'ies'} failed verification "
                "(forged, or written for other sources); their tests are checked one by one"
            )

    def _open_store(self) -> Any:
        if self.settings.server is not None:
            from dryci.store.remote import RemoteStore

            return RemoteStore(self.settings.server, token=self.settings.token, timeout=self.settings.timeout)
        local = self._local_store()
        if local is None:
            self.say(f"dryci: {self._local_problem} {RUNNING_ALL}")
        return local

    def _local_store(self) -> Any:
        """The local SQLite store (manifests live there even when results go to a server)."""
        if self.local is None:
            self.local = False
            cache_dir = self.cache_dir()
            if cache_dir is None:
                self._local_problem = self._cache_problem
                return None
            from dryci.store.local import LocalStore

            try:
                self.local = LocalStore(cache_dir, busy_timeout=self.settings.lock_timeout)
            except StoreUnavailable as exc:
                self._local_problem = exc.reason
                return None
            if self.local.recovered:
                self.say(f"dryci: {self.local.recovered}")
        return self.local or None

    def _files_named_by_node_ids(self) -> frozenset[str]:
        named = set()
        for arg in self.config.args:
            if "::" in arg:
                rel = self._rel((self.config.invocation_params.dir / arg.split("::", 1)[0]).resolve())
                if rel is not None:
                    named.add(rel)
        return frozenset(named)

    # -- xdist -----------------------------------------------------------------------------

    def worker_payload(self) -> dict[str, Any]:
        self.ensure_planned()
        if self.plan is None:
            return {}
        return {
            "base_dir": str(self.base_dir),
            "skip": self.plan.skip,
            "files": {
                p: [f.dependency_hash, dict(f.passed), f.test_count, sorted(f.skipped), f.verified, f.claimed]
                for p, f in self.plan.files.items()
            },
            "named": sorted(self.named_files),
            "canary_seed": self.canary_seed,
        }

    def _load_payload(self, payload: dict[str, Any] | None) -> None:
        if not payload:
            return
        self.base_dir = Path(payload["base_dir"])
        self.named_files = frozenset(payload["named"])
        self.canary_seed = payload["canary_seed"]
        files = {
            p: FilePlan(p, h, passed, count, frozenset(skipped), verified, claimed)
            for p, (h, passed, count, skipped, verified, claimed) in payload["files"].items()
        }
        self.plan = Plan(files, skip=payload["skip"])

    def merge_worker_output(self, output: dict[str, Any] | None) -> None:
        if not output:
            return
        self.index.update({nodeid: (p, name) for nodeid, (p, name) in output["index"].items()})
        for path, count in output["counts"].items():
            self.test_counts[path] = max(count, self.test_counts.get(path, 0))
        self.ignored.update(output["ignored"])
        self.canary.update(output["canary"])

    # -- pytest hooks ----------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.ensure_planned()

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        if not self.shortcut:
            return None
        rel = self._rel(collection_path)
        if rel is not None and rel in self.shortcut:
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

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[Any]
    ) -> None:
        # tryfirst: count what each file produced before -k/-m/--deselect drop anything.
        plan = self.plan
        if plan is None:
            return
        for item in items:
            if not isinstance(item, pytest.Function) or "::" not in item.nodeid:
                continue  # doctests and non-Python items simply run
            rel = self._rel(item.path)
            file_plan = plan.files.get(rel) if rel is not None else None
            if file_plan is None:
                continue
            name = item.nodeid.split("::", 1)[1]
            self.index[item.nodeid] = (file_plan.path, name)
            self.test_counts[file_plan.path] = self.test_counts.get(file_plan.path, 0) + 1
            if not plan.skip:
                continue
            test_id = file_plan.test_id(name)  # an HMAC: computed once per test
            picked = in_canary(self.canary_seed, test_id, self.settings.canary)
            if test_id in file_plan.passed:
                if picked:
                    self.canary.add(item.nodeid)
                else:
                    item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
            elif picked and file_plan.claimed:
                # The store claims the whole file passed, yet not with this test's id (a forged or
                # stale entry): the canary checks that claim too.
                self.canary.add(item.nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.is_worker:
            self.tracker.add(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            session.config.workeroutput["dryci"] = {  # type: ignore[attr-defined]
                "index": {nodeid: list(v) for nodeid, v in self.index.items()},
                "counts": self.test_counts,
                "ignored": sorted(self.ignored),
                "canary": sorted(self.canary),
            }
            return
        counts = self.run_counts()
        if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and counts.cached:
            session.exitstatus = pytest.ExitCode.OK
        if self.settings.explain:
            self.explanations = self._explain()
        self._publish(counts)
        for store in {id(s): s for s in (self.store, self.local) if s}.values():
            store.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or self.plan is None:
            return
        terminalreporter.write_line(format_summary(self.run_counts()))
        if self.publish_error:
            terminalreporter.write_line(self.publish_error)
        unfinished = len(self.tracker.unfinished())
        if unfinished and self.settings.publish:
            verb = "was" if unfinished == 1 else "were"
            terminalreporter.write_line(
                f"dryci: the run stopped early; {unfinished:,} test{'' if unfinished == 1 else 's'} that "
                f"did not finish setup, call and teardown {verb} not published"
            )
        broken = sorted(n for n in self.canary if self.tracker.failed(n))
        if broken:
            terminalreporter.write_sep("=", "dryci CACHE ERROR", red=True, bold=True)
            terminalreporter.write_line(
                f"dryci: {len(broken)} test(s) the cache claimed passed failed when re-run by the canary "
                "(stale or poisoned cache entry, or a missing dependency rule):",
                red=True,
            )
            for nodeid in broken:
                terminalreporter.write_line(f"  {nodeid}", red=True)
        if self.explanations:
            terminalreporter.write_sep("-", "dryci explain")
            for line in self.explanations:
                terminalreporter.write_line(line)

    # -- results ---------------------------------------------------------------------------

    def _ran_by_file(self) -> dict[str, list[str]]:
        ran: dict[str, list[str]] = {}
        for nodeid in self.tracker.node_ids():
            if self.tracker.cached(nodeid):
                continue
            path, name = self.index.get(nodeid) or (nodeid.split("::", 1)[0], "")
            ran.setdefault(path, []).append(name)
        return ran

    def run_counts(self) -> RunCounts:
        plan = self.plan or Plan()
        cached = saved = 0.0
        for nodeid in self.tracker.node_ids():
            if self.tracker.cached(nodeid) and nodeid in self.index:
                path, name = self.index[nodeid]
                cached += 1
                test_id = plan.files[path].test_id(name)
                saved += plan.files[path].passed.get(test_id, self.precise_seconds.get(nodeid, 0.0))
        for path in self.ignored:
            cached += plan.files[path].test_count or 0
            saved += plan.files[path].seconds
        ran = self._ran_by_file()
        changed = [p for p in ran if p in plan.files and not plan.files[p].has_entry]
        partly = [p for p in ran if p in plan.files and plan.files[p].has_entry]
        return RunCounts(
            cached=int(cached),
            seconds_saved=saved,
            ran=sum(len(names) for names in ran.values()),
            files_changed=len(changed),
            files_with_new_or_failed=len(partly),
            files_not_analyzed=len(ran) - len(changed) - len(partly),
        )

    def _explain(self) -> list[str]:
        return explain_lines(self.plan or Plan(), self._ran_by_file(), self._local_store(), self.analysis)

    def _publish(self, counts: RunCounts) -> None:
        if not self.settings.publish or self.plan is None or self.store is None:
            return
        lf_filtered = bool(self.config.getoption("lf", False))
        full_counts = {
            p: n for p, n in self.test_counts.items() if p not in self.named_files and not lf_filtered
        }
        tracker = self.tracker
        results = [
            TestResult(path, name, tracker.passed(nodeid), tracker.seconds(nodeid), tracker.cached(nodeid))
            for nodeid, (path, name) in self.index.items()
            if nodeid in tracker
        ]
        entries = entries_to_publish(self.plan, results, full_counts)
        if not entries:
            return
        failed = sum(1 for n in self.tracker.node_ids() if self.tracker.failed(n))
        stats = PublishStats(
            total=counts.cached + counts.ran,
            passed=sum(1 for r in results if r.passed),
            failed=failed,
            skipped=counts.ran - failed - sum(1 for r in results if r.passed),
            skipped_by_cache=counts.cached,
            seconds_saved=round(counts.seconds_saved, 3),
        )
        try:
            self.store.publish(entries, provenance_from_env(os.environ), stats)
        except StoreUnavailable as exc:
            what = "save" if self.store is self.local else "publish"
            self.publish_error = f"dryci: could not {what} results: {exc.reason}"
            return
        self._save_manifests({r.path for r in results if r.passed})

    def _save_manifests(self, paths: set[str]) -> None:
        local = self._local_store()
        if local is not None and self.plan is not None:
            problem = save_manifests(local, self.plan, self.analysis, paths)
            if problem:
                self.say(f"dryci: could not save manifests for --dryci-explain: {problem}")


session_key = pytest.StashKey[DryciSession]()
