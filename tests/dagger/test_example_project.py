from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dryci.dagger import analyze, find_config, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


def test_example_project_config_covers_every_test_with_data_relative_and_dynamic_imports() -> None:
    config_path = find_config(EXAMPLE)
    assert config_path == EXAMPLE / "repo_dagger.yaml"
    analysis = analyze(load_config(config_path))
    assert sorted(analysis.hashes) == [
        "tests/test_catalog.py",
        "tests/test_models.py",
        "tests/test_pricing.py",
    ]
    assert analysis.warnings == ()
    pricing = analysis.closure("tests/test_pricing.py")
    assert {
        "tests/conftest.py",
        "tests/helpers.py",
        "pyproject.toml",
        "src/example_service/data/catalog.json",
        "src/example_service/discounts.py",
        "src/example_service/plugins/books.py",
    } <= pricing
    assert analysis.why("tests/test_catalog.py", "src/example_service/data/catalog.json") == [
        "tests/test_catalog.py",
        "tests/conftest.py",
        "src/example_service/catalog.py",
        "src/example_service/data/catalog.json",
    ]


def test_example_project_tests_pass_on_their_own() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:dryci",
            "-p",
            "no:dryci_verify",
        ],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout
