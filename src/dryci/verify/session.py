"""The per-run verifier: opens a recording window per test file, merges, compares, reports.

Roles: a plain run records and reports; an xdist worker records and hands its usage to the controller
through ``workeroutput``; the xdist controller merges and reports; an isolated-mode parent runs each test
file in a child process (``dryci.verify.isolated``) and merges their recordings.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dryci.exceptions import DryciError
from dryci.verify.compare import Verdict, compare
from dryci.verify.environment import EnvironmentFinding, EnvironmentRecorder, environment_findings
from dryci.verify.modules import reachable_modules
from dryci.verify.paths import IGNORED_PARTS
from dryci.verify.recorder import Recorder
from dryci.verify.usage import Use, from_json, merge, to_json

WORKER_KEY = "dryci_verify_usage"


@dataclass(frozen=True)
class VerifyOptions:
    strict: bool
    json_path: Path | None
    isolated: bool
    jobs: int
    config_path: Path | None
    record_path: Path | None
    trace: bool = True

    @classmethod
    def from_config(cls, config: pytest.Config) -> VerifyOptions:
        jobs_raw = config.getoption("dryci_verify_jobs")
        jobs = os.cpu_count() or 1
        if jobs_raw is not None:
            try:
                jobs = int(jobs_raw)
            except ValueError:
                jobs = 0
            if jobs < 1:
                raise pytest.UsageError(f"--dryci-verify-jobs: expected a positive integer, got {jobs_raw!r}")
        invocation = config.invocation_params.dir

        def path(option: str) -> Path | None:
            value = config.getoption(option)
            return None if not value else invocation / str(value)

        return cls(
            strict=bool(config.getoption("dryci_verify_strict")),
            json_path=path("dryci_verify_json"),
            isolated=bool(config.getoption("dryci_verify_isolated")),
            jobs=jobs,
            config_path=path("dryci_verify_config"),
            record_path=path("dryci_verify_record"),
            trace=not config.getoption("dryci_verify_no_trace"),
        )


def _load_dagger_config(config: pytest.Config, explicit: Path | None) -> Any:
    from dryci.dagger import find_config, load_config

    path = explicit or find_config(config.rootpath)
    if path is None:
        raise pytest.UsageError(
            f"--dryci-verify: no repo_dagger.yaml, repo_dagger.toml or [tool.repo_dagger] found in "
            f"{config.rootpath}; pass --dryci-verify-config PATH"
        )
    if not path.is_file():
        raise pytest.UsageError(f"--dryci-verify-config: {path} does not exist")
    try:
        return load_config(path)
    except DryciError as exc:
        raise pytest.UsageError(f"--dryci-verify: {exc}") from None


class VerifySession:
    def __init__(self, config: pytest.Config, options: VerifyOptions, dagger_config: Any) -> None:
        self.config = config
        self.options = options
        self.dagger_config = dagger_config
        self.base_dir = Path(dagger_config.base_dir)
        self.is_worker = hasattr(config, "workerinput")
        self.is_controller = not self.is_worker and config.getoption("dist", default="no") not in ("no", None)
        self.recorder = Recorder(self.base_dir, trace_execution=options.trace)
        self.environment = EnvironmentRecorder(str(self.base_dir))
        self.environment_findings: list[EnvironmentFinding] = []
        self.parts: list[Mapping[str, frozenset[Use]]] = []
        self.verdict: Verdict | None = None
        self.error: str | None = None
        self.isolated_lines: list[str] = []
        self.reports: list[dict[str, Any]] = []  # isolated-mode child: serialized test reports

    @classmethod
    def from_config(cls, config: pytest.Config) -> VerifySession:
        options = VerifyOptions.from_config(config)
        caching = _option(config, "dryci_enabled") or _ini(config, "dryci")
        if caching and not _option(config, "dryci_no_skip"):
            raise pytest.UsageError(
                "--dryci-verify runs every test: combine it with --dryci only together with --dryci-no-skip"
            )
        if options.isolated and config.getoption("dist", default="no") not in ("no", None):
            raise pytest.UsageError(
                "--dryci-verify-isolated starts its own processes: "
                "use --dryci-verify-jobs N instead of -n/--dist"
            )
        return cls(config, options, _load_dagger_config(config, options.config_path))

    @property
    def _records(self) -> bool:
        return not self.is_controller and not self.options.isolated

    def _test_file(self, path: Path) -> str | None:
        return self.recorder.paths.relative(str(path))

    # -- recording --------------------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self._records:
            self.recorder.activate()
            self.environment.install()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, None]:
        test_file = self._test_file(collector.path) if isinstance(collector, pytest.File) else None
        if test_file is None or not self._records:
            yield
            return
        with self.recorder.window(test_file), self.environment.window(test_file):
            outcome = yield
        report = outcome.get_result()
        if report.passed and isinstance(collector, pytest.Module):
            module = collector.obj
            self.recorder.add(test_file, reachable_modules(module, self.recorder.paths))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, None]:
        test_file = self._test_file(item.path)
        if test_file is None or not self._records:
            yield
            return
        with self.recorder.window(test_file), self.environment.window(test_file):
            yield
        self.recorder.add_fixture_uses(test_file, getattr(item, "fixturenames", ()))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Generator[None, Any, None]:
        if fixturedef.scope == "function" or not self._records:
            yield
            return
        # A shared fixture is set up once; every later test file that requests it depends on it too.
        with self.recorder.fixture(fixturedef.argname):
            yield

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        if self.options.isolated:
            from dryci.verify.isolated import record_deselected

            record_deselected(self.config, items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if not self.options.isolated or session.config.option.collectonly:
            return None
        from dryci.verify.isolated import run_isolated

        result = run_isolated(session, self.options, self.dagger_config.source)
        self.parts.extend(result.usages)
        self.isolated_lines = result.lines
        for data in result.reports:  # the children's test reports, replayed for the terminal and exit code
            report = self.config.hook.pytest_report_from_serializable(config=self.config, data=data)
            self.config.hook.pytest_runtest_logreport(report=report)
        session.testsfailed += result.crashed_files
        return True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.options.record_path is not None:
            hook = self.config.hook
            self.reports.append(hook.pytest_report_to_serializable(config=self.config, report=report))

    # -- judging ----------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.recorder.deactivate()
        self.environment.uninstall()
        own = self.recorder.snapshot()
        if self.is_worker:
            self.config.workeroutput[WORKER_KEY] = to_json(own)  # type: ignore[attr-defined]
            return
        if self.options.record_path is not None:
            record = {**to_json(own), "reports": self.reports}
            self.options.record_path.write_text(json.dumps(record), encoding="utf-8")
            return
        usage = expand(merge([own, *self.parts]), self.base_dir)
        try:
            analysis = _analysis(self.dagger_config)
            self.verdict = compare(usage, closures(analysis, usage))
            self.environment_findings = environment_findings(
                self.environment, analysis, tuple(self.dagger_config.hash_env)
            )
        except DryciError as exc:
            self.error = f"dryci verify: the dependency analysis failed: {exc}"
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            return
        if self.options.json_path is not None:
            from dryci.verify.report import dumps

            self.options.json_path.parent.mkdir(parents=True, exist_ok=True)
            self.options.json_path.write_text(dumps(self.verdict), encoding="utf-8")
        found = self.verdict.findings or self.environment_findings
        if self.options.strict and found and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from dryci.verify.report import text_lines

        if self.is_worker or self.options.record_path is not None:
            return
        for line in self.isolated_lines:
            terminalreporter.write_line(line)
        if self.error is not None:
            terminalreporter.write_line(self.error, red=True)
            return
        if self.verdict is None:
            return
        verbose = self.config.get_verbosity() > 0
        for line in text_lines(self.verdict, verbose=verbose):
            terminalreporter.write_line(line)
        from dryci.verify.environment import finding_lines

        for line in finding_lines(self.environment_findings):
            terminalreporter.write_line(line)
        if self.options.strict and (self.verdict.findings or self.environment_findings):
            terminalreporter.write_line("dryci verify: failing the run (--dryci-verify-strict)", red=True)


class XdistHooks:
    """Registered only when pytest-xdist is installed: the controller collects each worker's usage."""

    def __init__(self, session: VerifySession) -> None:
        self.session = session

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if data is not None:
            self.session.parts.append(from_json(data))


