"""Benchmark of ``pytest --dryci-level=function`` on networkx, beside pytest-testmon, in one run.

    .venv/bin/python bench/precise_bench.py [--edits N]     # writes bench/results/precise.md
    .venv/bin/python bench/precise_bench.py --project click  # click 8.1.7: bench/results/click.md

Everything lives under bench/.work/precise/ (gitignored): the networkx sdist (reused from
bench/.work/plugin/dl or ``pip download --no-deps --no-binary :all: networkx``), a throwaway Python
3.12 venv (``sys.monitoring``) with pytest, pytest-testmon, numpy and scipy, and one copy of the source
tree per tool. DryCI runs from this checkout's src/ (PYTHONPATH + ``-p dryci.plugin.plugin``).

1. Overhead: plain pytest and ``--dryci-level=function`` (recording), alternating ``--repeats`` times
   on cold caches (the lowest CPU of each counts), ``--dryci-level=file`` (analysis, no recording) and
   ``--testmon`` on an empty database. CPU seconds of the pytest process.
2. Per scripted one-function edit (20 by default, spread over the package):
   - soundness: the function made to *break* (``raise`` as its first statement). A plain full run lists
     the failing tests (the ground truth, computed once and kept under truth/; ``--truth-only`` computes
     just that); every one must be among the tests function level re-ran after the same break. Then the
     break is reverted and function level re-runs to get back to a green state;
   - selectivity: a benign statement added at the top of the body, applied to both trees; how many tests
     each tool re-ran, and which ones function level re-ran beyond testmon.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import _click
import _networkx
from _networkx import fresh_copy, tool_versions

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work" / "precise"
RESULTS = ROOT / "bench" / "results" / "precise.md"
VENV = WORK / "venv"
PY = VENV / "bin" / "python"
SOURCE = ROOT / "src"  # what the runs import DryCI from: a snapshot once the benchmark starts

# (module, function): spread over the package; each is exercised by some tests.
TARGETS = [
    ("networkx/algorithms/shortest_paths/weighted.py", "single_source_dijkstra"),
    ("networkx/algorithms/cluster.py", "triangles"),
    ("networkx/generators/classic.py", "star_graph"),
    ("networkx/algorithms/components/connected.py", "number_connected_components"),
    ("networkx/algorithms/dag.py", "topological_generations"),
    ("networkx/algorithms/centrality/degree_alg.py", "degree_centrality"),
    ("networkx/algorithms/isomorphism/isomorph.py", "could_be_isomorphic"),
    ("networkx/generators/random_graphs.py", "gnp_random_graph"),
    ("networkx/algorithms/traversal/breadth_first_search.py", "bfs_edges"),
    ("networkx/algorithms/matching.py", "max_weight_matching"),
    ("networkx/algorithms/flow/maxflow.py", "maximum_flow"),
    ("networkx/algorithms/link_analysis/pagerank_alg.py", "pagerank"),
    ("networkx/readwrite/gml.py", "generate_gml"),
    ("networkx/algorithms/tree/mst.py", "minimum_spanning_tree"),
    ("networkx/algorithms/coloring/greedy_coloring.py", "greedy_color"),
    ("networkx/algorithms/cycles.py", "simple_cycles"),
    ("networkx/classes/function.py", "density"),
    ("networkx/algorithms/bipartite/basic.py", "is_bipartite"),
    ("networkx/linalg/laplacianmatrix.py", "laplacian_matrix"),
    ("networkx/relabel.py", "relabel_nodes"),
]


@dataclass(frozen=True)
class Project:
    name: str
    targets: list[tuple[str, str]]
    prepare: Callable[[], Path]
    tests: tuple[str, ...]  # what pytest is given to run
    pythonpath: tuple[str, ...] = ()  # tree-relative folders put on PYTHONPATH


PROJECT = Project("networkx 3.6.1", TARGETS, lambda: prepare_networkx(), ("networkx",))


def use_click() -> None:
    """Point the benchmark at click 8.1.7: its own work folder, venv, results file and targets."""
    global WORK, RESULTS, VENV, PY, PROJECT
    WORK = ROOT / "bench" / ".work" / "click"
    RESULTS = ROOT / "bench" / "results" / "click.md"
    VENV = WORK / "venv"
    PY = VENV / "bin" / "python"
    python = ["env", "PYENV_VERSION=3.12.1", "python"]
    PROJECT = Project(
        "click 8.1.7", _click.TARGETS, lambda: _click.prepare(WORK, VENV, python), ("tests",), ("src",)
    )


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float
    summary: str
    ran: frozenset[str]  # node ids that passed, failed or errored
    failed: frozenset[str]
    extra: str  # the dryci / dryci precise lines


def prepare_networkx() -> Path:
    packages = ["pytest", "pytest-testmon", "pytest-xdist", "numpy", "scipy", "PyYAML", "wcmatch", "httpx"]
    python = ["env", "PYENV_VERSION=3.12.1", "python"]
    plugin_dl = ROOT / "bench" / ".work" / "plugin" / "dl"
    return _networkx.prepare(WORK, "precise_bench.py", VENV, python, packages, plugin_dl, WORK / "dl")


def snapshot_source(name: str) -> str:
    """Copy this checkout's src/ aside, so editing it while the benchmark runs changes nothing here."""
    global SOURCE
    SOURCE = WORK / name
    return _networkx.snapshot_source(ROOT, SOURCE, PY)


