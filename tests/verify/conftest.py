"""Projects for pytester runs of ``pytest --dryci-verify``: a package ``pkg`` and tests importing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.distributions import venv, wheels  # noqa: F401 (fixtures: real wheels in a throwaway venv)

CONFIG = """\
base_dir: "."
inputs: "tests/**/test_*.py"
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", repo_dagger=CONFIG)
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / "pkg").mkdir()
    (pytester.path / "pkg" / "__init__.py").write_text("")
    (pytester.path / "tests").mkdir()
    return pytester


def write(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = pytester.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def findings(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run the verifier (in-process) and return the result and its JSON document."""
    out = pytester.path / "verify.json"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--dryci-verify", f"--dryci-verify-json={out}", *args
    )
    return result, json.loads(out.read_text())


def apply_rules(pytester: pytest.Pytester, rules: dict[str, dict[str, list[str]]]) -> None:
    """Merge suggested ``path_rules`` into repo_dagger.yaml, as a user pasting the snippet would."""
    path = pytester.path / "repo_dagger.yaml"
    config = yaml.safe_load(path.read_text())
    for pattern, actions in rules.items():
        entry = config["path_rules"].setdefault(pattern, {})
        for action, values in actions.items():
            existing = entry.get(action, [])
            entry[action] = [*([existing] if isinstance(existing, str) else existing), *values]
    path.write_text(yaml.safe_dump(config))


def touch(path: Path) -> None:
    # A statement, not a blank line: at function level a whitespace-only edit of a module changes no code.
    extra = "\nTOUCHED = True\n" if path.suffix == ".py" else "\n"
    path.write_text(path.read_text() + extra)
