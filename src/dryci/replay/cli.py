"""``dryci replay``: walk the last commits and report what DryCI would have run, saved and missed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dryci.replay.engine import LEVELS, ReplayOptions, replay
from dryci.replay.history import ReplayError

__all__ = ["main"]

_EPILOG = """Each commit is checked out in a scratch git worktree (the checkout at --repo is never touched),
and pytest runs there with the worktree first on PYTHONPATH, so an editable install of the project
does not shadow the commit's code. Arguments after `--` go to every pytest run (e.g. `-- tests/ -x`)."""


def _levels(value: str) -> tuple[str, ...]:
    levels = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [level for level in levels if level not in LEVELS]
    if unknown or not levels:
        raise argparse.ArgumentTypeError(f"expected file, function or file,function, got {value!r}")
    return levels


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number (0 or more), got {value!r}")
    return number


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, epilog=_EPILOG)
    p.add_argument("--repo", type=Path, default=Path("."), help="the git repository (default: here)")
    p.add_argument("--commits", type=_positive, default=10, metavar="N", help="replay the last N commits")
    p.add_argument(
        "--level", type=_levels, default=LEVELS, metavar="LEVELS", help="file, function or file,function"
    )
    p.add_argument("--verify", action="store_true", help="also run the plain suite and count missed failures")
    p.add_argument(
        "--mutate",
        type=_count,
        default=0,
        metavar="K",
        help="make up to K changed functions per commit raise",
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON")
    p.add_argument("--plot", type=Path, metavar="OUT.svg", help="write an SVG chart of tests run per commit")
    p.add_argument("--no-warm-up", action="store_true", help="start from an empty cache at the first commit")
    p.add_argument(
        "--timeout", type=_positive, metavar="SECONDS", help="give up when one pytest run takes longer"
    )
    return p


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str], prog: str) -> int:
    own, pytest_args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    args = parser(prog).parse_args(own)
    for out in (args.json, args.plot):
        if out is not None and not out.resolve().parent.is_dir():
            raise ReplayError(f"{out}: its folder does not exist")
    options = ReplayOptions(
        repo=args.repo,
        commits=args.commits,
        levels=args.level,
        verify=args.verify,
        mutate=args.mutate,
        pytest_args=tuple(pytest_args),
        warm_up=not args.no_warm_up,
        timeout=args.timeout,
    )
    results = replay(options, _progress)
    from dryci.replay.report import summary_lines, table, write_json

    print("\n".join([*table(results), "", *summary_lines(results)]))
    if args.json is not None:
        write_json(args.json, results, args.repo.resolve())
    if args.plot is not None:
        from dryci.replay.chart import write_svg

        write_svg(args.plot, results)
    missed = any(r.missed or r.mutants_missed for r in results)
    return 1 if missed else 0