def run(tree: Path, *args: str) -> Run:
    path = [str(SOURCE), *(str(tree / extra) for extra in PROJECT.pythonpath)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DRYCI_SERVER", None)
    command = [str(PY), "-m", "pytest", "-q", "-rA", "-p", "no:randomly", *args, *PROJECT.tests]
    print("+", " ".join(command[2:]), f"(in {tree.name})", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = proc.stdout.splitlines()
    ran, failed = set(), set()
    for line in lines:
        # "ERROR path.py - ..." is a collection error: it counts as that file failing (and running).
        match = re.match(r"^(PASSED|FAILED|ERROR) (\S+::\S+|\S+\.py)(?: |$)", line)
        if match:
            ran.add(match.group(2))
            if match.group(1) != "PASSED":
                failed.add(match.group(2))
    summary = next((line.strip("= ") for line in reversed(lines) if re.search(r" in [\d.]+s", line)), "?")
    extra = " / ".join(line for line in lines if line.startswith(("dryci: ", "dryci precise: ")))
    fallback = next((line for line in lines if line.endswith("(running all tests)")), None)
    if fallback is not None:
        sys.exit(f"DryCI could not work, so the figures would mean nothing: {fallback}")
    if proc.returncode not in (0, 1, 5):
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
    print(f"  {seconds:.1f} s wall, {cpu:.1f} s CPU  {summary}  {extra}", flush=True)
    return Run(seconds, cpu, summary, frozenset(ran), frozenset(failed), extra)


def insert_first(tree: Path, module: str, function: str, statement: str) -> str:
    """Insert ``statement`` as the first statement of ``function``'s body; returns the old text."""
    path = tree / module
    text = path.read_text()
    node = next(
        n
        for n in ast.walk(ast.parse(text))
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == function
    )
    body = node.body
    first = (
        body[1]
        if len(body) > 1
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
        else body[0]
    )
    lines = text.splitlines(keepends=True)
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, f"{indent}{statement}\n")
    path.write_text("".join(lines))
    return text


BREAK = 'raise RuntimeError("broken by precise_bench")'
MARKER = "_precise_bench_marker = None"
# Collection errors must not stop a run: a broken function called while collecting would hide the rest.
KEEP_GOING = "--continue-on-collection-errors"


def truth(pristine: Path, module: str, function: str, fresh: bool) -> frozenset[str]:
    """Tests (or test files, for collection errors) failing in a plain full run with the function broken.

    Plain pytest knows nothing of either tool, so this ground truth is computed once per edit and kept
    in bench/.work/precise/truth/ (``--fresh-truth`` recomputes it); it runs under xdist to save time.
    """
    cache = WORK / "truth" / f"{pristine.name}-{module.replace('/', '.')}-{function}.json"
    if cache.exists() and not fresh:
        return frozenset(json.loads(cache.read_text())["failed"])
    tree = fresh_copy(pristine, "tree-truth")
    insert_first(tree, module, function, BREAK)
    full = run(tree, "-p", "no:cacheprovider", "-p", "no:testmon", "-n", "2", KEEP_GOING)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"failed": sorted(full.failed), "summary": full.summary}, indent=1))
    return full.failed


