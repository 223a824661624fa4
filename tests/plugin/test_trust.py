"""The cache cannot be made to lie: forged and replayed entries, interrupted runs.

Each test here plays an attacker (a server or another token holder) or an unlucky user, and checks
that no test is skipped unless it passed under exactly the current dependency hash.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.plugin.conftest import ALL_TESTS, ran, write
from tests.store.fake_servers import MemoryCache, Reply, serve

FAILING = (
    "def test_one():\n    assert False\n\n\n"
    "def test_two():\n    assert False\n\n\n"
    "def test_three():\n    pass\n"
)


def random_id() -> str:
    return secrets.token_hex(16)


def forger(*, tag: bool) -> Any:
    """A server claiming three passed tests for every key, with ids that were never published."""

    def respond(path: str, body: Any) -> Reply:
        if path == "/api/v2/query":
            entry: dict[str, Any] = {"test_count": 3, "tests": {random_id(): 1.0 for _ in range(3)}}
            if tag:
                entry["tag"] = random_id()
            return Reply(body={"entries": [entry for _ in body["keys"]]})
        return Reply(body={"stored": 0})

    return respond


@pytest.mark.parametrize("tag", [False, True], ids=["untagged", "forged-tag"])
def test_a_server_forging_all_passed_makes_no_test_skip(
    project: pytest.Pytester, env: pytest.MonkeyPatch, tag: bool
) -> None:
    write(project.path / "tests/test_fails.py", FAILING)
    with serve(forger(tag=tag)) as server:
        env.setenv("DRYCI_SERVER", server.url)
        result = project.runpytest("--dryci", "-v")
    result.assert_outcomes(passed=ALL_TESTS + 1, failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_forged_tags_are_said_in_one_line(project: pytest.Pytester, env: pytest.MonkeyPatch) -> None:
    with serve(forger(tag=True)) as server:
        env.setenv("DRYCI_SERVER", server.url)
        result = project.runpytest("--dryci")
    result.stdout.fnmatch_lines(
        ["dryci: 4 cache entries failed verification (forged, or written for other sources)*"]
    )


def test_the_canary_reports_a_forged_entry_as_a_cache_error(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    write(project.path / "tests/test_fails.py", FAILING)
    with serve(forger(tag=False)) as server:
        env.setenv("DRYCI_SERVER", server.url)
        result = project.runpytest("--dryci", "--dryci-canary=1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*dryci CACHE ERROR*",
            "dryci: 2 test(s) the cache claimed passed failed when re-run by the canary*",
            "  tests/test_fails.py::test_one",
            "  tests/test_fails.py::test_two",
        ]
    )


def test_a_real_entry_replayed_under_another_key_skips_nothing(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    cache = MemoryCache()
    with serve(cache) as server:
        env.setenv("DRYCI_SERVER", server.url)
        project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    real = [entry for entry in cache.data.values() if entry["test_count"] == 2]
    assert real and "tag" in real[0]  # test_ops.py's entry: two tests, tagged

    def replay(path: str, body: Any) -> Reply:
        if path == "/api/v2/query":
            return Reply(body={"entries": [real[0] for _ in body["keys"]]})
        return Reply(body={"stored": 0})

    write(project.path / "tests/test_fails.py", FAILING.replace("test_three", "test_add"))
    with serve(replay) as server:
        env.setenv("DRYCI_SERVER", server.url)
        result = project.runpytest("--dryci", "-v")
    # Only test_ops.py is cached (not even collected): the entry verifies under its hash alone.
    result.assert_outcomes(passed=ALL_TESTS - 2 + 1, failed=2)
    assert "tests/test_ops.py::test_add" not in ran(result)
    assert "tests/test_fails.py::test_add" in ran(result)


def test_a_tagged_entry_is_taken_as_a_whole_file_shortcut(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    cache = MemoryCache()
    with serve(cache) as server:
        env.setenv("DRYCI_SERVER", server.url)
        project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
        second = project.runpytest("--dryci")
    second.assert_outcomes()  # no file collected at all
    assert second.ret == 0


def test_an_untagged_entry_from_an_older_client_is_checked_test_by_test(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    cache = MemoryCache()
    with serve(cache) as server:
        env.setenv("DRYCI_SERVER", server.url)
        project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
        for entry in cache.data.values():
            del entry["tag"]
        second = project.runpytest("--dryci")
    second.assert_outcomes(skipped=ALL_TESTS)  # collected, and each id matched: cached


TEARDOWN_HANGS = """
import pathlib, time
import pytest

@pytest.fixture
def slow_teardown():
    yield
    if pathlib.Path("hang").exists():  # not a dependency: the next run has the same hash
        pathlib.Path("in-teardown").write_text("now")
        time.sleep(60)

def test_with_teardown(slow_teardown):
    pass
"""


def test_ctrl_c_during_a_teardown_never_publishes_that_test(project: pytest.Pytester) -> None:
    write(project.path / "tests/test_teardown.py", TEARDOWN_HANGS)
    marker = project.path / "in-teardown"
    (project.path / "hang").write_text("")
    command = [sys.executable, "-m", "pytest", "--dryci", "-p", "no:randomly", "tests/test_teardown.py"]
    process = subprocess.Popen(
        command, cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    (project.path / "hang").unlink()
    # The next run must run it again, though its dependency hash is the same.
    project.runpytest("--dryci", "tests/test_teardown.py").assert_outcomes(passed=1)
    assert "1 test that did not finish setup, call and teardown was not published" in output, output


def test_stopping_at_the_first_failure_publishes_only_finished_tests(project: pytest.Pytester) -> None:
    write(
        project.path / "tests/test_stop.py",
        "def test_a():\n    pass\n\n\ndef test_b():\n    assert False\n\n\ndef test_c():\n    pass\n",
    )
    project.runpytest("--dryci", "-x", "tests/test_stop.py", "-p", "no:randomly").assert_outcomes(
        passed=1, failed=1
    )
    # The same plugins as the first run: `-p` is part of the key.
    again = project.runpytest("--dryci", "tests/test_stop.py", "-v", "-p", "no:randomly")
    again.assert_outcomes(skipped=1, passed=1, failed=1)
    assert ran(again) == {"tests/test_stop.py::test_b", "tests/test_stop.py::test_c"}


def test_pytest_exit_inside_a_test_publishes_only_finished_tests(project: pytest.Pytester) -> None:
    write(
        project.path / "tests/test_exit.py",
        "import pytest\n\n\ndef test_a():\n    pass\n\n\ndef test_b():\n    pytest.exit('stop here')\n",
    )
    first = project.runpytest("--dryci", "tests/test_exit.py", "-p", "no:randomly")
    assert first.ret == pytest.ExitCode.INTERRUPTED
    first.stdout.fnmatch_lines(["dryci: the run stopped early*1 test that did not finish*"])
    again = project.runpytest("--dryci", "tests/test_exit.py", "-v", "-p", "no:randomly")
    assert "tests/test_exit.py::test_a" not in ran(again)
    assert again.ret == pytest.ExitCode.INTERRUPTED


def test_a_crashed_xdist_worker_never_publishes_the_test_it_ran(project: pytest.Pytester) -> None:
    write(
        project.path / "tests/test_crash.py",
        "import os\n\n\ndef test_crashes():\n    os._exit(3)\n",
    )
    first = project.runpytest_subprocess("--dryci", "-n", "2", "-p", "xdist")
    first.assert_outcomes(passed=ALL_TESTS, failed=1)
    again = project.runpytest_subprocess("--dryci", "-n", "2", "-p", "xdist", "-v")
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["*FAILED tests/test_crash.py::test_crashes*"])
