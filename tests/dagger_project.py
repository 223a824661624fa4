"""The repo_dagger.yaml shared by the pytester projects of tests/plugin and tests/precise."""

from __future__ import annotations


def dagger_config(data_test: str, data_file: str) -> str:
    """A config covering src/ and tests/, a global dependency, and ``data_test`` visiting ``data_file``."""
    return f"""\
base_dir: "."
inputs: "tests/**/test_*.py"
global_deps: "global.cfg"
python_roots: ["src", "tests"]
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
  "{data_test}":
    visit: "{data_file}"
"""
