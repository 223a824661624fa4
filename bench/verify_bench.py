"""The hermeticity verifier on real code: the networkx sdist, downloaded at bench time.

Measures, with a plain repo_dagger.yaml (import rules only):
- how many test files use files their dependency closure misses, before and after applying the rules the
  verifier suggests (the goal: zero after);
- the verifier's overhead versus a plain pytest run of the same suite (wall and CPU time);
- optionally (--isolated) the same check in isolated mode, to show what module caching hides.

Everything lives in bench/.work/ (gitignored): the sdist, the unpacked tree, and a throwaway virtualenv
with pytest and this checkout (editable), so the project's own .venv is never touched.

    .venv/bin/python bench/verify_bench.py [--python python3.12] [--isolated] [--out bench/results/verify.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from _networkx import pip_download

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
PLAIN_CONFIG = """\
base_dir: "."
inputs: ["networkx/**/test_*.py", "networkx/**/*_test.py"]
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
"""


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    returncode: int
    summary: str
    report: dict[str, Any]


def default_python() -> str:
    """Python 3.12+ when one runs (its sys.monitoring makes tracing cheap), else this interpreter."""
    for name in ("python3.13", "python3.12"):
        found = shutil.which(name)
        if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
            return found
    return sys.executable


def sdist(version: str) -> Path:
    existing = sorted(WORK.glob(f"networkx-{version or '*'}.tar.gz"))
    if existing:
        return existing[-1]
    spec = f"networkx=={version}" if version else "networkx"
    pip_download(spec, WORK)
    return sorted(WORK.glob("networkx-*.tar.gz"))[-1]


def venv(python: str) -> Path:
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = WORK / f"verify-venv-{version}"
    py = target / "bin" / "python"
    if not py.exists():
        subprocess.run([python, "-m", "venv", str(target)], check=True)
        subprocess.run(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "-q",
                "pytest",
                "PyYAML",
                "wcmatch",
                "httpx",
                "tomli; python_version < '3.11'",
            ],
            check=True,
        )
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)], check=True)
    return py


def unpack(archive: Path) -> Path:
    dest = WORK / "verify"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data") if sys.version_info >= (3, 12) else tar.extractall(dest)
    tree = next(dest.iterdir())
    # Our own pytest settings (pyproject.toml of this repo) must not leak into the networkx run.
    (tree / "pytest.ini").write_text("[pytest]\n")
    (tree / "repo_dagger.yaml").write_text(PLAIN_CONFIG)
    return tree


def run(py: Path, tree: Path, *args: str, json_out: Path | None = None) -> Run:
    command = [str(py), "-m", "pytest", "networkx", "-q", "-p", "no:cacheprovider", *args]
    if json_out is not None:
        command.append(f"--dryci-verify-json={json_out}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = proc.stdout.strip().splitlines()
    report = json.loads(json_out.read_text()) if json_out is not None and json_out.exists() else {}
    if proc.returncode not in (0, 1):
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"pytest failed with exit code {proc.returncode}: {' '.join(command)}")
    return Run(wall, cpu, proc.returncode, lines[-1] if lines else "", report)


def apply_rules(tree: Path, rules: dict[str, dict[str, list[str]]]) -> int:
    path = tree / "repo_dagger.yaml"
    config = yaml.safe_load(path.read_text())
    added = 0
    for pattern, actions in rules.items():
        entry = config["path_rules"].setdefault(pattern, {})
        for action, values in actions.items():
            entry[action] = sorted({*entry.get(action, []), *values})
            added += len(values)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return added


def files_with_findings(report: dict[str, Any]) -> int:
    return len({f["test_file"] for f in report.get("findings", [])})


def kinds(report: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for f in report.get("findings", []):
        counts[f["kind"]] = counts.get(f["kind"], 0) + 1
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python",
        default=default_python(),
        help="interpreter for the throwaway venv (default: python3.13/3.12 when one runs)",
    )
    parser.add_argument("--version", default="", help="networkx version (default: the newest sdist)")
    parser.add_argument("--isolated", action="store_true", help="also run --dryci-verify-isolated")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "verify.md")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    archive = sdist(args.version)
    py = venv(args.python)
    tree = unpack(archive)
    pyversion = subprocess.run([str(py), "-V"], capture_output=True, text=True, check=True).stdout.strip()
    tests = len(list((tree / "networkx").rglob("test_*.py")))
    print(f"{archive.name}: {tests} test files; {pyversion}", flush=True)

    plain = run(py, tree)
    print(f"plain run: {plain.wall:.1f} s wall, {plain.cpu:.1f} s CPU  ({plain.summary})", flush=True)
    before = run(py, tree, "--dryci-verify", json_out=WORK / "verify-before.json")
    print(
        f"verify (plain config): {before.wall:.1f} s wall, {before.cpu:.1f} s CPU; "
        f"{files_with_findings(before.report)} test files with missing files",
        flush=True,
    )
    added = apply_rules(tree, before.report.get("path_rules", {}))
    after = run(py, tree, "--dryci-verify", json_out=WORK / "verify-after.json")
    print(
        f"verify (with {added} suggested rules): {after.wall:.1f} s wall; "
        f"{files_with_findings(after.report)} test files with missing files",
        flush=True,
    )
    isolated = None
    if args.isolated:
        isolated = run(py, tree, "--dryci-verify-isolated", json_out=WORK / "verify-isolated.json")
        print(
            f"isolated (same rules): {isolated.wall:.1f} s wall; "
            f"{files_with_findings(isolated.report)} test files with missing files",
            flush=True,
        )

    rows = [
        ("plain `pytest networkx`", plain, "-", "-"),
        ("`--dryci-verify`, plain config", before, files_with_findings(before.report), kinds(before.report)),
        (
            f"`--dryci-verify`, plain config + {added} suggested rules",
            after,
            files_with_findings(after.report),
            kinds(after.report),
        ),
    ]
    if isolated is not None:
        rows.append(
            (
                "`--dryci-verify-isolated`, same rules",
                isolated,
                files_with_findings(isolated.report),
                kinds(isolated.report),
            )
        )
    out = [
        "# Hermeticity verifier on networkx",
        "",
        f"`{' '.join(['.venv/bin/python', 'bench/verify_bench.py', *sys.argv[1:]])}` on {archive.name} "
        f"({tests} test files), {pyversion}, {platform.machine()}, {os.cpu_count()} CPUs "
        f"(shared with other jobs while measured). Config: imports only (`visit_imported_python_modules` "
        "for `**/*.py`), then the rules the verifier printed, pasted as they were.",
        "",
        "| run | wall s | CPU s | test files with missing files | findings by kind |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for label, result, missing, kind in rows:
        out.append(f"| {label} | {result.wall:.1f} | {result.cpu:.1f} | {missing} | {kind} |")
    overhead_wall = before.wall / plain.wall - 1
    overhead_cpu = before.cpu / plain.cpu - 1
    out += [
        "",
        f"Overhead of `--dryci-verify` over the plain run: {overhead_cpu:+.0%} CPU time "
        f"({overhead_wall:+.0%} wall; on a shared machine the wall times swing with the other jobs' load, "
        "CPU time is the comparable figure).",
        "Isolated mode starts one process per test file that has selected tests: files skipped whole at "
        "collection (`pytest.importorskip` of an optional dependency) start none, so it checks fewer files.",
        f"Plain run: {plain.summary}.",
        "",
        "Suggested rules (from the first verify run):",
        "",
        "```yaml",
        yaml.safe_dump({"path_rules": before.report.get("path_rules", {})}, sort_keys=False).rstrip(),
        "```",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
