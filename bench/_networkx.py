"""Setup shared by the benchmark scripts: sdist downloads, the networkx tree and its throwaway venv.

The scripts import it as a sibling module (``python bench/<script>.py`` puts bench/ on sys.path).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

CONFIG = """\
# repo_dagger config for the networkx sdist (written by bench/{script})
base_dir: "."
inputs: "networkx/**/tests/test_*.py"
global_deps: ["pyproject.toml"]
global_exclude: ["**/__pycache__/**", ".pytest_cache/**", ".testmondata*"]
python_roots: ["."]
root_python_packages: ["networkx"]
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
"""


def sh(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=cwd, env=env, check=True)


def pip_download(spec: str, dest: Path) -> None:
    """``pip download`` the sdist of ``spec`` (no dependencies, no wheels) into ``dest``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-q",
            "-d",
            str(dest),
            spec,
        ],
        check=True,
    )


def prepare(
    work: Path, script: str, venv: Path, python: Sequence[str], packages: Sequence[str], *dl: Path
) -> Path:
    """Unpack the networkx sdist into ``work`` and create the throwaway venv; return the pristine tree.

    The sdist is taken from the first of the ``dl`` folders holding one, else downloaded into the last.
    ``python`` is the command that creates the venv; ``packages`` are installed into it.
    """
    work.mkdir(parents=True, exist_ok=True)
    folder = next((d for d in dl if any(d.glob("networkx-*.tar.gz"))), None)
    if folder is None:
        folder = dl[-1]
        pip_download("networkx", folder)
    sdist = sorted(folder.glob("networkx-*.tar.gz"))[-1]
    pristine = work / sdist.name[: -len(".tar.gz")]
    if not pristine.exists():
        with tarfile.open(sdist) as tar:
            try:
                tar.extractall(work, filter="data")
            except TypeError:  # Python without extraction filters
                tar.extractall(work)
    (pristine / "repo_dagger.yaml").write_text(CONFIG.format(script=script))
    # networkx keeps no pytest config: without one, pytest would take this repository's as rootdir.
    (pristine / "pytest.ini").write_text("[pytest]\n")
    py = venv / "bin" / "python"
    if not py.exists():
        sh(*python, "-m", "venv", venv)
        sh(py, "-m", "pip", "install", "--quiet", *packages)
    return pristine


def fresh_copy(pristine: Path, name: str) -> Path:
    """A fresh copy of the pristine tree, next to it."""
    target = pristine.parent / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(pristine, target)
    return target


def snapshot_source(root: Path, target: Path, python: Path) -> str:
    """Copy ``root``'s src/ to ``target``, so editing it while a benchmark runs changes nothing there;
    returns the commit it was taken at.

    Byte-compiled once with ``python``, as pip does when it installs DryCI: runs that write no
    bytecode (PYTHONDONTWRITEBYTECODE, so the project trees stay cold) then compile DryCI's modules no
    more than an installed plugin's.
    """
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(root / "src", target, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [str(python), "-m", "compileall", "-q", str(target)], check=True, stdout=subprocess.DEVNULL
    )
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "src"], capture_output=True, text=True
    )
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def tool_versions(python: Path) -> tuple[str, str]:
    """(pytest, pytest-testmon) versions installed for ``python``; "?" where one is missing."""
    found = subprocess.run(
        [
            str(python),
            "-c",
            "import pytest, importlib.metadata as m; print(pytest.__version__, m.version('pytest-testmon'))",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    return (found[0] if found else "?", found[1] if len(found) > 1 else "?")
