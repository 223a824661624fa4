"""The ``dryci`` command: a thin dispatcher to the components' own command modules.

Each command lives in its component (``dryci.dagger.deps_cli``, ``dryci.server.cli`` ...) and exposes
``main(argv: list[str], prog: str) -> int``. Modules are imported only when their command runs, so
``dryci deps`` works without the server extra installed. Every ``DryciError`` becomes one clear line
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Optional

from dryci import __version__
from dryci.console import stdout_closed
from dryci.exceptions import DryciError

# command -> (module, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "admin": ("dryci.server.admin_cli", "manage users, projects, tokens and cached entries of a server"),
    "deps": ("dryci.dagger.deps_cli", "dependency analysis: hashes, closures, `why`, graphs"),
    "init": ("dryci.dagger.init_cli", "write a repo_dagger.yaml that fits this repository"),
    "replay": ("dryci.replay.cli", "replay the last commits: what DryCI would have run, saved and missed"),
    "server": ("dryci.server.cli", "run the shared cache server (needs pytest-dryci[server])"),
    "verify": ("dryci.verify.cli", "run tests and report files the dependency graph misses"),
}


def _usage() -> str:
    lines = ["usage: dryci COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<8} {summary}" for name, (_, summary) in sorted(COMMANDS.items())]
    lines += ["", "`dryci COMMAND --help` describes a command's arguments."]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        print(f"dryci {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"dryci: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and not module_name.startswith(exc.name):
            print(
                f"dryci {name}: missing dependency {exc.name!r}; "
                f'install it with: pip install "pytest-dryci[server]"',
                file=sys.stderr,
            )
            return 2
        raise
    command: Callable[[list[str], str], int] = module.main
    try:
        return command(rest, f"dryci {name}")
    except DryciError as exc:
        print(f"dryci {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return stdout_closed()


if __name__ == "__main__":
    sys.exit(main())
