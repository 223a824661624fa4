"""Benchmark of the dependency analyzer: ours (`repo_dagger` from this package) vs the reference Go binary.

Repositories:
* synthetic ones (default 1k, 10k and 50k Python files): a quarter are test files importing 5 modules
  each, every module imports 3 others (mostly "lower" modules, some cycles), in packages of 50 files;
* real projects downloaded at bench time from PyPI as sdists (sympy, networkx) into bench/.work/.

For each repository: our cold run (no per-file cache), our warm run (nothing changed), and the Go
binary's run (it has no cache; like ours it runs with the files in the page cache), wall time and peak
RSS of each, plus the edge-superset check: every edge of the Go binary's -out-relations must be in ours.

    .venv/bin/python bench/dagger_bench.py          # everything, writes bench/results/dagger.md
    .venv/bin/python bench/dagger_bench.py --sizes 1000 --real ''       # a quick look

The Go binary ships inside pytest-dryci 0.1.1; install it in a throwaway venv OUTSIDE the repository
(`python3 -m venv /tmp/ref && /tmp/ref/bin/pip install pytest-dryci==0.1.1`) and pass
`--go /tmp/ref/bin/repo_dagger` (the default). Without it the Go columns stay empty.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from _networkx import pip_download

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
RESULTS = ROOT / "bench" / "results" / "dagger.md"
OURS = Path(sys.executable).with_name("repo_dagger")

SYNTHETIC_CONFIG = """\
base_dir: "."
inputs: "tests/**/test_*.py"
root_python_packages: ["pkg", "tests"]
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
"""

REAL_CONFIG = """\
base_dir: "."
inputs: "{package}/**/tests/test_*.py"
root_python_packages: ["{package}"]
path_rules:
  "**/tests/test_*.py":
    visit_grand_siblings: ["conftest.py", "__init__.py"]
  "**/*.py":
    visit_imported_python_modules: true
    visit_grand_siblings: ["__init__.py"]
"""

PACKAGE_SIZE = 50

# Imports one test module in a fresh interpreter and prints the project files it loaded.
LOADER = """
import importlib, json, os, sys
root = os.path.abspath(sys.argv[1])
sys.path.insert(0, root)
try:
    importlib.import_module(sys.argv[2][:-3].replace("/", "."))
except BaseException as exc:  # optional dependencies missing, pytest.skip at import time ...
    print(json.dumps({"error": repr(exc)[:200]}))
    raise SystemExit(0)
files = sorted({os.path.relpath(m.__file__, root) for m in list(sys.modules.values())
                if getattr(m, "__file__", None) and os.path.abspath(m.__file__).startswith(root + os.sep)})
