"""The verifier's pytest face: modes (isolated, xdist), strictness, errors, and staying out of the way."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from dryci.verify import recorder
from tests.verify.conftest import findings, write

HELPER_FILES = {
    "pkg/helper.py": "def double(x):\n    return 2 * x\n",
    "tests/test_a.py": "from pkg.helper import double\n\n\ndef test_a():\n    assert double(1) == 2\n",
    "tests/test_b.py": "import importlib\n\n\ndef test_b():\n"
    "    assert importlib.import_module('pkg.' + 'helper').double(2) == 4\n",
}
DATA_FILES = {
    "pkg/loader.py": "from pathlib import Path\n\n\ndef load(name):\n"
    "    return (Path(__file__).parent / 'data' / name).read_text()\n",
    "pkg/data/one.txt": "1\n",
    "pkg/data/two.txt": "2\n",
    "tests/test_one.py": "from pkg.loader import load\n\n\ndef test_one():\n"
    "    assert load('one.txt') == '1\\n'\n",
    "tests/test_two.py": "from pkg.loader import load\n\n\ndef test_two():\n"
    "    assert load('two.txt') == '2\\n'\n",
}
EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "example_project"


def _pairs(report: dict[str, object]) -> set[tuple[str, str, str]]:
    return {(f["test_file"], f["path"], f["kind"]) for f in report["findings"]}  # type: ignore[attr-defined,index]


def test_isolated_mode_sees_the_import_module_caching_hid(project: pytest.Pytester) -> None:
    write(project, HELPER_FILES)
    result, report = findings(project, "--dryci-verify-isolated", "--dryci-verify-jobs=2")
    result.assert_outcomes(passed=2)  # the children's reports, replayed in the parent
    result.stdout.fnmatch_lines(["dryci verify: ran 2 test files in fresh processes, 2 at a time"])
    # In a fresh process test_b imports the module itself, so the import is seen, not only its code running.
    assert ("tests/test_b.py", "pkg/helper.py", "imports") in _pairs(report)
    assert result.ret == 0


def test_isolated_mode_reports_a_failing_test_and_fails_the_run(project: pytest.Pytester) -> None:
    write(project, {**HELPER_FILES, "tests/test_c.py": "def test_c():\n    assert 1 == 2\n"})
    result, _ = findings(project, "--dryci-verify-isolated")
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_isolated_mode_runs_only_the_selected_tests_of_each_file(project: pytest.Pytester) -> None:
    write(project, {"tests/test_k.py": "def test_keep():\n    pass\n\n\ndef test_drop():\n    assert 0\n"})
    result, _ = findings(project, "--dryci-verify-isolated", "-k", "keep")
    result.assert_outcomes(passed=1, deselected=1)
    assert result.ret == pytest.ExitCode.OK


def test_xdist_workers_send_their_findings_to_the_controller(project: pytest.Pytester) -> None:
    write(project, DATA_FILES)
    result, report = findings(project, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=2)
    assert _pairs(report) == {
        ("tests/test_one.py", "pkg/data/one.txt", "reads"),
        ("tests/test_two.py", "pkg/data/two.txt", "reads"),
    }
    assert report["path_rules"] == {"pkg/loader.py": {"visit_siblings": ["data/*.txt"]}}


def test_strict_mode_fails_a_passing_run_that_misses_a_file(project: pytest.Pytester) -> None:
    write(project, DATA_FILES)
    result = project.runpytest("-p", "no:cacheprovider", "--dryci-verify-strict")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["dryci verify: failing the run (--dryci-verify-strict)"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_strict_mode_passes_when_nothing_is_missing(project: pytest.Pytester) -> None:
    write(project, {"tests/test_plain.py": "def test_plain():\n    assert True\n"})
    result = project.runpytest("-p", "no:cacheprovider", "--dryci-verify-strict")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["dryci verify: 1 test file checked; every file they used is in the *graph"])


def test_a_shared_fixture_counts_for_every_test_file_that_requests_it(project: pytest.Pytester) -> None:
    write(
        project,
        {
            "tests/conftest.py": "import json\nfrom pathlib import Path\nimport pytest\n\n\n"
            "@pytest.fixture(scope='session')\ndef settings():\n"
            "    path = Path(__file__).parent / 'data' / 'settings.json'\n"
            "    return json.loads(path.read_text())\n",
            "tests/data/settings.json": '{"debug": true}\n',
            "tests/test_one.py": "def test_one(settings):\n    assert settings['debug']\n",
            "tests/test_two.py": "def test_two(settings):\n    assert settings['debug']\n",
        },
    )
    _, report = findings(project)
    assert _pairs(report) == {
        ("tests/test_one.py", "tests/data/settings.json", "reads"),
        ("tests/test_two.py", "tests/data/settings.json", "reads"),
    }
    assert report["path_rules"] == {"tests/conftest.py": {"visit_siblings": ["data/*.json"]}}


def test_reads_outside_the_repository_caches_venvs_and_writes_are_not_dependencies(
    project: pytest.Pytester,
) -> None:
    write(
        project,
        {
            ".venv/lib/site-packages/extlib/data.txt": "x",
            ".pytest_cache/v/note.txt": "x",
            "pkg/io_user.py": "from pathlib import Path\n\nROOT = Path(__file__).parent.parent\n\n\n"
            "def roundtrip(path):\n    path.write_text('x')\n"
            "    (ROOT / 'out.log').write_text('written, never read')\n"
            "    (ROOT / '.venv/lib/site-packages/extlib/data.txt').read_text()\n"
            "    (ROOT / '.pytest_cache/v/note.txt').read_text()\n"
            "    return path.read_text()\n",
            "tests/test_tmp.py": "from pkg.io_user import roundtrip\n\n\ndef test_tmp(tmp_path):\n"
            "    assert roundtrip(tmp_path / 'f.txt') == 'x'\n",
        },
    )
    result, report = findings(project)
    result.assert_outcomes(passed=1)
    assert report["findings"] == []


def test_nothing_is_recorded_or_printed_without_the_flag(project: pytest.Pytester) -> None:
    write(project, DATA_FILES)
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "dryci verify" not in result.stdout.str()
    assert not _session_registered(project)
    assert recorder._active is None


def _session_registered(pytester: pytest.Pytester) -> bool:
    config = pytester.parseconfigure()
    return config.pluginmanager.get_plugin("dryci-verify-session") is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dryci-verify-jobs=0"], "ERROR: --dryci-verify-jobs: expected a positive integer, got '0'"),
        (["--dryci-verify-config=nope.yaml"], "ERROR: --dryci-verify-config: */nope.yaml does not exist"),
        (
            ["--dryci"],
            "ERROR: --dryci-verify runs every test: combine it with --dryci only together with "
            "--dryci-no-skip",
        ),
        (
            ["--dryci-verify-isolated", "-p", "xdist", "-n", "2"],
            "ERROR: --dryci-verify-isolated starts its own processes: use --dryci-verify-jobs N instead of "
            "-n/--dist",
        ),
    ],
)
def test_bad_options_are_usage_errors_naming_the_flag(
    project: pytest.Pytester, args: list[str], message: str
) -> None:
    result = project.runpytest("--dryci-verify", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_repository_without_a_config_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("--dryci-verify")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --dryci-verify: no repo_dagger.yaml, * found in *; pass --dryci-verify-config PATH"]
    )


def test_an_invalid_config_is_a_usage_error_naming_the_key(project: pytest.Pytester) -> None:
    (project.path / "repo_dagger.yaml").write_text("inputs: 'tests/**'\nno_such_key: 1\n")
    result = project.runpytest("--dryci-verify")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --dryci-verify: *repo_dagger.yaml*no_such_key*"])


def test_the_dryci_verify_command_runs_pytest_with_the_verifier(project: pytest.Pytester) -> None:
    write(project, DATA_FILES)
    result = project.run(
        sys.executable,
        "-m",
        "dryci.cli",
        "verify",
        "--strict",
        "--json",
        "out.json",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["dryci verify: 2 test files use 2 files the dependency graph does not *"])
    report = json.loads((project.path / "out.json").read_text())
    assert len(report["findings"]) == 2


def test_the_example_project_has_no_findings(pytester: pytest.Pytester) -> None:
    shutil.copytree(
        EXAMPLE_PROJECT,
        pytester.path / "example",
        dirs_exist_ok=False,
        ignore=shutil.ignore_patterns("__pycache__", ".repo_dagger_cache", ".pytest_cache"),
    )
    pytester.chdir()
    result = pytester.runpytest_subprocess(
        "--rootdir",
        "example",
        "-c",
        "example/pyproject.toml",
        "-p",
        "no:cacheprovider",
        "--dryci-verify-strict",
        "example/tests",
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["dryci verify: 3 test files checked; every file they used is in the *graph"])


def test_submodules_an_earlier_test_file_bound_on_a_package_are_not_findings(
    project: pytest.Pytester,
) -> None:
    write(
        project,
        {
            "pkg/sub/__init__.py": "",
            "pkg/sub/deep.py": "VALUE = 1\n",
            "tests/test_a.py": "import pkg.sub.deep\n\n\ndef test_a():\n    assert pkg.sub.deep.VALUE == 1\n",
            # `pkg` now carries the attribute `sub` (and `sub` carries `deep`), but test_b never uses them.
            "tests/test_b.py": "import pkg\n\n\ndef test_b():\n    assert pkg.__name__ == 'pkg'\n",
        },
    )
    result, report = findings(project)
    result.assert_outcomes(passed=2)
    assert report["findings"] == []
