"""`make demo`: see DryCI skip what already passed, on a copy of example_project.

1. first run: nothing is cached, every test runs (about 3 s: the tests' setup is slow on purpose)
   and the passes are recorded;
2. second run: nothing changed, every test is cached (the test files are not even imported);
3. one function of a source file is edited: only the tests that depend on it run again, and
   ``--dryci-explain`` says why;
4. the edit is undone: the results recorded under the old sources apply again.

The copy lives in a temporary directory, so the repository is left untouched. The cache is the
embedded one (SQLite under the copy's .pytest_cache); set DRYCI_SERVER to try a shared server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EDITED = Path("src/example_service/discounts.py")
GUARDED = "    for minimum, rate in TIERS:\n"
GUARD = '    if item.quantity <= 0:\n        return Decimal("0.00")\n'


def header(title: str) -> None:
    print(f"\n{'=' * 78}\n  {title}\n{'=' * 78}", flush=True)


def run_pytest(project: Path, *extra: str) -> int:
    command = [sys.executable, "-m", "pytest", "--dryci", "-v", "-rs", *extra]
    print(f"$ cd {project} && pytest {' '.join(command[3:])}", flush=True)
    return subprocess.call(command, cwd=project, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dryci-demo-") as tmp:
        project = Path(tmp) / "example_project"
        shutil.copytree(
            HERE,
            project,
            ignore=shutil.ignore_patterns(".pytest_cache", ".repo_dagger_cache", "__pycache__", "demo.py"),
        )
        header("Run 1: empty cache, so every test runs (and the passes are recorded)")
        codes = [run_pytest(project)]

        header("Run 2: nothing changed, so every test is cached and no test file is imported")
        codes.append(run_pytest(project))

        header(f"Run 3: after editing {EDITED}, only the tests that depend on it run")
        source = project / EDITED
        original = source.read_text()
        if GUARDED not in original:
            print(f"demo: {EDITED} no longer has the line {GUARDED.strip()!r} to edit", file=sys.stderr)
            return 2
        # A real statement in a function the pricing tests execute: a comment or a new function
        # would change nothing those tests ran, and the function level would rightly skip them.
        source.write_text(original.replace(GUARDED, GUARD + GUARDED, 1))
        print(f"(added a guard to discount_for in {EDITED})", flush=True)
        codes.append(run_pytest(project, "--dryci-explain"))

        header(f"Run 4: {EDITED} restored, so the results recorded for it apply again")
        source.write_text(original)
        codes.append(run_pytest(project))

    header("Done" if not any(codes) else f"Some run failed: exit codes {codes}")
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
