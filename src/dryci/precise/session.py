"""The pytest side of precise mode: decide before the run, record during it, save manifests after.

It rides on the ``--dryci`` session (``dryci``: the plan, the analysis, the results tracker) and only
adds to it: tests the dependency hash would run are skipped when their manifest allows it, and each
passing run leaves a manifest for its test files. Under xdist the controller decides per recorded test
id and sends the decisions to the workers; workers record and send their recordings back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dryci.exceptions import StoreUnavailable
from dryci.plugin.results import skip_reason
from dryci.precise import PRECISE_SKIP_REASON
from dryci.precise.context import PreciseContext, make_context, read_closure
from dryci.precise.decide import TestDecision, decide_ids, for_node
from dryci.precise.manifest import FileFact, PreciseManifest, build_manifest, keyed
from dryci.precise.runtime import PreciseRecording, Recorded, Unrecordable, encode_recorded, merge_recorded
from dryci.precise.store import LocalManifestStore, ManifestStore

__all__ = ["PRECISE_SKIP_REASON", "PreciseSession"]


class PreciseSession:
    def __init__(self, config: pytest.Config, dryci: Any, recording: PreciseRecording | None) -> None:
        self.config = config
        self.dryci = dryci
        self.recording = recording
        self.is_worker = hasattr(config, "workerinput")
        self.context: PreciseContext | None = None
        self.store: ManifestStore | None = None
        # test file -> (secret, reason every test re-runs or None, test id -> decision)
        self.decisions: dict[str, tuple[str, str | None, dict[str, TestDecision]]] = {}
        self.reasons: dict[str, str] = {}  # node id -> why it re-ran (files that had a manifest)
        self.saved: set[str] = set()  # node ids precise mode skipped
        self.durations: dict[str, Mapping[str, float]] = {}  # test file -> test id -> seconds
        self.worker_recordings: list[dict[str, Any] | None] = []
        self.unrecorded: str | None = None  # why no manifest was saved this run
        self._facts: dict[str, FileFact | None] = {}  # closure files read once per run
        self._decided = False

    # -- before the run --------------------------------------------------------------------

    def ensure_decided(self) -> None:
        if self._decided:
            return
        self._decided = True
        self.dryci.ensure_planned()
        if self.is_worker:
            self._load_payload(self.config.workerinput.get("dryci_precise"))  # type: ignore[attr-defined]
            return
        plan, analysis = self.dryci.plan, self.dryci.analysis
        if plan is None or analysis is None:
            return
        cache_dir = self.dryci.cache_dir()
        if cache_dir is None:
            return  # the --dryci session said why (its results cannot be kept locally either)
        try:
            self.context = self._context()
        except Exception as exc:
            self.dryci.say(f"dryci: precise mode is off for this run: {exc}")
            return
        self.store = self._manifest_store(cache_dir)
        if not plan.skip:
            return
        candidates = [path for path, file_plan in plan.files.items() if not file_plan.fully_cached]
        stored = self.store.get_many(self.context.key(path) for path in candidates)  # one server call
        for path in candidates:
            manifest = stored.get(self.context.key(path))
            closure = read_closure(self.dryci.base_dir, analysis, path, self._facts) if manifest else None
            if manifest is None or closure is None:
                continue
            secret = self.context.secret(path)
            everything, decisions = decide_ids(manifest, secret, self.context.salt, closure)
            self.decisions[path] = (secret, everything, decisions)
            self.durations[path] = manifest.durations

    def _context(self) -> PreciseContext:
        dagger_config = self.dryci.dagger_config
        analysis = self.dryci.analysis
        globals_ = {g: analysis.digests.get(g, "missing") for g in dagger_config.global_deps}
        return make_context(
            self.dryci.config_path, repr(_portable(dagger_config)), self.dryci.environment_salt, globals_
        )

    def _manifest_store(self, cache_dir: Path) -> ManifestStore:
        """Local manifests; shared on the server too when the --dryci session's results are remote."""
        local = LocalManifestStore(cache_dir / "precise")
        remote = self.dryci.store
        if not hasattr(remote, "post_each"):  # no DRYCI_SERVER (or it could not be used)
            return local
        from dryci.plugin.settings import provenance_from_env
        from dryci.precise.remote import RemoteManifestStore

        return RemoteManifestStore(remote, local, self.dryci.say, provenance_from_env(os.environ))

    def worker_payload(self) -> dict[str, Any]:
        self.ensure_decided()
        return {
            path: [secret, everything, {tid: [d.skip, d.reason] for tid, d in decisions.items()}]
            for path, (secret, everything, decisions) in self.decisions.items()
        }

    def _load_payload(self, payload: dict[str, Any] | None) -> None:
        for path, (secret, everything, decisions) in (payload or {}).items():
            self.decisions[path] = (
                secret,
                everything,
                {tid: TestDecision(skip, reason) for tid, (skip, reason) in decisions.items()},
            )

    # -- pytest hooks ----------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.ensure_decided()
        if self.recording is not None and self.dryci.base_dir is not None:
            self.recording.attach(self.dryci.base_dir)
            if not self.config.pluginmanager.is_registered(self.recording):
                self.config.pluginmanager.register(self.recording, "dryci-precise-recording")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[Any]
    ) -> None:
        # trylast: after the dependency-hash cache marked what it skips.
        for item in items:
            located = self.dryci.index.get(item.nodeid)
            if located is None or located[0] not in self.decisions or _skipped(item):
                continue
            path, name = located
            secret, everything, decisions = self.decisions[path]
            decision = for_node(secret, everything, decisions, f"{path}::{name}")
            if decision.skip:
                item.add_marker(pytest.mark.skip(reason=PRECISE_SKIP_REASON))
            else:
                self.reasons[item.nodeid] = decision.reason

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker or report.when != "setup" or not report.skipped:
            return
        if PRECISE_SKIP_REASON in skip_reason(report):
            self.saved.add(report.nodeid)
            located = self.dryci.index.get(report.nodeid)
            if located is not None and located[0] in self.decisions:
                # What the test took when recorded: the time this skip saves (the summary's figure).
                path, name = located
                test_id = keyed(self.decisions[path][0], "test", f"{path}::{name}")
                seconds = self.durations.get(path, {}).get(test_id, 0.0)
                self.dryci.precise_seconds[report.nodeid] = seconds

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # tryfirst: the --dryci session closes its stores in its own (trylast) sessionfinish.
        recorded = encode_recorded(self.recording) if self.recording is not None else None
        if self.is_worker:
            session.config.workeroutput["dryci_precise"] = {  # type: ignore[attr-defined]
                "recorded": recorded,
                "reasons": self.reasons,
            }
            return
        # Under xdist the workers ran the tests: the controller's own recording holds none of them.
        parts = [r for r in self.worker_recordings if r is not None] or ([recorded] if recorded else [])
        if not parts or self.context is None or not self.dryci.settings.publish:
            return
        try:
            merged = merge_recorded(parts)
        except Unrecordable as exc:
            self.unrecorded = str(exc)
            return
        self._save(merged)

    def merge_worker_output(self, output: dict[str, Any] | None) -> None:
        if not output:
            return
        self.worker_recordings.append(output.get("recorded"))
        self.reasons.update(output.get("reasons") or {})

    # -- after the run ---------------------------------------------------------------------

    def _save(self, recorded: Recorded) -> None:
        tests = recorded.tests
        tracker, index = self.dryci.tracker, self.dryci.index
        durations: dict[str, dict[str, float]] = {}  # path -> canonical id -> setup+call+teardown s
        passed: dict[str, dict[str, Any]] = {}
        ran: set[str] = set()  # a test that ran this run never keeps an older record
        for nodeid in tracker.node_ids():
            located = index.get(nodeid)
            if located is None:
                continue
            path, name = located
            canonical = f"{path}::{name}"
            if not (tracker.cached(nodeid) or nodeid in self.saved):
                ran.add(canonical)
            if tracker.passed(nodeid) and nodeid in tests:
                passed.setdefault(path, {})[canonical] = tests[nodeid]
                durations.setdefault(path, {})[canonical] = tracker.seconds(nodeid)
        assert self.context is not None and self.store is not None
        stored = self.store.get_many(self.context.key(path) for path in passed)
        saved: dict[str, PreciseManifest] = {}
        claimed = _claimed(self.dryci.analysis, self.dryci.plan)
        for path, fresh in sorted(passed.items()):
            closure = read_closure(self.dryci.base_dir, self.dryci.analysis, path, self._facts)
            if closure is None:
                continue  # a file changed during the run: no manifest rather than a wrong one
            shared = recorded.shared(path, closure.keys(), claimed)
            secret = self.context.secret(path)
            previous = stored.get(self.context.key(path))
            carried = self._carried(previous, secret, closure, ran)
            manifest = build_manifest(
                secret, self.context.salt, closure, shared, fresh, carried, previous, durations[path]
            )
            saved[self.context.key(path)] = manifest
        try:
            self.store.put_many(saved)  # one server call for the whole run
        except StoreUnavailable as exc:
            self.dryci.say(f"dryci: could not save a precise manifest: {exc.reason}")

    def _carried(
        self, old: PreciseManifest | None, secret: str, closure: dict[str, FileFact], ran: set[str]
    ) -> set[str]:
        """Test ids of the previous manifest still true now: tests it would skip that did not run."""
        assert self.context is not None
        if old is None:
            return set()
        everything, decisions = decide_ids(old, secret, self.context.salt, closure)
        if everything is not None:
            return set()
        excluded = {keyed(secret, "test", canonical) for canonical in ran}
        return {tid for tid, decision in decisions.items() if decision.skip and tid not in excluded}

    # -- report ----------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or self.context is None:
            return
        terminalreporter.write_line(
            f"dryci precise: {len(self.saved)} test(s) skipped beyond the dependency hash "
            f"(the code they ran did not change)"
        )
        if self.unrecorded:
            terminalreporter.write_line(f"dryci precise: nothing recorded this run: {self.unrecorded}")
        if self.dryci.settings.explain and self.reasons:
            terminalreporter.write_sep("-", "dryci precise explain")
            for nodeid in sorted(self.reasons):
                terminalreporter.write_line(f"{nodeid}: {self.reasons[nodeid]}")


def _claimed(analysis: Any, plan: Any) -> set[str]:
    """Every path in the closure of some analyzed test file of this run."""
    claimed: set[str] = set()
    for path in getattr(plan, "files", {}):
        try:
            claimed.update(analysis.closure(path))
        except KeyError:
            continue
    return claimed


def _skipped(item: Any) -> bool:
    return any(mark.name == "skip" for mark in item.iter_markers())


def _portable(dagger_config: Any) -> Any:
    """The config without its absolute base dir, so machines with other checkout paths agree."""
    import dataclasses

    return dataclasses.replace(dagger_config, base_dir=".")
