"""Benchmark of ``dryci replay`` on a repository's own history, beside pytest-testmon (issue 14).

    nice -n 10 .venv/bin/python bench/replay_bench.py REPO [--commits N] [--mutate K]
        [--out bench/results/replay.md] [--with PKG ...] [-- PYTEST ARGS]

REPO is a git repository (a bare mirror will do); it is cloned (``git clone --bare``, hardlinked)
into bench/.work/replay/ (gitignored) and neither tool touches the original. Also there: a throwaway
Python 3.12 venv per repository (``sys.monitoring``, so function level records cheaply) with pytest,
pytest-testmon, DryCI's dependencies, the packages given with ``--with`` and the project itself at
its HEAD without dependencies (for its metadata: click's tests read ``importlib.metadata``; the
code under test is the worktree's, first on PYTHONPATH). DryCI runs from a snapshot of this
checkout's src/ (PYTHONPATH + ``-p dryci.plugin.plugin``), as in precise_bench.py.

1. ``dryci replay --verify --mutate K --level file,function --json --plot`` over the last N
   first-parent commits;
2. ``bench/_testmon_replay.py``: pytest-testmon over the same commits, with the same mutants
   (``dryci.replay.mutants``), ``.testmondata`` carried from commit to commit;
3. a markdown table per tool and level: missed failures (real and mutants), the share of test files
   skipped on the median commit, CPU seconds against the plain suite; a per-commit table; an SVG
   chart of tests run per commit (all, file, function, testmon) next to the markdown file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from _networkx import sh, snapshot_source, tool_versions

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work" / "replay"
PACKAGES = ["pytest", "pytest-testmon", "PyYAML", "wcmatch", "httpx"]
PYTHON = ["env", "PYENV_VERSION=3.12.1", "python"]
# DryCI is not installed in the venv (no entry point): every pytest run loads it by module name.
# testmon is installed: the DryCI runs switch it off, as the testmon pass switches DryCI off.
DRYCI_PYTEST_ARGS = ["-p", "dryci.plugin.plugin", "-p", "no:testmon"]


def repo_name(repo: Path) -> str:
    """click for /work/.mirror/pallets+click/repo, click.git or click."""
    path = repo.resolve()
    name = path.parent.name if path.name in ("repo", ".git") else path.name
    return name.rsplit("+", 1)[-1].removesuffix(".git")


def clone(repo: Path, target: Path) -> str:
    """A fresh bare clone of ``repo``; returns its HEAD."""
    if target.exists():
        shutil.rmtree(target)
    sh("git", "clone", "--quiet", "--bare", repo, target)
    return subprocess.run(
        ["git", "-C", str(target), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def venv(folder: Path, clone_dir: Path, extra: list[str]) -> Path:
    """The benchmark's venv for this repository (made once; delete the folder to remake it)."""
    py = folder / "bin" / "python"
    if py.exists():
        return py
    sh(*PYTHON, "-m", "venv", folder)
    sh(py, "-m", "pip", "install", "--quiet", *PACKAGES, *extra)
    with tempfile.TemporaryDirectory(prefix="replay-bench-head-") as tmp:
        archive = Path(tmp) / "head.tar"
        sh("git", "-C", clone_dir, "archive", "--output", archive, "HEAD")
        with tarfile.open(archive) as tar:
            tar.extractall(Path(tmp) / "head", filter="data")
        sh(py, "-m", "pip", "install", "--quiet", "--no-deps", Path(tmp) / "head")
    return py


def run_logged(command: list[str], env: dict[str, str]) -> int:
    print("+", shlex.join(command), flush=True)
    return subprocess.run(command, env=env).returncode


