"""One pytest run in the scratch worktree, and what it did, read from JUnit XML and DryCI's summary.

Per-test outcomes come from ``--junitxml`` (``junit_family=xunit1``, which names each test's file).
What only the plugin knows (tests cached in files it never collected, the time a skip saved) comes
from its summary line ``dryci: C of T tests cached, ~S saved; R ran``: the plugin writes nothing
machine-readable for it, and replay must not change the plugin's session for it.

Imports: the worktree's own code must be tested, not an editable install of the user's checkout.
pytest runs with the worktree as its working directory and with the worktree (and its ``src``
folder, when there is one) first on ``PYTHONPATH``; an editable install's finder comes after
``PYTHONPATH`` on ``sys.path``, so the worktree's packages win.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dryci.replay.history import ReplayError
from dryci.selection.decision import SKIP_REASONS

try:
    import resource
except ImportError:  # Windows: CPU time is then the wall time
    resource = None  # type: ignore[assignment]

__all__ = ["Outcome", "PytestRun", "Summary", "parse_junit", "parse_summary", "run_pytest"]

_CACHED_REASONS = frozenset(SKIP_REASONS.values())


@dataclass(frozen=True)
class Outcome:
    file: str
    outcome: str  # passed, failed, skipped, cached (skipped by DryCI)


@dataclass(frozen=True)
class Summary:
    """The numbers of the plugin's summary line."""

    cached: int
    total: int
    seconds_saved: float
    ran: int


@dataclass(frozen=True)
class PytestRun:
    outcomes: Mapping[str, Outcome]  # test id -> outcome, for every test pytest collected
    summary: Summary | None  # None without --dryci, or when DryCI was off for the run
    exit_code: int
    wall_seconds: float
    cpu_seconds: float
    output: str = field(repr=False, default="")

    def ids(self, *outcomes: str) -> set[str]:
        return {test for test, o in self.outcomes.items() if o.outcome in outcomes}

    @property
    def executed(self) -> set[str]:
        """Tests that ran (were collected and not skipped by DryCI)."""
        return {test for test, o in self.outcomes.items() if o.outcome != "cached"}

    @property
    def failed(self) -> set[str]:
        return self.ids("failed")

    def files(self, *outcomes: str) -> set[str]:
        return {o.file for o in self.outcomes.values() if not outcomes or o.outcome in outcomes}


def _test_id(case: ET.Element) -> tuple[str, str]:
    """``(file, "file::Class::name")`` of a xunit1 testcase."""
    file = case.get("file") or ""
    classname, name = case.get("classname") or "", case.get("name") or ""
    module = file[:-3].replace("/", ".") if file.endswith(".py") else ""
    classes = classname[len(module) + 1 :] if module and classname.startswith(module + ".") else ""
    parts = [file or classname, *([classes.replace(".", "::")] if classes else []), name]
    return file or classname, "::".join(parts)


def parse_junit(path: Path) -> dict[str, Outcome]:
    """Test id -> outcome; a missing or broken file (pytest crashed before writing it) is no tests."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return {}
    outcomes: dict[str, Outcome] = {}
    for case in root.iter("testcase"):
        file, test = _test_id(case)
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif (skipped := case.find("skipped")) is not None:
            outcome = "cached" if (skipped.get("message") or "") in _CACHED_REASONS else "skipped"
        else:
            outcome = "passed"
        if outcomes.get(test, Outcome(file, "")).outcome != "failed":  # an error in teardown adds a case
            outcomes[test] = Outcome(file, outcome)
    return outcomes


_SUMMARY = re.compile(
    r"^dryci: ([\d,]+) of ([\d,]+) tests? cached.*?, ~([\dhms. ]+) saved; ([\d,]+) ran", re.MULTILINE
)
_DURATION = re.compile(r"([\d.]+)([hms])")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_summary(output: str) -> Summary | None:
    """The plugin's ``dryci: C of T tests cached ...`` line, or None when the run printed none."""
    match = _SUMMARY.search(output)
    if match is None:
        return None
    cached, total, saved, ran = match.groups()
    # The plugin's coarse format: ~4.2s, ~42s, ~6m 12s, ~1h 05m.
    seconds = sum(float(n) * _UNIT[unit] for n, unit in _DURATION.findall(saved))
    return Summary(
        int(cached.replace(",", "")), int(total.replace(",", "")), seconds, int(ran.replace(",", ""))
    )


def import_path(worktree: Path, env: Mapping[str, str]) -> str:
    """``PYTHONPATH`` that puts the worktree's code before any installed copy of the project."""
    first = [str(worktree / "src")] if (worktree / "src").is_dir() else []
    rest = [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
    return os.pathsep.join([*first, str(worktree), *rest])


def child_env(worktree: Path, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment of every run: no DryCI server (a replay must never publish to a real one) and
    the worktree first on the import path."""
    clean = {k: v for k, v in env.items() if not (k.startswith("DRYCI_") and k != "DRYCI_SALT")}
    clean["PYTHONPATH"] = import_path(worktree, env)
    return clean


def _children_cpu() -> float:
    if resource is None:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pytest(
    worktree: Path, args: Sequence[str], junit: Path, env: Mapping[str, str], timeout: float | None = None
) -> PytestRun:
    """``python -m pytest ARGS`` in ``worktree``; what it did. Test failures are results, not errors."""
    junit.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        *args,
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
        "-p",
        "no:randomly",  # the same order in every run, so runs compare
    ]
    cpu, start = _children_cpu(), time.perf_counter()
    try:
        result = subprocess.run(
            command, cwd=worktree, env=dict(env), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise ReplayError(f"pytest took longer than {timeout:.0f}s in {worktree}: {' '.join(args)}") from exc
    wall = time.perf_counter() - start
    cpu_used = _children_cpu() - cpu if resource is not None else wall
    output = result.stdout + result.stderr
    return PytestRun(parse_junit(junit), parse_summary(output), result.returncode, wall, cpu_used, output)
