"""The suite runs from a source tree too: with DryCI importable but not installed, so that pytest finds
no entry point for its plugins, tests/conftest.py hands them to pytester runs itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# pytest (through pluggy) reads the pytest11 entry points from importlib.metadata.distributions(): hide
# the installed pytest-dryci there, as if only src/ were on sys.path.
AS_IF_NOT_INSTALLED = """
import importlib.metadata as metadata
import sys

real = metadata.distributions

def without_dryci(**kwargs):
    return (d for d in real(**kwargs) if d.metadata["Name"] != "pytest-dryci")

metadata.distributions = without_dryci
import pytest

sys.exit(pytest.main(sys.argv[1:]))
"""


def test_pytester_runs_get_the_plugin_when_it_is_not_installed() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            AS_IF_NOT_INSTALLED,
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/plugin/test_options.py::test_a_config_elsewhere_can_be_named",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    # The hiding works: without the conftest's help, the inner run would not know --dryci.
    assert "unrecognized arguments: --dryci" not in done.stdout
