"""A small project for pytester runs of ``pytest --dryci``.

Layout: a package under src/, tests importing it, a conftest per test folder, a data file named by
a rule, a global dependency, and a repo_dagger.yaml covering all of it.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpcore  # noqa: F401
import httpx  # noqa: F401
import pytest

# pytester's in-process runs drop modules first imported inside a run. httpx keeps a table of
# httpcore's exception classes, so a later re-import of httpcore alone would leave it mapping
# stale classes: import the whole stack here, once, in the outer process.
import dryci.dagger
import dryci.plugin.session
import dryci.store.local
import dryci.store.remote  # noqa: F401
from tests.dagger_project import dagger_config
from tests.distributions import venv, wheels  # noqa: F401 (fixtures: real wheels in a throwaway venv)

CONFIG = dagger_config("tests/test_data.py", "tests/data/values.txt")

FILES = {
    "global.cfg": "setting = 1\n",
    "src/calc/__init__.py": "",
    "src/calc/ops.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "src/calc/text.py": "def shout(s):\n    return s.upper()\n",
    "tests/conftest.py": "",
    "tests/test_ops.py": (
        "from calc.ops import add, sub\n\n\n"
        "def test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_sub():\n    assert sub(3, 2) == 1\n"
    ),
    "tests/test_text.py": (
        "from calc.text import shout\n\n\ndef test_shout():\n    assert shout('a') == 'A'\n"
    ),
    "tests/data/values.txt": "1 2 3\n",
    "tests/test_data.py": (
        "from pathlib import Path\n\n\n"
        "def test_values():\n"
        "    values = (Path(__file__).parent / 'data' / 'values.txt').read_text().split()\n"
        "    assert values\n"
    ),
    "tests/sub/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef five():\n    return 5\n",
    "tests/sub/test_fixture.py": "def test_five(five):\n    assert five == 5\n",
}

ALL_TESTS = 5


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\npythonpath = src\ndryci_level = file\n")
    (pytester.path / "repo_dagger.yaml").write_text(CONFIG)
    for rel, text in FILES.items():
        write(pytester.path / rel, text)
    return pytester


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def append(path: Path, text: str = "\n# edited\n") -> None:
    # Appending changes the size too, so no mtime granularity can hide the edit.
    path.write_text(path.read_text() + text)


def ran(result: pytest.RunResult) -> set[str]:
    """Node ids that ran and passed or failed (from -v output)."""
    found = set()
    for line in result.stdout.lines:
        match = re.match(r"^(\S+::\S+) (PASSED|FAILED|ERROR)", line)
        if match:
            found.add(match.group(1))
    return found


def cached_line(result: pytest.RunResult) -> str:
    lines = [line for line in result.stdout.lines if line.startswith("dryci: ") and " cached, " in line]
    assert len(lines) == 1, result.stdout.str()
    return lines[0]
