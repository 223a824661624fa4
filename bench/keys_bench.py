"""Benchmark of per-distribution keys on networkx: how many test files one upgrade re-runs.

    python bench/keys_bench.py NETWORKX_CHECKOUT [--work DIR] [--dist pydot --old 3.0.4 --new 4.0.1]

A throwaway venv (bench/.work/keys/venv, gitignored) sees this environment's pytest and DryCI and gets
an optional dependency of networkx from the package index, pip-installed for real: first the old
version, then the new one. Each time the analyzer computes every test file's key with this run's
environment, twice: per distribution (the default) and with ``hash_distributions: all`` (the behaviour
before, where any upgrade changes every key). The figures are the test files whose key changed, so
would re-run. pytest-testmon (``--testmon-tests SUBDIR``) runs beside it in the same venv on a folder
of the suite: its first run records, then after each upgrade the figure is the tests it runs again
(it keys its data by every installed package: its docs, its issues #159 and #183).
A requirement of the distribution (``--req``) is upgraded after it, to show the transitive case, and
last a distribution networkx never imports (``--other``: a dev tool's bump, the common Dependabot PR).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from _networkx import CONFIG

HERE = Path(__file__).resolve().parent

_HASHES = """
import json, sys, dataclasses
from pathlib import Path
from dryci.dagger import analyze, load_config
from dryci.dagger.environment import environment
config = load_config(Path(sys.argv[1]))
out = {}
for mode in ("imported", "all"):
    chosen = dataclasses.replace(config, hash_all_distributions=mode == "all")
    env = environment(chosen)
    analysis = analyze(chosen, salt=env.salt, environment=env)
    out[mode] = dict(analysis.hashes)
    if mode == "imported":
        out["distributions"] = {t: sorted(d) for t, d in analysis.distributions.items()}
print(json.dumps(out))
"""


def make_venv(path: Path) -> Path:
    if not (path / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    outer = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    # After the venv's own packages, as site dirs (their .pth files, an editable DryCI, count too).
    lines = [f"import site; site.addsitedir({folder!r})" for folder in outer]
    Path(own, "zz-outer.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return python


def pip_install(python: Path, *specs: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", *specs],
        check=True,
    )


def hashes(python: Path, config: Path) -> dict[str, dict[str, object]]:
    done = subprocess.run(
        [str(python), "-c", _HASHES, str(config)],
        check=True,
        capture_output=True,
        text=True,
        cwd=config.parent,
    )
    result: dict[str, dict[str, object]] = json.loads(done.stdout)
    return result


def testmon_run(python: Path, tree: Path, folder: str) -> tuple[int, int]:
    """Tests pytest-testmon ran and deselected, in one run over ``folder`` of the networkx tree."""
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "--testmon",
            "-q",
            "-p",
            "no:randomly",
            folder,
        ],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = {
        word: int(n)
        for n, word in re.findall(r"(\d+) (passed|failed|skipped|xfailed|xpassed|error|deselected)", tail)
    }
    if done.returncode not in (0, 1, 5):
        raise SystemExit(
            f"keys_bench: pytest --testmon failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    ran = sum(v for k, v in counts.items() if k != "deselected")
    return ran, counts.get("deselected", 0)


def changed(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return sorted(t for t in after if before.get(t) != after[t])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("networkx", type=Path, help="a networkx checkout (the folder holding networkx/)")
    parser.add_argument("--work", type=Path, default=HERE / ".work" / "keys")
    parser.add_argument("--dist", default="pydot")
    parser.add_argument("--old", default="3.0.4")
    parser.add_argument("--new", default="4.0.1")
    parser.add_argument("--req", default="pyparsing", help="a requirement of --dist, upgraded last")
    parser.add_argument("--req-old", default="3.2.5")
    parser.add_argument("--req-new", default="3.3.3")
    parser.add_argument("--other", default="six", help="a distribution networkx does not import")
    parser.add_argument("--other-old", default="1.16.0")
    parser.add_argument("--other-new", default="1.17.0")
    parser.add_argument(
        "--testmon-tests",
        metavar="SUBDIR",
        help="also run pytest-testmon over this folder (e.g. networkx/algorithms/shortest_paths)",
    )
    args = parser.parse_args()
    tree = args.networkx.resolve()
    if not (tree / "networkx").is_dir():
        print(f"keys_bench: {tree} has no networkx/ folder", file=sys.stderr)
        return 2
    config = tree / "repo_dagger.yaml"
    config.write_text(CONFIG.format(script="keys_bench.py"), encoding="utf-8")
    args.work.mkdir(parents=True, exist_ok=True)
    python = make_venv(args.work / "venv")
    pip_install(
        python, f"{args.dist}=={args.old}", f"{args.req}=={args.req_old}", f"{args.other}=={args.other_old}"
    )
    testmon: list[tuple[int, int]] = []
    if args.testmon_tests:
        pip_install(python, "pytest-testmon==2.2.0", "coverage")
        for data in tree.glob(".testmondata*"):
            data.unlink()
        testmon.append(testmon_run(python, tree, args.testmon_tests))
        testmon.append(testmon_run(python, tree, args.testmon_tests))  # the control: nothing changed
    start = time.perf_counter()
    base = hashes(python, config)
    seconds = time.perf_counter() - start
    total = len(base["imported"])
    importers = sorted(t for t, d in base["distributions"].items() if args.dist in d)  # type: ignore[operator]
    steps = [(f"{args.dist} {args.old} -> {args.new}", f"{args.dist}=={args.new}")]
    steps.append(
        (
            f"{args.req} {args.req_old} -> {args.req_new} (required by {args.dist})",
            f"{args.req}=={args.req_new}",
        )
    )
    steps.append(
        (
            f"{args.other} {args.other_old} -> {args.other_new} (not imported)",
            f"{args.other}=={args.other_new}",
        )
    )
    rows = []
    previous = base
    for label, spec in steps:
        pip_install(python, spec)
        now = hashes(python, config)
        per_dist = changed(previous["imported"], now["imported"])
        everything = changed(previous["all"], now["all"])
        rows.append((label, len(per_dist), len(everything), per_dist))
        if args.testmon_tests:
            testmon.append(testmon_run(python, tree, args.testmon_tests))
        previous = now
    print(f"networkx: {total} test files; {len(importers)} import {args.dist} (closure, with requirements)")
    print(f"analysis with the environment, both modes, cold: {seconds:.1f}s")
    print(f"{'upgrade':<52} {'per-distribution':>16} {'all (before)':>13}")
    for label, per_dist, everything, files in rows:
        print(f"{label:<52} {per_dist:>16} {everything:>13}")
        if 0 < per_dist < total:
            for path in files[:10]:
                print(f"    {path}")
    if testmon:
        folder = args.testmon_tests.rstrip("/") + "/"
        inside = [t for t in base["imported"] if t.startswith(folder)]
        print(
            f"\n{args.testmon_tests}: {len(inside)} test files; pytest-testmon 2.2.0, tests run / deselected"
        )
        print(f"{'first run (records)':<52} {testmon[0][0]:>5}")
        print(f"{'again, nothing changed':<52} {testmon[1][0]:>5}")
        for (label, *_rest), (ran, _deselected) in zip(rows, testmon[2:]):
            files = [t for t in _rest[2] if t.startswith(folder)]
            print(f"{label:<52} {ran:>5}   (DryCI: {len(files)} of {len(inside)} files re-run)")
    os.remove(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