print(json.dumps({"files": files}))
"""


@dataclass
class Run:
    seconds: float
    rss_mb: float
    ok: bool
    error: str = ""


@dataclass
class RuntimeCheck:
    """Files each test module really loads (imported alone) vs the closures of ours and of the Go binary."""

    repository: str
    tests: int
    failed_imports: int
    loaded_pairs: int
    missing_ours: int
    missing_go: int
    tests_affected_ours: int
    tests_affected_go: int
    examples: tuple[str, ...] = ()


@dataclass
class Row:
    name: str
    files: int
    tests: int
    ours_cold: Run
    ours_warm: Run
    go: Optional[Run]
    go_edges: int = 0
    our_edges: int = 0
    missing_edges: int = 0
    missing_examples: tuple[str, ...] = ()


def _module_name(index: int) -> str:
    return f"pkg.p{index // PACKAGE_SIZE}.m{index}"


def generate_synthetic(target: Path, total_files: int, seed: int = 7) -> None:
    """A repository of ``total_files`` Python files (package __init__ files included)."""
    if target.exists():
        shutil.rmtree(target)
    rng = random.Random(seed)
    tests = total_files // 4
    packages = max(1, (total_files - tests) // (PACKAGE_SIZE + 1))
    modules = total_files - tests - packages - 1  # one __init__.py per package, plus pkg/__init__.py
    (target / "pkg").mkdir(parents=True)
    (target / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    for package in range(packages):
        folder = target / "pkg" / f"p{package}"
        folder.mkdir()
        (folder / "__init__.py").write_text("", encoding="utf-8")
    body = "\n".join(f"def function_{n}(x):\n    return x + {n}\n" for n in range(8))
    for index in range(modules):
        package = min(index // PACKAGE_SIZE, packages - 1)
        imports = set()
        while len(imports) < min(3, max(index, 1)):
            if index and rng.random() < 0.97:
                # Mostly "lower" modules nearby: layered code with closures of realistic size.
                other = rng.randrange(max(0, index - 400), index)
            else:
                # A few imports upwards inside the same package make import cycles.
                other = min(modules - 1, index + rng.randrange(1, 10))
            if other != index:
                imports.add(other)
        lines = []
        for other in sorted(imports):
            other_package = min(other // PACKAGE_SIZE, packages - 1)
            if other_package == package and rng.random() < 0.5:
                lines.append(f"from . import m{other}")
            else:
                lines.append(f"import pkg.p{other_package}.m{other}")
        path = target / "pkg" / f"p{package}" / f"m{index}.py"
        path.write_text("\n".join(lines) + "\n\n" + body, encoding="utf-8")
    test_dirs = max(1, tests // 100)
    for number in range(tests):
        folder = target / "tests" / f"t{number % test_dirs}"
        folder.mkdir(parents=True, exist_ok=True)
        chosen = rng.sample(range(modules), k=min(5, modules))
        lines = [f"import pkg.p{min(m // PACKAGE_SIZE, packages - 1)}.m{m}" for m in chosen]
        lines.append(f"\n\ndef test_{number}():\n    assert True\n")
        (folder / f"test_{number}.py").write_text("\n".join(lines), encoding="utf-8")
    (target / "repo_dagger.yaml").write_text(SYNTHETIC_CONFIG, encoding="utf-8")
    _age(target)


def _age(target: Path) -> None:
    """Make the tree look like a checkout that is not brand new (as in daily use).

    Our cache does not trust timestamps of the last second, and the cache folder itself exists after
    the first run in a real checkout, so it is created before the tree is aged.
    """
    (target / ".repo_dagger_cache").mkdir(exist_ok=True)
    old = time.time() - 60
    for folder, _, files in os.walk(target):
        os.utime(folder, (old, old))
        for name in files:
            os.utime(os.path.join(folder, name), (old, old))


def fetch_real(package: str) -> Path:
    """Download and unpack the sdist of ``package`` into bench/.work/ (once)."""
    download = WORK / "dl"
    download.mkdir(parents=True, exist_ok=True)
    archives = sorted(download.glob(f"{package}-*.tar.gz"))
    if not archives:
        pip_download(package, download)
        archives = sorted(download.glob(f"{package}-*.tar.gz"))
    archive = archives[-1]
    target = WORK / archive.name[: -len(".tar.gz")]
    if not target.exists():
        with tarfile.open(archive) as tar:
            if sys.version_info >= (3, 12):
                tar.extractall(WORK, filter="data")
            else:
                tar.extractall(WORK)  # a PyPI sdist we just downloaded
    (target / "repo_dagger.yaml").write_text(REAL_CONFIG.format(package=package), encoding="utf-8")
    _age(target)
    return target


def timed(command: list[str], cwd: Path) -> Run:
    """Wall time and peak RSS of one command.

    The peak RSS comes from GNU time when it is installed: Linux carries a process's high-water mark
    over fork and exec, so a child forked straight from this (bigger) Python process would report at
    least this process's own size.
    """
    gnu_time = shutil.which("time") if Path("/usr/bin/time").exists() else None
    # Outside the repository: a file appearing in its root would change the folder fingerprint.
    report = Path(tempfile.gettempdir()) / f"dagger-bench-rss-{os.getpid()}"
    if gnu_time:
        command = [gnu_time, "-f", "%M", "-o", str(report), *command]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    assert process.stderr is not None
    error = process.stderr.read().decode("utf-8", "replace")
    process.stderr.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    ok = process.returncode == 0
    rss_kb = usage.ru_maxrss
    if gnu_time and report.exists():
        text = report.read_text(encoding="utf-8").strip().splitlines()
        report.unlink()
        if text and text[-1].isdigit():
            rss_kb = int(text[-1])
    return Run(seconds=seconds, rss_mb=rss_kb / 1024, ok=ok, error="" if ok else error[-500:])


def _relations(repo: Path, command: list[str]) -> dict[str, list[str]]:
    out = Path(tempfile.gettempdir()) / f"dagger-bench-relations-{os.getpid()}.json"
    subprocess.run(
        [*command, "-config", "repo_dagger.yaml", "-out-relations", str(out)],
        cwd=repo,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    data: dict[str, list[str]] = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    return data


def _closure(relations: dict[str, list[str]], start: str) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for child in relations.get(stack.pop()) or ():
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def runtime_check(repo: Path, go: Optional[Path], sample: int) -> RuntimeCheck:
    """Import each (sampled) test module alone and check every project file it loaded is in its closure."""
    ours = _relations(repo, [str(OURS), "-no-cache"])
    theirs = _relations(repo, [str(go)]) if go is not None else {}
    tests = sorted(path for path in ours if "/tests/test_" in path)
    if 0 < sample < len(tests):
        tests = sorted(random.Random(1).sample(tests, sample))
    failed = pairs = missing_ours = missing_go = affected_ours = affected_go = 0
    examples: list[str] = []
    for test in tests:
        result = subprocess.run(
            [sys.executable, "-c", LOADER, str(repo), test],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = result.stdout.strip().splitlines()
        data = json.loads(lines[-1]) if lines else {"error": result.stderr[-200:]}
        if "files" not in data:
            failed += 1
            continue
        loaded = set(data["files"])
        pairs += len(loaded)
        lost = loaded - _closure(ours, test)
        missing_ours += len(lost)
        affected_ours += bool(lost)
        examples.extend(f"{test} -> {path}" for path in sorted(lost)[:2])
        if theirs:
            lost_go = loaded - _closure(theirs, test)
            missing_go += len(lost_go)
            affected_go += bool(lost_go)
    return RuntimeCheck(
        repo.name,
        len(tests),
        failed,
        pairs,
        missing_ours,
        missing_go,
        affected_ours,
        affected_go,
        tuple(examples[:5]),
    )


def superset_check(repo: Path, go: Path) -> tuple[int, int, int, tuple[str, ...]]:
    scratch = Path(tempfile.gettempdir())
    ours_file = scratch / f"dagger-bench-ours-{os.getpid()}.json"
    go_file = scratch / f"dagger-bench-go-{os.getpid()}.json"
    subprocess.run(
        [str(OURS), "-config", "repo_dagger.yaml", "-out-relations", str(ours_file), "-no-cache"],
        cwd=repo,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    subprocess.run(
        [str(go), "-config", "repo_dagger.yaml", "-out-relations", str(go_file)],
        cwd=repo,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    ours = json.loads(ours_file.read_text(encoding="utf-8"))
    theirs = json.loads(go_file.read_text(encoding="utf-8"))
    ours_file.unlink()
    go_file.unlink()
    missing = [
        f"{source} -> {dep}"
        for source, deps in theirs.items()
        for dep in deps or ()
        if dep not in set(ours.get(source) or ())
    ]
    count = lambda relations: sum(len(deps or ()) for deps in relations.values())  # noqa: E731
    return count(theirs), count(ours), len(missing), tuple(missing[:5])


def bench_repo(name: str, repo: Path, go: Optional[Path], check_edges: bool) -> Row:
    for stale in (repo / ".repo_dagger_cache").glob("*"):
        stale.unlink()  # cold: an empty cache folder
    ours = [str(OURS), "-config", "repo_dagger.yaml", "-out-dep-hashes", "/dev/null"]
    cold = timed(ours, repo)
    warm = timed(ours, repo)
    go_run = None
    if go is not None:
        # Our runs above left every file in the page cache: the Go binary gets the same warm disk.
        go_run = timed([str(go), "-config", "repo_dagger.yaml", "-out-dep-hashes", "/dev/null"], repo)
    hashes = json.loads(
        subprocess.run(
            [str(OURS), "-config", "repo_dagger.yaml", "-out-dep-hashes", "-"],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    files = sum(1 for _, _, names in os.walk(repo) for n in names if n.endswith(".py"))
    row = Row(name, files, len(hashes), cold, warm, go_run)
    if go is not None and check_edges:
        row.go_edges, row.our_edges, row.missing_edges, row.missing_examples = superset_check(repo, go)
    return row


def _cell(run: Optional[Run]) -> str:
    if run is None:
        return "—"
    if not run.ok:
        return "failed"
    return f"{run.seconds:.2f} s / {run.rss_mb:.0f} MB"


def _ratio(ours: Run, go: Optional[Run]) -> str:
    if go is None or not go.ok or not ours.ok or go.seconds == 0:
        return "—"
    return f"{ours.seconds / go.seconds:.3f}x"


def render_runtime(checks: list[RuntimeCheck]) -> list[str]:
    if not checks:
        return []
    lines = [
        "",
        "## Runtime soundness check (each test module imported alone in a fresh interpreter)",
        "",
        "A (test, project file) pair is missing when the file was loaded but is not in the test's closure.",
        "",
        "| repository | test files | import failed | loaded pairs | missing: ours | missing: Go "
        "| tests affected: ours | tests affected: Go |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in checks:
        lines.append(
            f"| {c.repository} | {c.tests} | {c.failed_imports} | {c.loaded_pairs:,} | {c.missing_ours} | "
            f"{c.missing_go:,} | {c.tests_affected_ours} | {c.tests_affected_go} |"
        )
        lines.extend(f"|  | `{example}` | | | | | | |" for example in c.examples)
    return lines


def render(rows: list[Row], command: str, checks: Optional[list[RuntimeCheck]] = None) -> str:
    lines = [
        "# Dependency analyzer benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "Cold = empty per-file cache; warm = next run, nothing changed. The Go binary (repo_dagger 1.4.0)",
        "has no cache. Every run starts a new process and finds the files in the page cache. Times are wall",
        "clock on a shared 2-core machine (expect ±30 %); memory is peak RSS.",
        "",
        "| repository | .py files | tests | ours cold | ours warm | Go 1.4.0 | cold / Go | warm / Go |",
        "| --- | ---: | ---: | --- | --- | --- | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row.name} | {row.files:,} | {row.tests:,} | {_cell(row.ours_cold)} | "
            f"{_cell(row.ours_warm)} | {_cell(row.go)} | {_ratio(row.ours_cold, row.go)} | "
            f"{_ratio(row.ours_warm, row.go)} |"
        )
    synthetic = [row for row in rows if row.name.startswith("synthetic") and row.ours_cold.ok]
    if len(synthetic) > 1:
        per_k = ", ".join(
            f"{row.files:,} files: {1000 * row.ours_cold.seconds / row.files:.3f} s" for row in synthetic
        )
        lines += ["", f"Our cold time per 1,000 files (linear growth keeps it flat): {per_k}."]
    checked = [row for row in rows if row.go_edges]
    if checked:
        lines += [
            "",
            "## Edge superset check (our `-out-relations` must contain every edge of the Go binary's)",
            "",
            "| repository | Go edges | our edges | Go edges missing from ours |",
            "| --- | ---: | ---: | ---: |",
        ]
        for row in checked:
            lines.append(f"| {row.name} | {row.go_edges:,} | {row.our_edges:,} | {row.missing_edges} |")
            for example in row.missing_examples:
                lines.append(f"|  | | | `{example}` |")
    lines += render_runtime(checks or [])
    failures = [(row.name, run.error) for row in rows for run in (row.ours_cold, row.ours_warm) if not run.ok]
    for name, error in failures:
        lines += ["", f"**{name} failed:** `{error.strip()}`"]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="synthetic repository sizes (files)")
    parser.add_argument("--real", default="sympy,networkx", help="PyPI sdists to analyze ('' for none)")
    parser.add_argument("--go", default=os.environ.get("REPO_DAGGER_GO", "/tmp/ref/bin/repo_dagger"))
    parser.add_argument(
        "--runtime-check", default="networkx", help="sdists whose tests are imported one by one"
    )
    parser.add_argument("--runtime-sample", type=int, default=80, help="test files sampled (0: all)")
    parser.add_argument("--out", default=str(RESULTS), help="where to write the Markdown table")
    args = parser.parse_args(argv)
    go = Path(args.go) if args.go and Path(args.go).is_file() else None
    if go is None:
        print(f"Go binary not found at {args.go!r}: Go columns stay empty", file=sys.stderr)
    rows: list[Row] = []
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        repo = WORK / f"synthetic-{size}"
        generate_synthetic(repo, size)
        print(f"synthetic {size}: generated", file=sys.stderr)
        rows.append(bench_repo(f"synthetic {size:,}", repo, go, check_edges=size <= 10000))
        print(render(rows[-1:], ""), file=sys.stderr)
    for package in [p for p in args.real.split(",") if p.strip()]:
        repo = fetch_real(package.strip())
        rows.append(bench_repo(repo.name, repo, go, check_edges=True))
        print(render(rows[-1:], ""), file=sys.stderr)
    checks = []
    for package in [p for p in args.runtime_check.split(",") if p.strip()]:
        checks.append(runtime_check(fetch_real(package.strip()), go, args.runtime_sample))
        print("\n".join(render_runtime(checks[-1:])), file=sys.stderr)
    command = "python " + " ".join(["bench/dagger_bench.py", *(argv if argv is not None else sys.argv[1:])])
    text = render(rows, command.strip(), checks)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
