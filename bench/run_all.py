"""Run every benchmark in turn with its default arguments (``make bench``); each writes bench/results/.

    .venv/bin/python bench/run_all.py [NAME ...]     # NAME: dagger, plugin, server, verify, precise

They take from minutes (dagger, server) to an hour (precise: 20 edits, each checked against a plain
full run); run them on a quiet machine, since CPU seconds are compared across processes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = {
    "dagger": ["dagger_bench.py"],
    "plugin": ["plugin_bench.py"],
    "server": ["server_load.py", "--backend", "sqlite"],
    "verify": ["verify_bench.py"],
    "precise": ["precise_bench.py"],
}


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(SCRIPTS)
    unknown = [name for name in names if name not in SCRIPTS]
    if unknown:
        print(f"run_all: unknown benchmark {unknown[0]!r} (expected one of {', '.join(SCRIPTS)})")
        return 2
    for name in names:
        script, *args = SCRIPTS[name]
        print(f"== {name}: python bench/{script} {' '.join(args)}".rstrip(), flush=True)
        code = subprocess.call([sys.executable, str(BENCH / script), *args])
        if code != 0:
            print(f"run_all: {name} failed with exit code {code}")
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
