"""Skips and xfails decided by the key are cached like passes, so they no longer block the shortcut.

Real pytest runs at both levels: a marker whose condition the key decides lets the whole file be skipped
without importing it; a changed condition, or one reading something outside the key, runs again.
"""

from __future__ import annotations

import pytest

from tests.plugin.conftest import ALL_TESTS, cached_line, write

LEVELS = pytest.mark.parametrize("level", ["file", "function"])

# Each import appends a line to imports.log, so a test can tell whether the file was imported.
LOGGED = (
    "import pathlib\nimport sys\n\nimport pytest\n\n"
    "with open(pathlib.Path(__file__).parent.parent / 'imports.log', 'a') as log:\n"
    "    log.write('imported\\n')\n\n\n"
)
MARKED = LOGGED + (
    "def test_runs():\n    pass\n\n\n"
    "@pytest.mark.skipif(sys.version_info < (99,), reason='needs Python 99')\n"
    "def test_needs_the_future():\n    assert False\n\n\n"
    "@pytest.mark.skip(reason='not yet')\ndef test_later():\n    assert False\n\n\n"
    "@pytest.mark.xfail(sys.platform != 'no-such-os', reason='known bug', strict=True)\n"
    "def test_known_bug():\n    assert False\n"
)


def imports(project: pytest.Pytester) -> int:
    log = project.path / "imports.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


@LEVELS
def test_a_file_whose_other_tests_are_skipped_by_markers_is_fully_cached(
    project: pytest.Pytester, level: str
) -> None:
    write(project.path / "tests/test_marked.py", MARKED)
    first = project.runpytest("--dryci", f"--dryci-level={level}")
    first.assert_outcomes(passed=ALL_TESTS + 1, skipped=2, xfailed=1)
    assert imports(project) == 1

    second = project.runpytest("--dryci", f"--dryci-level={level}")
    assert imports(project) == 1, "the fully cached file was imported again"
    # Cached skips are not counted as cached tests: they would not have run anyway.
    assert cached_line(second).startswith(f"dryci: {ALL_TESTS + 1} of {ALL_TESTS + 1} tests cached")
    assert second.ret == 0


@LEVELS
def test_a_changed_skip_condition_runs_the_test_again(project: pytest.Pytester, level: str) -> None:
    test_file = project.path / "tests/test_marked.py"
    write(test_file, MARKED)
    project.runpytest("--dryci", f"--dryci-level={level}")
    # The condition now lets the test run, and it fails: the cached skip must not hide that.
    write(test_file, MARKED.replace("sys.version_info < (99,)", "sys.version_info < (3,)"))
    result = project.runpytest("--dryci", f"--dryci-level={level}", "-rA")
    result.stdout.fnmatch_lines(["FAILED tests/test_marked.py::test_needs_the_future*"])
    assert result.ret == 1


@LEVELS
def test_a_skip_reading_an_environment_variable_is_never_cached(
    project: pytest.Pytester, level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        project.path / "tests/test_env.py",
        LOGGED + "import os\n\n\n"
        "@pytest.mark.skipif(os.environ.get('RUN_SLOW') != '1', reason='slow')\n"
        "def test_slow():\n    assert False\n",
    )
    monkeypatch.delenv("RUN_SLOW", raising=False)
    project.runpytest("--dryci", f"--dryci-level={level}").assert_outcomes(passed=ALL_TESTS, skipped=1)
    project.runpytest("--dryci", f"--dryci-level={level}")
    assert imports(project) == 2, "a file whose skip reads the environment was taken as fully cached"

    monkeypatch.setenv("RUN_SLOW", "1")
    result = project.runpytest("--dryci", f"--dryci-level={level}")
    result.assert_outcomes(failed=1)  # the other files are cached whole, not even collected
    assert result.ret == 1


@LEVELS
def test_a_skip_called_in_the_test_body_is_never_cached(project: pytest.Pytester, level: str) -> None:
    write(
        project.path / "tests/test_body.py",
        LOGGED + "def test_maybe():\n    pytest.skip('decided at run time')\n",
    )
    project.runpytest("--dryci", f"--dryci-level={level}").assert_outcomes(passed=ALL_TESTS, skipped=1)
    project.runpytest("--dryci", f"--dryci-level={level}").assert_outcomes(skipped=1)
    assert imports(project) == 2


@LEVELS
def test_a_module_skipped_by_importorskip_of_a_missing_distribution_is_cached(
    project: pytest.Pytester, level: str
) -> None:
    write(
        project.path / "tests/test_optional.py",
        LOGGED + "pytest.importorskip('no_such_distribution_here')\n\n\ndef test_uses_it():\n    pass\n",
    )
    project.runpytest("--dryci", f"--dryci-level={level}").assert_outcomes(passed=ALL_TESTS, skipped=1)
    second = project.runpytest("--dryci", f"--dryci-level={level}")
    assert imports(project) == 1, "the module skipped at import was imported again"
    assert second.ret == 0


COMPAT = (
    "import os\nimport sys\n\n"
    "WIN = sys.platform.startswith('win')\n"
    "SLOW = os.environ.get('RUN_SLOW') != '1'\n"
)
IMPORTED_CONDITION = LOGGED + (
    "from calc.compat import {name}\n\n\n"
    "def test_runs():\n    pass\n\n\n"
    "@pytest.mark.skipif({condition}, reason='not here')\n"
    "def test_elsewhere():\n    assert False\n"
)


@LEVELS
def test_a_skip_on_a_name_imported_from_the_project_is_cached_when_that_module_shows_its_value(
    project: pytest.Pytester, level: str
) -> None:
    write(project.path / "src/calc/compat.py", COMPAT)
    write(project.path / "tests/test_windows.py", IMPORTED_CONDITION.format(name="WIN", condition="not WIN"))
    project.runpytest("--dryci", f"--dryci-level={level}").assert_outcomes(passed=ALL_TESTS + 1, skipped=1)
    second = project.runpytest("--dryci", f"--dryci-level={level}")
    assert imports(project) == 1, "the file skipped on a platform name from the project was imported again"
    assert second.ret == 0

    # The module now says otherwise: it is in the file's closure, so the file runs and its test fails.
    write(project.path / "src/calc/compat.py", COMPAT.replace("sys.platform.startswith('win')", "True"))
    third = project.runpytest("--dryci", f"--dryci-level={level}", "-rA")
    third.stdout.fnmatch_lines(["FAILED tests/test_windows.py::test_elsewhere*"])
    assert third.ret == 1


@LEVELS
def test_a_skip_on_an_imported_name_that_reads_the_environment_is_never_cached(
    project: pytest.Pytester, level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUN_SLOW", raising=False)
    write(project.path / "src/calc/compat.py", COMPAT)
    write(project.path / "tests/test_slow.py", IMPORTED_CONDITION.format(name="SLOW", condition="SLOW"))
    project.runpytest("--dryci", f"--dryci-level={level}").assert_outcomes(passed=ALL_TESTS + 1, skipped=1)
    project.runpytest("--dryci", f"--dryci-level={level}")
    assert imports(project) == 2, "a skip reading the environment through the project was cached"
