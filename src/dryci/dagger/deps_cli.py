"""``dryci deps``: the analyzer with friendlier names.

    dryci deps hashes [FILE ...]        dependency hash of each test file
    dryci deps closure TEST             every file TEST depends on
    dryci deps why TEST FILE            the import chain that makes TEST depend on FILE
    dryci deps why TEST                 the distributions in TEST's key, and why each is there
    dryci deps why TEST DISTRIBUTION    the import chain to the file that imports it
    dryci deps stats [--reverse]        closure sizes, or how many tests depend on each file
    dryci deps relations [FILE]         direct dependencies of every analyzed file (JSON), or of FILE
    dryci deps graph [-o OUT]           the graph in Graphviz DOT (``--graph`` works too); SVG for OUT.svg

The config is found in the current folder or its nearest parent that has one (repo_dagger.yaml,
repo_dagger.toml, pyproject.toml with [tool.repo_dagger]) unless ``--config`` names one. Printed paths
are relative to the config's base dir.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from dryci.dagger.analysis import Analysis, analyze
from dryci.dagger.config import find_config, load_config
from dryci.dagger.filecache import default_cache_dir
from dryci.dagger.hashing import command_salt
from dryci.dagger.report import (
    dep_counts,
    distribution_lines,
    importer_of,
    relations_json,
    rev_dep_counts,
    sorted_stats,
)
from dryci.exceptions import ConfigError

__all__ = ["main"]


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Dependency analysis of the test files.")
    parser.add_argument("--config", metavar="FILE", help="config file (default: found in the current folder)")
    parser.add_argument("--salt", default="", help="extra salt mixed into every hash (like -hash-salt)")
    parser.add_argument("--no-cache", action="store_true", help="ignore the per-file cache")
    parser.add_argument("--graph", action="store_true", help="same as the graph command")
    parser.add_argument("-o", "--output", metavar="FILE", help="with --graph: write here (.svg needs `dot`)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    hashes = commands.add_parser("hashes", help="dependency hash of each test file")
    hashes.add_argument("files", nargs="*", metavar="FILE", help="test files (default: the config's inputs)")
    hashes.add_argument("--json", action="store_true", help="print one JSON object")
    closure = commands.add_parser("closure", help="every file a test file depends on")
    closure.add_argument("test", metavar="TEST")
    why = commands.add_parser(
        "why",
        help="the dependency chain from TEST to FILE (or a distribution); without FILE, its distributions",
    )
    why.add_argument("test", metavar="TEST")
    why.add_argument("file", nargs="?", metavar="FILE")
    stats = commands.add_parser("stats", help="closure sizes per test, or dependents per file")
    stats.add_argument("--reverse", action="store_true", help="count the tests that depend on each file")
    stats.add_argument("--sort", choices=("count", "name"), default="count")
    stats.add_argument("--limit", type=int, default=0, help="print only the first N rows")
    relations = commands.add_parser("relations", help="the graph: direct dependencies of each file")
    relations.add_argument("file", nargs="?", metavar="FILE", help="print only this file's dependencies")
    graph = commands.add_parser("graph", help="the graph in Graphviz DOT, or SVG when OUT ends in .svg")
    graph.add_argument(
        "-o", "--output", metavar="OUT", default=argparse.SUPPRESS, help="output file (default: stdout)"
    )
    return parser


def to_dot(analysis: Analysis) -> str:
    """The dependency graph in Graphviz DOT: an edge per relation (file -> what it needs), test files
    drawn as boxes. A file every other file needs (a global dependency) gets a note instead of an edge
    from everything, and self-edges are left out: both only clutter the picture. Sorted, so the same
    graph always gives the same text."""
    relations = analysis.relations
    tests = set(analysis.inputs)
    everywhere = {
        dep for dep in relations
        if len(relations) > 2 and all(dep in deps for path, deps in relations.items() if path != dep)
    }  # fmt: skip
    lines = ["digraph dependencies {", "  rankdir=LR;", '  node [shape=ellipse, fontname="Helvetica"];']
    for path in sorted(relations):
        if path in tests:
            style = ' [shape=box, style=filled, fillcolor="#dbeafe"]'
        elif path in everywhere:
            style = f" [shape=note, label={_dot_id(path + chr(10) + '(needed by every file)')}]"
        else:
            style = ""
        lines.append(f"  {_dot_id(path)}{style};")
    for path in sorted(relations):
        for dep in sorted(set(relations[path]) - everywhere - {path}):
            lines.append(f"  {_dot_id(path)} -> {_dot_id(dep)};")
    return "\n".join([*lines, "}"]) + "\n"


def _dot_id(path: str) -> str:
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _write_graph(dot: str, output: Optional[str], prog: str) -> int:
    if not output or output in ("-", "/dev/stdout"):
        print(dot, end="")
        return 0
    if not output.endswith(".svg"):
        Path(output).write_text(dot, encoding="utf-8")
        return 0
    executable = shutil.which("dot")
    if executable is None:
        message = "writing SVG needs Graphviz's `dot` on PATH; write DOT (-o graph.dot) instead"
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    done = subprocess.run([executable, "-Tsvg", "-o", output], input=dot, text=True, capture_output=True)
    if done.returncode != 0:
        print(f"{prog}: error: dot failed: {done.stderr.strip()}", file=sys.stderr)
        return 2
    return 0


def _relative(path: str, base: Path) -> str:
    """A path given relative to the current folder (or absolute) as a path relative to the base dir."""
    candidate = Path(path)
    absolute = candidate if candidate.is_absolute() else Path.cwd() / candidate
    return Path(os.path.relpath(absolute.resolve(), base)).as_posix()


def _find_upwards(start: Path) -> Optional[Path]:
    for folder in (start, *start.parents):
        found = find_config(folder)
        if found is not None:
            return found
    return None


def _analyze(
    args: argparse.Namespace, extra_inputs: Optional[list[str]] = None, with_environment: bool = False
) -> tuple[Analysis, Path]:
    config_path = Path(args.config) if args.config else _find_upwards(Path.cwd())
    if config_path is None:
        raise ConfigError(
            "no repo_dagger.yaml, repo_dagger.toml or pyproject.toml [tool.repo_dagger] here; pass --config",
            file=str(Path.cwd()),
        )
    config = load_config(config_path)
    inputs = None
    if extra_inputs:
        inputs = [_relative(path, config.base_dir) for path in extra_inputs]
    cache_dir = None if args.no_cache else default_cache_dir(config.base_dir)
    env = None
    if with_environment:
        from dryci.dagger.environment import environment

        env = environment(config, args.salt, cache_dir=cache_dir)
    salt = command_salt(config, args.salt)
    analysis = analyze(config, input_files=inputs, salt=salt, cache_dir=cache_dir, environment=env)
    for warning in analysis.warnings:
        print(f"warning: {warning}")
    return analysis, config.base_dir


def main(argv: list[str], prog: str = "dryci deps") -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.graph or args.command == "graph":
        analysis, _ = _analyze(args)
        return _write_graph(to_dot(analysis), args.output, prog)
    if args.command is None:
        parser.error("a COMMAND (or --graph) is required")
    if args.command == "hashes":
        analysis, _ = _analyze(args, args.files)
        if args.json:
            print(json.dumps(dict(analysis.hashes), indent=2, sort_keys=True))
        else:
            for test in sorted(analysis.hashes):
                print(f"{analysis.hashes[test]}  {test}")
        return 0
    if args.command == "stats":
        analysis, _ = _analyze(args)
        counts = rev_dep_counts(analysis) if args.reverse else dep_counts(analysis)
        rows = sorted_stats(counts, args.sort)
        if args.limit > 0:
            rows = rows[: args.limit]
        label = "tests depending on it" if args.reverse else "files in closure"
        print(f"{label:>22}  file")
        for count, name in rows:
            print(f"{count:>22}  {name}")
        return 0
    if args.command == "relations":
        analysis, base_dir = _analyze(args)
        if args.file is None:
            print(relations_json(analysis), end="")
            return 0
        target = args.file if args.file in analysis.relations else _relative(args.file, base_dir)
        if target not in analysis.relations:
            print(f"{prog}: {args.file!r} is not in the graph of the config's inputs")
            return 1
        for dep in analysis.relations[target]:
            print(dep)
        return 0
    analysis, base_dir = _analyze(args, [args.test], with_environment=args.command == "why")
    if not analysis.inputs:
        print(f"{prog}: {args.test!r} is not a file under {base_dir}")
        return 1
    test = analysis.inputs[0]
    if args.command == "closure":
        for path in sorted(analysis.closure(test)):
            print(path)
        return 0
    if args.file is None:
        for line in distribution_lines(analysis, test):
            print(line)
        return 0
    target = args.file if args.file in analysis.relations else _relative(args.file, base_dir)
    if target not in analysis.relations:
        importer = importer_of(analysis, test, args.file)
        if importer is not None:
            target = importer
    chain = analysis.why(test, target)
    if chain is None:
        print(f"{test} does not depend on {target}")
        return 1
    print(chain[0])
    for step in chain[1:]:
        print(f"  -> {step}")
    return 0
