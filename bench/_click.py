"""The click 8.1.7 sdist (it ships its tests) for the function-level drill of ``precise_bench.py``.

click keeps its pytest config in setup.cfg (``filterwarnings = ["error"]``), which stays as is:
the runs put the tree's ``src/`` on PYTHONPATH instead of installing click, so every tool sees the
same tree it edits. click 8.1.7's tests need pytest < 9.
"""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from pathlib import Path

from _networkx import pip_download, sh

CONFIG = """\
# repo_dagger config for the click sdist (written by bench/precise_bench.py)
base_dir: "."
inputs: "tests/test_*.py"
global_deps: ["setup.cfg", "tox.ini", "tests/conftest.py"]
global_exclude: ["**/__pycache__/**", ".pytest_cache/**", ".testmondata*"]
python_roots: ["src", "."]
root_python_packages: ["click"]
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
"""

# (module, function): one-function edits spread over the package; each is exercised by some tests.
TARGETS = [
    ("src/click/_compat.py", "_is_compatible_text_stream"),
    ("src/click/shell_completion.py", "func_name"),
    ("src/click/core.py", "get_usage_pieces"),
    ("src/click/parser.py", "add_argument"),
    ("src/click/formatting.py", "wrap_text"),
    ("src/click/termui.py", "style"),
    ("src/click/utils.py", "make_default_short_help"),
    ("src/click/types.py", "convert_type"),
    ("src/click/decorators.py", "version_option"),
    ("src/click/exceptions.py", "format_message"),
    ("src/click/core.py", "get_help_option"),
    ("src/click/parser.py", "split_opt"),
]

PACKAGES = ["pytest<9", "pytest-testmon", "pytest-xdist", "PyYAML", "wcmatch", "httpx"]


def prepare(work: Path, venv: Path, python: Sequence[str]) -> Path:
    """Unpack the click 8.1.7 sdist into ``work`` and create the throwaway venv; return the tree."""
    work.mkdir(parents=True, exist_ok=True)
    dl = work / "dl"
    if not any(dl.glob("click-8.1.7.tar.gz")):
        pip_download("click==8.1.7", dl)
    pristine = work / "click-8.1.7"
    if not pristine.exists():
        with tarfile.open(dl / "click-8.1.7.tar.gz") as tar:
            try:
                tar.extractall(work, filter="data")
            except TypeError:  # Python without extraction filters
                tar.extractall(work)
    (pristine / "repo_dagger.yaml").write_text(CONFIG)
    py = venv / "bin" / "python"
    if not py.exists():
        sh(*python, "-m", "venv", venv)
        sh(py, "-m", "pip", "install", "--quiet", *PACKAGES)
    return pristine