def _option(config: pytest.Config, name: str) -> Any:
    try:
        return config.getoption(name)
    except ValueError:
        return None


def _ini(config: pytest.Config, name: str) -> Any:
    try:
        return config.getini(name)
    except ValueError:
        return None


def expand(usage: Mapping[str, frozenset[Use]], base_dir: Path) -> dict[str, frozenset[Use]]:
    """Listings become one use per listed file; uses of files that no longer exist are dropped."""
    listed: dict[str, list[str]] = {}
    result: dict[str, frozenset[Use]] = {}

    @functools.cache  # test files share most of their uses: stat each path once
    def is_file(rel: str) -> bool:
        return (base_dir / rel).is_file()

    for test_file, uses in usage.items():
        kept: set[Use] = set()
        for use in uses:
            if use.kind != "lists":
                if is_file(use.path):
                    kept.add(use)
                    if use.kind in ("imports", "runs", "references"):
                        kept.update(_packages_of(is_file, use))
                continue
            if use.path not in listed:
                listed[use.path] = _files_in(base_dir, use.path)
            kept.update(Use(f, "lists", use.reader, use.path) for f in listed[use.path])
        result[test_file] = frozenset(kept)
    return result


def _packages_of(is_file: Callable[[str], bool], use: Use) -> set[Use]:
    """Using a module means its packages' ``__init__`` ran too, even when ``sys.modules`` had them."""
    found = set()
    folder = posixpath.dirname(use.path)
    name = use.via
    if posixpath.basename(use.path) == "__init__.py":
        folder = posixpath.dirname(folder)
    while folder and is_file(f"{folder}/__init__.py"):
        name = name.rpartition(".")[0] or None if name else None
        found.add(Use(f"{folder}/__init__.py", "imports", use.reader, name))
        folder = posixpath.dirname(folder)
    return found


def _files_in(base_dir: Path, folder: str) -> list[str]:
    directory = base_dir / folder
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return []
    prefix = "" if folder in ("", ".") else folder + "/"
    return [
        prefix + e.name
        for e in entries
        if e.is_file()
        and not e.name.startswith(".")
        and e.name not in IGNORED_PARTS
        and not e.name.endswith((".pyc", ".pyo"))
    ]


def _analysis(dagger_config: Any) -> Any:
    """The analysis with this process's environment, so each test file's distributions are known."""
    from dryci.dagger import analyze
    from dryci.dagger.environment import environment

    env = environment(dagger_config, os.environ.get("DRYCI_SALT", ""))
    return analyze(dagger_config, salt=env.salt, environment=env)


def closures(analysis: Any, usage: Mapping[str, frozenset[Use]]) -> dict[str, frozenset[str]]:
    """The closure of every recorded test file the analysis knows (the config's inputs)."""
    return {t: frozenset(analysis.closure(t)) for t in usage if t in analysis.hashes}