@dataclass(frozen=True)
class EditRow:
    label: str
    failing: frozenset[str]  # in a plain full run with the function broken
    broken: Run  # function level after the same break
    edit: Run  # function level after the benign edit
    testmon: Run  # testmon after the benign edit

    @property
    def missed(self) -> list[str]:
        return sorted(self.failing - self.broken.ran)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--edits", type=int, default=len(TARGETS), help=f"how many edits (default {len(TARGETS)})"
    )
    parser.add_argument(
        "--project", choices=["networkx", "click"], default="networkx", help="networkx 3.6.1 or click 8.1.7"
    )
    parser.add_argument("--truth-only", action="store_true", help="only compute the ground-truth full runs")
    parser.add_argument("--fresh-truth", action="store_true", help="recompute the ground truth")
    parser.add_argument(
        "--overhead-only",
        action="store_true",
        help="only the alternating plain/precise runs; print, write nothing",
    )
    parser.add_argument("--repeats", type=int, default=2, help="cold plain/precise runs each (default 2)")
    args = parser.parse_args(argv)
    if args.project == "click":
        use_click()
    edits = PROJECT.targets[: args.edits]
    pristine = PROJECT.prepare()
    failing = {} if args.overhead_only else {t: truth(pristine, *t, args.fresh_truth) for t in edits}
    if args.truth_only:
        return 0
    commit = snapshot_source("src-overhead" if args.overhead_only else "src")

    # Overhead: cold caches each time; plain and precise alternate, and the lowest CPU of each counts
    # (on a shared machine, interference only ever adds).
    precise_args = (
        "-p",
        "no:testmon",
        "-p",
        "dryci.plugin.plugin",
        "--dryci-level=function",
        "--dryci-explain",
    )
    plains, precises = [], []
    for _ in range(args.repeats):
        tag = "-overhead" if args.overhead_only else ""  # may run beside a full benchmark
        plain_tree = fresh_copy(pristine, f"tree-plain{tag}")
        plains.append(run(plain_tree, "-p", "no:cacheprovider", "-p", "no:testmon"))
        precise_tree = fresh_copy(pristine, f"tree-precise{tag}")  # the last one goes on to the edits
        precises.append(run(precise_tree, *precise_args))
    plain = min(plains, key=lambda r: r.cpu)
    precise = min(precises, key=lambda r: r.cpu)
    if args.overhead_only:
        print(
            f"DryCI at {commit}: plain {plain.cpu:.1f} s, precise {precise.cpu:.1f} s CPU",
            f"({pct(precise.cpu, plain.cpu)}); all: {[round(r.cpu, 1) for r in plains + precises]}",
        )
        return 0
    dryci = run(
        fresh_copy(pristine, "tree-dryci"),
        "-p",
        "no:testmon",
        "-p",
        "dryci.plugin.plugin",
        "--dryci-level=file",
    )
    testmon_tree = fresh_copy(pristine, "tree-testmon")
    testmon = run(testmon_tree, "--testmon")
    # Nothing changed since the cold runs: both tools' fully cached rerun.
    cached = run(precise_tree, *precise_args)
    t_cached = run(testmon_tree, "--testmon")

    rows = []
    for module, function in edits:
        # Soundness: break it; every test failing in the plain full run must be among those re-run.
        original = insert_first(precise_tree, module, function, BREAK)
        broken = run(precise_tree, *precise_args, KEEP_GOING)
        (precise_tree / module).write_text(original)
        run(precise_tree, *precise_args)  # back to green
        # Selectivity: the benign edit in both trees (kept: the next edit builds on it).
        insert_first(precise_tree, module, function, MARKER)
        insert_first(testmon_tree, module, function, MARKER)
        edit = run(precise_tree, *precise_args)
        t_edit = run(testmon_tree, "--testmon")
        rows.append(EditRow(f"`{module}` `{function}`", failing[(module, function)], broken, edit, t_edit))

    write_results(plain, dryci, precise, testmon, (cached, t_cached), rows, plains + precises, commit)
    return 0


def pct(value: float, base: float) -> str:
    return f"{(value / base - 1) * 100:+.0f}%"


