"""The verifier reports what a test used outside the tree that its key does not hold."""

from __future__ import annotations

import pytest

from tests.distributions import Venv
from tests.verify.conftest import write

READS = {
    "pkg/settings.py": "import os\n\n\ndef mode():\n    return os.environ.get('TINY_MODE', 'slow')\n",
    "tests/test_reads.py": (
        "import os\n\nfrom pkg.settings import mode\n\n\n"
        "def test_reads():\n"
        "    assert mode()\n"
        "    assert os.getenv('TINY_KEYED') is None\n"
        "    assert 'TINY_LOOKED_UP' not in os.environ\n"
    ),
}


def test_a_variable_read_by_project_code_and_not_in_hash_env_is_reported_with_the_yaml(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TINY_MODE", "TINY_KEYED", "TINY_LOOKED_UP"):
        monkeypatch.delenv(name, raising=False)
    (project.path / "repo_dagger.yaml").write_text(
        (project.path / "repo_dagger.yaml").read_text() + "\nhash_env: [TINY_KEYED]\n"
    )
    write(project, READS)
    result = project.runpytest("-p", "no:cacheprovider", "--dryci-verify")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "dryci verify: 2 uses outside the tree not in the key",
            "  tests/test_reads.py reads environment variable TINY_LOOKED_UP, not in hash_env",
            "  tests/test_reads.py reads environment variable TINY_MODE, not in hash_env",
            "*hash_env: ?TINY_LOOKED_UP, TINY_MODE?",
        ]
    )
    assert "TINY_KEYED" not in result.stdout.str()


def test_a_variable_in_hash_env_is_no_finding(project: pytest.Pytester) -> None:
    (project.path / "repo_dagger.yaml").write_text(
        (project.path / "repo_dagger.yaml").read_text()
        + "\nhash_env: [TINY_MODE, TINY_KEYED, TINY_LOOKED_UP]\n"
    )
    write(project, READS)
    result = project.runpytest("-p", "no:cacheprovider", "--dryci-verify")
    result.assert_outcomes(passed=1)
    assert "outside the tree" not in result.stdout.str()


def test_a_distribution_loaded_by_a_computed_name_is_reported(
    project: pytest.Pytester, venv: Venv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    write(
        project,
        {
            "tests/test_dynamic.py": (
                "import importlib\n\n\ndef test_dynamic():\n"
                "    assert importlib.import_module('tiny' + 'lib').VALUE\n"
            )
        },
    )
    result = project.run(
        str(venv.python), "-m", "pytest", "-p", "dryci_verify", "-p", "no:cacheprovider", "--dryci-verify"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "  tests/test_dynamic.py loaded distribution tinylib 1.0, not in its key",
            "*hash_distributions: ?tinylib?",
        ]
    )
