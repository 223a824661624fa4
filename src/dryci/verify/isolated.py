"""``--dryci-verify-isolated``: each test file in a fresh interpreter, several at a time.

A fresh process has an empty ``sys.modules``, so every module a test file needs is imported (and seen)
in its own window: nothing an earlier test file loaded can hide a dependency. The parent collected the
session; each child runs exactly the selected items of one file and writes its recording to a JSON
file, which the parent merges.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dryci.exceptions import ProtocolError
from dryci.verify.usage import Use, from_json

if TYPE_CHECKING:
    from dryci.verify.session import VerifyOptions


@dataclass(frozen=True)
class IsolatedResult:
    usages: tuple[Mapping[str, frozenset[Use]], ...]
    reports: tuple[dict[str, Any], ...]  # serialized TestReports of every child, in file order
    crashed_files: int  # children that left no recording (crash, usage error)
    lines: list[str]


@dataclass(frozen=True)
class _Child:
    path: Path
    returncode: int
    output: str
    usage: Mapping[str, frozenset[Use]]
    reports: tuple[dict[str, Any], ...] = ()
    error: str = ""


def _group(items: list[pytest.Item]) -> dict[Path, list[str]]:
    files: dict[Path, list[str]] = {}
    for item in items:
        files.setdefault(item.path, []).append(item.nodeid)
    return files


def _command(config: pytest.Config, targets: list[str], record: Path, dagger_config: Path) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--rootdir={config.rootpath}",
        f"--dryci-verify-config={dagger_config}",
        f"--dryci-verify-record={record}",
    ]
    if config.inipath is not None:
        command += ["-c", str(config.inipath)]
    if config.pluginmanager.hasplugin("xdist"):
        command += ["-p", "no:xdist"]
    if config.getoption("dryci_verify_no_trace"):
        command.append("--dryci-verify-no-trace")
    return [*command, *targets]


def _run_one(
    config: pytest.Config,
    path: Path,
    nodeids: list[str],
    all_selected: bool,
    workdir: Path,
    index: int,
    dagger_config: Path,
) -> _Child:
    record = workdir / f"{index}.json"
    rootdir = config.rootpath
    # Node ids are relative to the rootdir; run from there so they resolve the same way.
    targets = [str(path)] if all_selected else nodeids
    command = _command(config, targets, record, dagger_config)
    proc = subprocess.run(command, cwd=rootdir, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        usage = from_json(data)
        reports = data.get("reports")
        if not isinstance(reports, list):
            raise ProtocolError("expected a list of test reports", field="reports")
    except (OSError, ValueError, ProtocolError) as exc:
        return _Child(path, proc.returncode, output, {}, error=f"no recording ({exc})")
    return _Child(path, proc.returncode, output, usage, tuple(reports))


def run_isolated(session: pytest.Session, options: VerifyOptions, dagger_config: Path) -> IsolatedResult:
    config = session.config
    files = _group(list(session.items))
    with (
        tempfile.TemporaryDirectory(prefix="dryci-verify-") as tmp,
        ThreadPoolExecutor(max_workers=options.jobs) as pool,
    ):
        futures = [
            pool.submit(
                _run_one, config, path, nodeids, _whole_file(session, path), Path(tmp), index, dagger_config
            )
            for index, (path, nodeids) in enumerate(sorted(files.items()))
        ]
        children = [f.result() for f in futures]
    lines = [f"dryci verify: ran {len(children)} test files in fresh processes, {options.jobs} at a time"]
    crashed = 0
    for child in children:
        if not child.error:
            continue
        crashed += 1
        lines.append(f"dryci verify: {child.path} left no recording (exit {child.returncode}): {child.error}")
        lines += ["    " + line for line in child.output.strip().splitlines()[-15:]]
    reports = tuple(r for c in children for r in c.reports)
    return IsolatedResult(tuple(c.usage for c in children), reports, crashed, lines)


def _whole_file(session: pytest.Session, path: Path) -> bool:
    """True when no test of ``path`` was deselected, so the child may simply run the file."""
    deselected = session.config.stash.get(_DESELECTED, {})
    return deselected.get(path, 0) == 0


_DESELECTED = pytest.StashKey[dict[Path, int]]()


def record_deselected(config: pytest.Config, items: list[pytest.Item]) -> None:
    counts = config.stash.setdefault(_DESELECTED, {})
    for item in items:
        counts[item.path] = counts.get(item.path, 0) + 1