def write_results(
    plain: Run,
    dryci: Run,
    precise: Run,
    testmon: Run,
    reruns: tuple[Run, Run],
    rows: list[EditRow],
    repeats: list[Run],
    commit: str,
) -> None:
    pytest_version, testmon_version = tool_versions(PY)
    name = PROJECT.name

    def row(label: str, r: Run) -> str:
        return f"| {label} | {r.cpu:.1f} s | {pct(r.cpu, plain.cpu)} | {r.seconds:.1f} s | {r.summary} |"

    out = [
        f"# Benchmark: `pytest --dryci-level=function` vs pytest-testmon on {name}",
        "",
        f"Produced by `.venv/bin/python bench/precise_bench.py --project {name.split()[0]}",
        f"--edits {len(rows)}` (one run, both tools side by side; {len(rows)} scripted one-function",
        f"edits). DryCI at commit {commit}.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs; the tests run on",
        f"Python 3.12 (`sys.monitoring`), pytest {pytest_version}, pytest-testmon {testmon_version}.",
        "",
        "## Recording overhead (cold caches)",
        "",
        "| run | CPU | vs plain | wall | pytest summary |",
        "|---|---:|---:|---:|---|",
        f"| plain pytest | {plain.cpu:.1f} s | | {plain.seconds:.1f} s | {plain.summary} |",
        row("`--dryci-level=file` (analysis, no recording)", dryci),
        row("`--dryci-level=function` (recording)", precise),
        row("`--testmon` (coverage)", testmon),
        "",
        f"Recording alone: `--dryci-level=function` vs `--dryci-level=file`: "
        f"{pct(precise.cpu, dryci.cpu)} CPU.",
        f"Plain and precise ran {len(repeats) // 2} times each, alternating, on cold caches;",
        "the table shows each one's lowest CPU. All: " + ", ".join(f"{r.cpu:.1f} s" for r in repeats) + ".",
        "",
        "## Fully cached rerun (nothing changed)",
        "",
        "| tool | CPU | wall | pytest summary | DryCI line |",
        "|---|---:|---:|---|---|",
        f"| DryCI function level | {reruns[0].cpu:.1f} s | {reruns[0].seconds:.1f} s | {reruns[0].summary} "
        f"| {reruns[0].extra} |",
        f"| testmon | {reruns[1].cpu:.1f} s | {reruns[1].seconds:.1f} s | {reruns[1].summary} | |",
        "",
        f"DryCI / testmon: {reruns[0].cpu / reruns[1].cpu:.2f}x CPU.",
        "",
        "## Scripted one-function edits",
        "",
        "Soundness: the function made to raise; `failing` = tests failing in a plain full run,",
        "`function re-ran` = tests function level ran after the same edit; a false skip is a failing test",
        "function level skipped. Selectivity: a statement added at the top of the function body, in both",
        "trees; tests re-run.",
        "",
        "| function | failing (full run) | function re-ran (broken) | false skips "
        "| function re-ran (edit) | testmon re-ran (edit) | vs testmon | function CPU | testmon CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        more = len(r.edit.ran - r.testmon.ran)
        fewer = len(r.testmon.ran - r.edit.ran)
        out.append(
            f"| {r.label} | {len(r.failing)} | {len(r.broken.ran)} | {len(r.missed)} | {len(r.edit.ran)} "
            f"| {len(r.testmon.ran)} | +{more} / -{fewer} | {r.edit.cpu:.1f} s | {r.testmon.cpu:.1f} s |"
        )
    ratios = sorted(r.edit.cpu / r.testmon.cpu for r in rows)
    median = statistics.median(ratios)
    total_missed = sum(len(r.missed) for r in rows)
    not_more = sum(len(r.edit.ran) <= len(r.testmon.ran) for r in rows)
    out += [
        "",
        f"False skips in total: {total_missed}. Function level re-ran no more tests than testmon in "
        f"{not_more} of {len(rows)} edits; in total {sum(len(r.edit.ran) for r in rows)} tests against "
        f"testmon's {sum(len(r.testmon.ran) for r in rows)}. CPU of the edit reruns, DryCI / testmon: "
        f"median {median:.2f}x (from {ratios[0]:.2f}x to {ratios[-1]:.2f}x).",
    ]
    for r in rows:
        if r.missed:
            out.append(f"- false skips after {r.label}: " + ", ".join(f"`{m}`" for m in r.missed[:10]))
    out += ["", "Tests function level re-ran that testmon did not (at most 5 per edit):", ""]
    for r in rows:
        extra = sorted(r.edit.ran - r.testmon.ran)
        if extra:
            out.append(f"- {r.label}: " + ", ".join(f"`{m}`" for m in extra[:5]))
    out += ["", "Summaries of the edit runs:", ""]
    for r in rows:
        out.append(
            f"- {r.label}: function level `{r.edit.summary}` ({r.edit.extra}); testmon `{r.testmon.summary}`"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(out) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    sys.exit(main())