def rows_of(data: dict[str, Any]) -> list[Any]:
    """The JSON rows back as LevelResult, for the chart."""
    from dryci.replay.engine import LevelResult

    names = {f.name for f in dataclasses.fields(LevelResult)}
    results = []
    for row in data["runs"]:
        kept = {k: v for k, v in row.items() if k in names}
        kept["missed"], kept["mutants_missed"] = tuple(kept["missed"]), tuple(kept["mutants_missed"])
        results.append(LevelResult(**kept))
    return results


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def tool_rows(replay: dict[str, Any], testmon: dict[str, Any]) -> list[str]:
    """The table per tool and level; each is set against the plain runs of its own pass."""
    out = [
        "| tool | level | commits | missed failures (real) | mutants caught by the suite | mutants missed "
        "| test files skipped, median commit | tests run | CPU run | CPU plain | CPU saved |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool, data, levels in (
        ("DryCI", replay, ("file", "function")),
        ("pytest-testmon", testmon, ("testmon",)),
    ):
        plain = data["levels"]["all"]
        for level in levels:
            s = data["levels"].get(level)
            if s is None:
                continue
            cpu, plain_cpu = s["cpu_seconds"], plain["cpu_seconds"]
            saved = (
                f"{plain_cpu - cpu:.1f} s ({_pct(plain_cpu - cpu, plain_cpu)})" if cpu and plain_cpu else "-"
            )
            median = s["median_files_skipped"]
            out.append(
                f"| {tool} | {level if tool == 'DryCI' else '-'} | {s['commits']} | {s['missed_failures']} "
                f"| {s['mutants']} | {s['mutants_missed']} | {'-' if median is None else f'{median:.0%}'} "
                f"| {s['tests_run']:,} of {s['tests_total']:,} | {cpu:.1f} s | {plain_cpu:.1f} s | {saved} |"
            )
    return out


