"""A small project for pytester runs of the function level, and helpers to run and read it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# Imported once in the outer process: pytester's in-process runs drop modules first imported inside.
import dryci.dagger
import dryci.plugin.session
import dryci.recording.runtime
import dryci.store.local  # noqa: F401
from tests.dagger_project import dagger_config

CONFIG = dagger_config("tests/test_shapes.py", "tests/data/sizes.txt")

SHAPES = """\
SCALE = 1


def area(w, h):
    return w * h * SCALE


def perimeter(w, h):
    return 2 * (w + h)


def unused(x=1):
    return x


class Base:
    def name(self):
        return "base"


class Square(Base):
    sides = 4
"""

TESTS = """\
from pathlib import Path

from geo.shapes import Square, area, perimeter


def test_area():
    assert area(2, 3) == 6


def test_perimeter():
    assert perimeter(2, 3) == 10


def test_name():
    assert Square().name() == "base"


def test_sizes():
    assert (Path(__file__).parent / "data" / "sizes.txt").read_text().split() == ["1", "2"]
"""

FILES = {
    "global.cfg": "setting = 1\n",
    "src/geo/__init__.py": "",
    "src/geo/shapes.py": SHAPES,
    "tests/test_shapes.py": TESTS,
    "tests/data/sizes.txt": "1 2\n",
}

ALL = {f"tests/test_shapes.py::{name}" for name in ("test_area", "test_perimeter", "test_name", "test_sizes")}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\npythonpath = src\n")
    (pytester.path / "repo_dagger.yaml").write_text(CONFIG)
    for rel, text in FILES.items():
        path = pytester.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pytester


def edit(project: pytest.Pytester, rel: str, old: str, new: str) -> None:
    path = project.path / rel
    text = path.read_text()
    assert old in text, (old, rel)
    path.write_text(text.replace(old, new))


def ran(result: pytest.RunResult) -> set[str]:
    """Node ids that ran and passed or failed (from -v output; xdist prints them after the outcome)."""
    found = set()
    for line in result.stdout.lines:
        match = re.match(r"^(?:\[gw\d+\] \[\s*\d+%\] )?(PASSED|FAILED|ERROR) (\S+::\S+)", line) or re.match(
            r"^(\S+::\S+) (PASSED|FAILED|ERROR)", line
        )
        if match:
            groups = match.groups()
            found.add(groups[1] if groups[0] in ("PASSED", "FAILED", "ERROR") else groups[0])
    return found


def summary(result: pytest.RunResult) -> str:
    # The summary line, not a session header line.
    lines = [line for line in result.stdout.lines if re.match(r"dryci: [\d,]+ of [\d,]+ tests? cached", line)]
    assert len(lines) == 1, result.stdout.str()
    return lines[0]


def explained(result: pytest.RunResult) -> dict[str, str]:
    """Node id -> the function level's reason it ran, from the explain section."""
    lines = result.stdout.lines
    if not any("dryci explain" in line for line in lines):
        return {}
    start = next(i for i, line in enumerate(lines) if "dryci explain" in line) + 1
    out = {}
    for line in lines[start:]:
        if line.startswith("="):
            break
        if line.startswith("  ") and "::" in line:
            nodeid, reason = line.strip().split(": ", 1)
            out[nodeid] = reason
    return out


def data_path(project: pytest.Pytester) -> Path:
    return project.path / "tests" / "data" / "sizes.txt"
