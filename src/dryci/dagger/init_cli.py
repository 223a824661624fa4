"""``dryci init``: write a repo_dagger config inferred from the repository, then show what it gives.

dryci init                 write repo_dagger.yaml (commented) in the current folder
dryci init --toml          write a [tool.repo_dagger] table into pyproject.toml, keeping the rest
dryci init --force         replace an existing config
dryci init --print         print the YAML config, write nothing
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from dryci.dagger.analysis import analyze
from dryci.dagger.config import find_config, load_config
from dryci.dagger.infer import InferredConfig, infer, machine_variable, scan_repository
from dryci.dagger.report import dep_counts, sorted_stats

__all__ = ["main", "render_toml", "render_yaml"]

_TOML_TABLE = re.compile(r"^\s*\[\[?\s*tool\.repo_dagger\b")
_ANY_TABLE = re.compile(r"^\s*\[")


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Write a repo_dagger config that fits this repository."
    )
    parser.add_argument("--root", metavar="DIR", default=".", help="the repository root (default: .)")
    parser.add_argument(
        "--toml", action="store_true", help="write a [tool.repo_dagger] table into pyproject.toml"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing config")
    parser.add_argument("--print", dest="print_only", action="store_true", help="print the config only")
    parser.add_argument("--top", type=int, default=5, metavar="N", help="closures to list (default: 5)")
    return parser


def _q(value: str) -> str:
    """A double-quoted string valid in both YAML and TOML."""
    return json.dumps(value, ensure_ascii=False)


def _flow(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def render_yaml(inferred: InferredConfig) -> str:
    """The config as a commented repo_dagger.yaml."""
    settings = inferred.settings
    where = f"pytest settings in {settings.source}" if settings.source else "pytest's default settings"
    lines = [
        "# Written by `dryci init`; edit freely (docs/config.md describes every key).",
        'base_dir: "."',
        f"# Test files: each gets its own dependency hash ({len(inferred.test_files)} found; {where}).",
        f"inputs: {_flow(inferred.inputs)}",
        "# Settings files: a change to any of them re-runs every test. Lock files are not needed: the",
        "# installed distributions are in the keys (each test file's own), see hash_distributions.",
        f"global_deps: {_flow(inferred.global_deps)}",
        "# Never part of any closure.",
        f"global_exclude: {_flow(inferred.global_exclude)}",
        "# Import roots (folders on sys.path when the tests run) and the packages found in them.",
        f"python_roots: {_flow(inferred.python_roots)}",
        f"root_python_packages: {_flow(inferred.root_python_packages)}",
        *_hash_env_lines(inferred),
        "path_rules:",
        "  # Every Python file depends on the project modules it imports.",
        '  "**/*.py":',
        "    visit_imported_python_modules: true",
    ]
    if inferred.data_rules:
        lines.append("  # Data files these modules open through Path(__file__) / os.path.dirname(__file__).")
    for path, targets in sorted(inferred.data_rules.items()):
        lines += [f"  {_q(path)}:", f"    visit: {_flow(targets)}"]
    return "\n".join(lines) + "\n"


def _hash_env_lines(inferred: InferredConfig) -> list[str]:
    lines = [
        "# Variables whose value is in every key (a change re-runs the tests), besides those always there",
        "# (PYTHONWARNINGS, PYTEST_ADDOPTS, the locale, TZ ...: docs/config.md). Found read by the code:",
    ]
    if not inferred.env_reads:
        return [*lines[:1], "# none found read by the code; add e.g. DJANGO_SETTINGS_MODULE.", "hash_env: []"]
    lines.append("hash_env:")
    for name, files in inferred.env_reads.items():
        where = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        if machine_variable(name):
            lines.append(f"  # - {_q(name)}  # read in {where}; names the machine or CI job, so left out")
        else:
            lines.append(f"  - {_q(name)}  # read in {where}")
    if not inferred.hash_env:
        lines.append("  []")
    return lines


def render_toml(inferred: InferredConfig) -> str:
    """The config as a [tool.repo_dagger] table for pyproject.toml."""
    lines = [
        "# Written by `dryci init`; edit freely (docs/config.md describes every key).",
        "[tool.repo_dagger]",
        'base_dir = "."',
        f"inputs = {_flow(inferred.inputs)}",
        f"global_deps = {_flow(inferred.global_deps)}",
        f"global_exclude = {_flow(inferred.global_exclude)}",
        f"python_roots = {_flow(inferred.python_roots)}",
        f"root_python_packages = {_flow(inferred.root_python_packages)}",
        "# Variables whose value is in every key; found read by the code (docs/config.md).",
        f"hash_env = {_flow(inferred.hash_env)}",
        "",
        '[tool.repo_dagger.path_rules."**/*.py"]',
        "visit_imported_python_modules = true",
    ]
    for path, targets in sorted(inferred.data_rules.items()):
        lines += ["", f"[tool.repo_dagger.path_rules.{_q(path)}]", f"visit = {_flow(targets)}"]
    return "\n".join(lines) + "\n"


def replace_toml_table(text: str, table: str) -> str:
    """``text`` (a pyproject.toml) without its tool.repo_dagger tables, with ``table`` appended."""
    kept: list[str] = []
    inside = False
    for line in text.splitlines(keepends=True):
        if _ANY_TABLE.match(line):
            inside = bool(_TOML_TABLE.match(line))
        if not inside:
            kept.append(line)
    body = "".join(kept).rstrip("\n")
    body = re.sub(r"\n# Written by `dryci init`[^\n]*$", "", body).rstrip("\n")
    return (body + "\n\n" if body else "") + table


def main(argv: list[str], prog: str = "dryci init") -> int:
    args = _parser(prog).parse_args(argv)
    root = Path(args.root)
    if not root.is_dir():
        print(f"{prog}: error: {args.root}: not a folder", file=sys.stderr)
        return 2
    inferred = infer(scan_repository(root))
    if args.print_only:
        print(render_toml(inferred) if args.toml else render_yaml(inferred), end="")
        return 0
    existing = find_config(root)
    target = root / ("pyproject.toml" if args.toml else "repo_dagger.yaml")
    if existing is not None and not args.force:
        print(
            f"{prog}: error: {existing} already holds a repo_dagger config; "
            "pass --force to replace it, or edit it by hand",
            file=sys.stderr,
        )
        return 2
    if existing is not None and existing.resolve() != target.resolve():
        # The YAML file wins over the TOML forms: writing beside another config would hide one of them.
        print(f"{prog}: error: {existing} holds the config; remove it before writing {target.name}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        if args.toml:
            old = target.read_text(encoding="utf-8") if target.is_file() else ""
            target.write_text(replace_toml_table(old, render_toml(inferred)), encoding="utf-8")
        else:
            target.write_text(render_yaml(inferred), encoding="utf-8")
    except OSError as exc:
        print(f"{prog}: error: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {target}")
    for note in inferred.notes:
        print(f"note: {note}")
    _print_statistics(target, args.top)
    return 0


def _print_statistics(path: Path, top: int) -> None:
    """What the written config gives: a check that it loads, and the numbers users want to see."""
    analysis = analyze(load_config(path))
    for warning in analysis.warnings:
        print(f"warning: {warning}")
    counts = dep_counts(analysis)
    print(f"{len(analysis.relations)} files in the graph, {len(analysis.inputs)} test files")
    rows = sorted_stats(counts, "count")[: max(top, 0)]
    if rows:
        print("largest closures (files a test file depends on):")
        for count, name in rows:
            print(f"  {count:>6}  {name}")