def commit_rows(replay: dict[str, Any], testmon: dict[str, Any]) -> list[str]:
    by: dict[tuple[str, str], dict[str, Any]] = {}
    for data in (replay, testmon):
        for row in data["runs"]:
            by.setdefault((row["commit"], row["level"]), row)
    commits = list(dict.fromkeys(row["commit"] for row in replay["runs"]))
    out = [
        "| commit | subject | tests | files | file level: tests / files run "
        "| function level: tests / files run "
        "| testmon: tests / files run | mutants caught |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for sha in commits:
        plain = by[sha, "all"]

        def cell(level: str, _sha: str = sha) -> str:
            row = by.get((_sha, level))
            return "-" if row is None else f"{row['tests_run']} / {row['files_run']}"

        subject = plain["subject"][:48].replace("|", "\\|")
        merge = " (merge)" if plain["merge"] else ""
        out.append(
            f"| `{sha[:10]}`{merge} | {subject} | {plain['tests_total']} | {plain['files_total']} "
            f"| {cell('file')} | {cell('function')} | {cell('testmon')} | {plain['mutants']} |"
        )
    return out


def misses(replay: dict[str, Any], testmon: dict[str, Any]) -> list[str]:
    out = []
    for data in (replay, testmon):
        for row in data["runs"]:
            for test in row["missed"]:
                out.append(
                    f"- {row['level']} `{row['commit'][:10]}`: `{test}` failed in the plain run, not run"
                )
            for miss in row["mutants_missed"]:
                out.append(f"- {row['level']} `{row['commit'][:10]}`: mutant `{miss}` not selected")
    return out or ["None."]


def main(argv: list[str]) -> int:
    own, pytest_args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path, help="the git repository (a bare mirror will do)")
    parser.add_argument(
        "--commits", type=int, default=20, metavar="N", help="the last N first-parent commits"
    )
    parser.add_argument("--mutate", type=int, default=3, metavar="K", help="mutants per commit (default 3)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "replay.md")
    parser.add_argument("--with", dest="extra", action="append", default=[], metavar="PKG",
                        help="another package the repository's tests need (repeatable)")  # fmt: skip
    parser.add_argument("--timeout", type=int, default=1800, help="seconds one pytest run may take")
    parser.add_argument(
        "--passes",
        default="replay,testmon",
        help="the passes to run (comma-separated, may be empty); a pass left out is read from the JSON an"
        " earlier run left in bench/.work/replay/NAME/. A testmon pass run alone works in a folder of its"
        " own, so it can run beside a replay pass of the same repository",
    )
    args = parser.parse_args(own)
    passes = {p for p in args.passes.split(",") if p}
    name = repo_name(args.repo)
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    # A testmon pass beside a running replay pass must not re-clone or re-snapshot under it.
    alone = work / "testmon-pass" if passes == {"testmon"} else work
    alone.mkdir(parents=True, exist_ok=True)
    py = work / "venv" / "bin" / "python"
    head = clone(args.repo, alone / "clone.git") if passes else (work / "head").read_text().strip()
    if passes:
        py = venv(work / "venv", alone / "clone.git", args.extra)
        (alone / "head").write_text(head)
    replay_json, testmon_json = work / "replay.json", work / "testmon.json"
    if "replay" in passes:
        dryci_commit = snapshot_source(ROOT, work / "src", py)
        (work / "replay.commit").write_text(dryci_commit)
    else:
        dryci_commit = (work / "replay.commit").read_text().strip()
    if "testmon" in passes and alone is not work:
        snapshot_source(ROOT, alone / "src", py)  # the mutants module
    env = {**os.environ, "PYTHONPATH": str(alone / "src")}
    for key in [k for k in env if k.startswith("DRYCI_")]:
        del env[key]

    common = ["--commits", str(args.commits), "--mutate", str(args.mutate), "--timeout", str(args.timeout)]
    if "replay" in passes:
        code = run_logged(
            [str(py), "-m", "dryci.cli", "replay", "--repo", str(work / "clone.git"), *common, "--verify",
             "--level", "file,function", "--json", str(replay_json), "--plot", str(work / "replay.svg"),
             "--", *DRYCI_PYTEST_ARGS, *pytest_args],
            env,
        )  # fmt: skip
        if code not in (0, 1):  # 1: something was missed, which the table shows
            sys.exit(f"dryci replay failed (exit code {code}); see its message above")
    if "testmon" in passes:
        code = run_logged(
            [str(py), str(ROOT / "bench" / "_testmon_replay.py"), "--repo", str(alone / "clone.git"),
             *common, "--json", str(testmon_json), "--", *pytest_args],
            env,
        )  # fmt: skip
        if code != 0:
            sys.exit(f"the testmon pass failed (exit code {code}); see its message above")

    replay, testmon = json.loads(replay_json.read_text()), json.loads(testmon_json.read_text())
    from dryci.replay.chart import svg_chart

    chart = args.out.with_suffix(".svg")
    testmon_rows = [r for r in rows_of(testmon) if r.level == "testmon"]
    chart.write_text(svg_chart([*rows_of(replay), *testmon_rows], f"Tests run per commit: {name}"))
    pytest_version, testmon_version = tool_versions(py)
    python = subprocess.run([str(py), "-V"], capture_output=True, text=True).stdout.strip()
    shown = [a for a in argv]
    command = shlex.join(["nice", "-n", "10", ".venv/bin/python", "bench/replay_bench.py", *shown])
    out = [
        f"# Benchmark: `dryci replay` beside pytest-testmon on {name}",
        "",
        f"Produced by `{command}`.",
        f"{name} at `{head[:10]}` (its last {args.commits} first-parent commits, oldest first, each after a",
        f"warm-up run at the parent of the first). DryCI at commit {dryci_commit}.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs; the tests run on",
        f"{python}, pytest {pytest_version}, pytest-testmon {testmon_version}.",
        "",
        "DryCI: `dryci replay --verify --mutate "
        f"{args.mutate} --level file,function`. testmon: `--testmon --testmon-forceselect` per commit,",
        "`.testmondata` carried from commit to commit, the same mutants with `--testmon-nocollect`.",
        "A missed failure (real) is a test that failed in the plain run of the commit and did not run;",
        "a mutant is a function the commit changed made to raise (up to K per commit), counted when the",
        "plain suite catches it, missed when a failing test was not selected. CPU: the pytest processes'",
        "user + system seconds over all commits (mutant runs not included), against the plain suite",
        "run in the same pass. A test file counts as skipped when none of its tests ran.",
        "",
        *tool_rows(replay, testmon),
        "",
        "## Per commit",
        "",
        *commit_rows(replay, testmon),
        "",
        "## Missed",
        "",
        *misses(replay, testmon),
        "",
        f"Chart: `{chart.relative_to(ROOT) if chart.is_relative_to(ROOT) else chart}`.",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out) + "\n")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
