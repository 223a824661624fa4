"""``dryci verify [pytest args]``: run pytest with the verifier on and return its exit code."""

from __future__ import annotations

import subprocess
import sys

_USAGE = """usage: {prog} [--strict] [--isolated] [--json PATH] [--config PATH] [PYTEST ARGS...]

Run the selected tests without skipping any, record the repository files each test file uses, and report
those the dependency graph does not contain, with the path_rules that would add them.

  --strict       exit non-zero when any file is missing (for a nightly CI job)
  --isolated     run each test file in a fresh process, in parallel
  --json PATH    also write the findings as JSON
  --config PATH  the dependency config (default: found at pytest's rootdir)

Every other argument goes to pytest unchanged (e.g. `{prog} tests/ -x -n 4`)."""

_OWN_FLAGS = {"--strict": "--dryci-verify-strict", "--isolated": "--dryci-verify-isolated"}
_OWN_VALUES = {"--json": "--dryci-verify-json", "--config": "--dryci-verify-config"}


def pytest_args(argv: list[str]) -> list[str]:
    """Translate this command's own options into pytest's; everything else passes through."""
    args = ["--dryci-verify"]
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if arg in _OWN_FLAGS:
            args.append(_OWN_FLAGS[arg])
        elif name in _OWN_VALUES and eq:
            args.append(f"{_OWN_VALUES[name]}={value}")
        elif arg in _OWN_VALUES:
            if i + 1 >= len(argv):
                raise SystemExit(f"{arg}: expected a value")
            args.append(f"{_OWN_VALUES[arg]}={argv[i + 1]}")
            i += 1
        elif arg == "--":
            args += argv[i + 1 :]
            break
        else:
            args.append(arg)
        i += 1
    return args


def main(argv: list[str], prog: str) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(_USAGE.format(prog=prog))
        return 0
    try:
        args = pytest_args(argv)
    except SystemExit as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    # A fresh interpreter: pytest must import (and assertion-rewrite) the project's modules itself.
    return subprocess.call([sys.executable, "-m", "pytest", *args])
