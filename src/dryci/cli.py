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

# Commands whose modules import the server extra's packages (FastAPI, uvicorn, psycopg) when they run.
NEEDS_SERVER_EXTRA = frozenset({"admin", "server"})
SERVER_EXTRA_HINT = 'pip install "pytest-dryci[server]"'

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
    if not args:
        # No command is a usage error (as in git and pip): a script that forgot it must not pass.
        print(_usage(), file=sys.stderr)
        return 2
    if args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        print(f"dryci {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"dryci: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[name][0])
        command: Callable[[list[str], str], int] = module.main
        # The server command imports uvicorn and the app only once its arguments are valid: a missing
        # extra shows up here as well as at import.
        return command(rest, f"dryci {name}")
    except ModuleNotFoundError as exc:
        missing = _missing_extra(name, exc)
        if missing is None:
            raise
        print(missing, file=sys.stderr)
        return 2
    except DryciError as exc:
        print(f"dryci {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return stdout_closed()


def _missing_extra(name: str, exc: ModuleNotFoundError) -> Optional[str]:
    """The one line for a package of the server extra that is not installed; None for anything else
    (DryCI's own modules missing is a broken install, and its traceback is the useful report)."""
    top = (exc.name or "").split(".")[0]
    if name not in NEEDS_SERVER_EXTRA or not top or top == "dryci":
        return None
    return f"dryci {name}: needs the server extra (module {top!r} is not installed): {SERVER_EXTRA_HINT}"


if __name__ == "__main__":
    sys.exit(main())
