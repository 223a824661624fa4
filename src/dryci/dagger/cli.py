"""``repo_dagger``: the analyzer with the flags and output formats of repo_dagger 1.4.0.

A client of the original drives it unchanged (``-config``, ``-input-files``, ``-out-dep-hashes`` ...;
``--`` forms work too). Differences: errors are one line on stderr naming the file and key, with exit
code 2 (the original logged and exited 0), outputs are written even when there are no inputs (``{}``),
and a per-file cache in ``.repo_dagger_cache/`` under the base dir makes repeated runs fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from dryci import __version__
from dryci.console import stdout_closed
from dryci.dagger.analysis import Analysis, analyze
from dryci.dagger.config import load_config
from dryci.dagger.filecache import default_cache_dir
from dryci.dagger.hashing import command_salt
from dryci.dagger.report import (
    dep_counts,
    go_json,
    log,
    relations_json,
    rev_dep_counts,
    sorted_stats,
    write_output,
)
from dryci.exceptions import DryciError

__all__ = ["build_parser", "main"]

COMPATIBLE_WITH = "1.4.0"


def build_parser(prog: str = "repo_dagger") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Dependency hashes per input file (compatible with repo_dagger 1.4.0).",
        allow_abbrev=False,
    )

    def flag(name: str, **kwargs: object) -> None:
        parser.add_argument(f"-{name}", f"--{name}", dest=name.replace("-", "_"), **kwargs)  # type: ignore[arg-type]

    flag("config", metavar="FILE", help="path to the config file (repo_dagger.yaml, .toml or pyproject.toml)")
    flag("input-files", metavar="A,B", help="comma-separated input files (overrides the config's inputs)")
    flag("out-dep-hashes", metavar="FILE", help="write {input file: dependency hash} as JSON to FILE")
    flag("out-relations", metavar="FILE", help="write {file: [direct dependencies]} as JSON to FILE")
    flag("out-recursive-deps", metavar="FILE", help="write the closure of -out-recursive-deps-for as JSON")
    flag(
        "out-recursive-deps-for",
        metavar="FILE",
        help="the input file whose closure -out-recursive-deps writes",
    )
    flag("print-dep-stats", action="store_true", help="print closure sizes of the input files")
    flag("print-rev-dep-stats", action="store_true", help="print how many input files depend on each file")
    flag("stats-sort", default="count", choices=("count", "name"), help="sort statistics by count or name")
    flag("hash-salt", default="", metavar="S", help="include S in every dependency hash (cache busting)")
    flag(
        "cache-dir",
        metavar="DIR",
        help="per-file cache folder (default: .repo_dagger_cache/ in the base dir)",
    )
    flag("no-cache", action="store_true", help="do not read or write the per-file cache")
    flag("self-profile", action="store_true", help="profile the run into repo_dagger.prof")
    flag("verbose", action="store_true", help="log progress and warnings")
    parser.add_argument(
        "-v", "-version", "--version", dest="version", action="store_true", help="print version"
    )
    return parser


def _run(args: argparse.Namespace) -> int:
    verbose: bool = args.verbose
    if verbose:
        log(f"Loading Config: {args.config}")
    config = load_config(Path(args.config))
    if verbose:
        log(f"Base Directory: {config.base_dir}")
    inputs: Optional[list[str]] = None
    if args.input_files is not None:
        inputs = [item.strip() for item in args.input_files.split(",") if item.strip()]
    cache_dir = (
        None
        if args.no_cache
        else Path(args.cache_dir)
        if args.cache_dir
        else default_cache_dir(config.base_dir)
    )
    if verbose:
        log("Generating dependency graph")
    salt = command_salt(config, args.hash_salt)
    analysis = analyze(config, input_files=inputs, salt=salt, cache_dir=cache_dir)
    for warning in analysis.warnings:
        log(f"Warning: {warning}")
    if verbose:
        log(f"Analyzed {len(analysis.relations)} files ({analysis.files_read} read, the rest from the cache)")
    if not analysis.inputs:
        log("No input files found.")
    _write_outputs(args, analysis, verbose)
    if args.print_dep_stats:
        for count, name in sorted_stats(dep_counts(analysis), args.stats_sort):
            log(f"{count}\t{name}")
    if args.print_rev_dep_stats:
        for count, name in sorted_stats(rev_dep_counts(analysis), args.stats_sort):
            log(f"{count}\t{name}")
    if verbose:
        log("Done")
    return 0


def _write_outputs(args: argparse.Namespace, analysis: Analysis, verbose: bool) -> None:
    if args.out_relations:
        if verbose:
            log(f"Writing relations to: {args.out_relations}")
        write_output(args.out_relations, relations_json(analysis))
    if args.out_dep_hashes:
        if verbose:
            log(f"Writing dependency hashes to: {args.out_dep_hashes}")
        write_output(args.out_dep_hashes, go_json(dict(analysis.hashes)))
    if args.out_recursive_deps:
        target = args.out_recursive_deps_for
        try:
            deps = sorted(analysis.closure(target))
        except KeyError:
            raise DryciError(f"-out-recursive-deps-for: {target!r} is not an analyzed file") from None
        if verbose:
            log(f"Writing recursive dependencies of {target} to: {args.out_recursive_deps}")
        write_output(args.out_recursive_deps, go_json(deps))


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        print(f"version\t{__version__}\ncompatible\trepo_dagger {COMPATIBLE_WITH}")
        return 0
    if not args.config:
        parser.print_usage(sys.stderr)
        print("repo_dagger: error: -config is required (path to repo_dagger.yaml)", file=sys.stderr)
        return 2
    if bool(args.out_recursive_deps) != bool(args.out_recursive_deps_for):
        print(
            "repo_dagger: error: -out-recursive-deps and -out-recursive-deps-for must be given together",
            file=sys.stderr,
        )
        return 2
    profiler = None
    if args.self_profile:
        import cProfile

        profiler = cProfile.Profile()
    try:
        if profiler is not None:
            profiler.enable()
        return _run(args)
    except DryciError as exc:
        print(f"repo_dagger: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return stdout_closed()
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats("repo_dagger.prof")


if __name__ == "__main__":
    sys.exit(main())
