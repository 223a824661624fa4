"""``pytest --dryci`` against remote caches (fake and real servers) and broken stores."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
from typing import Any

import pytest

from tests.plugin.conftest import ALL_TESTS, cached_line, write
from tests.store.fake_servers import MemoryCache, Reply, refused_url, serve

RUNNING_ALL = "(running all tests)"


def status_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if line.startswith("dryci: ") and " cached, " not in line]


def test_a_remote_cache_is_used_over_v2_with_provenance(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    cache = MemoryCache()
    with serve(cache) as server:
        env.setenv("DRYCI_SERVER", server.url)
        env.setenv("DRYCI_TOKEN", "tok")
        env.setenv("GITHUB_ACTIONS", "true")
        env.setenv("GITHUB_REF_NAME", "main")
        env.setenv("GITHUB_SHA", "abc123")
        env.setenv("GITHUB_REPOSITORY", "acme/app")
        env.setenv("GITHUB_RUN_ID", "42")
        project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
        second = project.runpytest("--dryci")
    second.assert_outcomes()
    assert second.ret == 0
    publish = next(r for r in server.requests if r.path == "/api/v2/publish")
    assert publish.headers["Authorization"] == "Bearer tok"
    assert publish.body["provenance"] == {
        "branch": "main",
        "commit": "abc123",
        "run_url": "https://github.com/acme/app/actions/runs/42",
    }
    assert publish.body["stats"]["passed"] == ALL_TESTS
    assert sorted(e["test_count"] for e in publish.body["entries"].values()) == [1, 1, 1, 2]
    # Nothing on the wire names a file or a test.
    for request in server.requests:
        assert "test_ops" not in str(request.body)


def test_a_v1_only_server_still_caches_tests(project: pytest.Pytester, env: pytest.MonkeyPatch) -> None:
    with serve(MemoryCache(v1_only=True)) as server:
        env.setenv("DRYCI_SERVER", server.url)
        project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
        # v1 has no test counts, so no collection shortcut: the cached tests show as skipped.
        project.runpytest("--dryci").assert_outcomes(skipped=ALL_TESTS)


def always(reply: Reply) -> Any:
    return lambda path, body: reply


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(status=500), "HTTP 500"),
        (Reply(status=503), "HTTP 503"),
        (Reply(status=429, headers={"Retry-After": "0"}), "HTTP 429"),
        (Reply(status=401), "HTTP 401: the server rejected the token (check DRYCI_TOKEN)"),
        (Reply(status=403), "HTTP 403: the server rejected the token"),
        (Reply(body=b"not json at all"), "is not valid JSON"),
        (
            Reply(body={"entries": [{"test_count": 1, "tests": {"0" * 32: 1.0}}] * 9}),
            "expected 5 entries, got 9",
        ),
        (Reply(body=b" " * (9 * 1024 * 1024)), "answer larger than"),
    ],
    ids=["500", "503", "429", "401", "403", "garbage", "unasked-entries", "huge"],
)
def test_a_failing_server_means_one_line_and_every_test_runs(
    project: pytest.Pytester, env: pytest.MonkeyPatch, reply: Reply, message: str
) -> None:
    write(project.path / "tests/test_fails.py", "def test_fails():\n    assert False\n")
    with serve(always(reply)) as server:
        env.setenv("DRYCI_SERVER", server.url)
        env.setenv("DRYCI_TIMEOUT", "1")
        result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS, failed=1)
    assert result.ret == 1  # the tests' exit code, nothing else
    query_line = status_lines(result)[0]
    assert message in query_line
    assert query_line.endswith(RUNNING_ALL)
    # Publishing is not attempted against a server that already failed (circuit breaker).
    assert len(status_lines(result)) == 1
    assert "Traceback" not in result.stdout.str()


def test_an_unreachable_server_means_one_line_and_exit_code_of_the_tests(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    env.setenv("DRYCI_SERVER", refused_url())
    result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    assert result.ret == 0
    lines = status_lines(result)
    assert "cannot reach the server" in lines[0] and lines[0].endswith(RUNNING_ALL)
    assert len(lines) == 1


def test_an_endlessly_slow_server_costs_at_most_the_timeout(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    def trickle(path: str, body: Any) -> Reply:
        return Reply(body=itertools.repeat(b" ", 10_000), delay_between_chunks=0.05)

    with serve(trickle) as server:
        env.setenv("DRYCI_SERVER", server.url)
        env.setenv("DRYCI_TIMEOUT", "0.5")
        result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    assert "within 0.5 s" in status_lines(result)[0]


def test_a_publish_that_fails_never_changes_the_exit_code(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    cache = MemoryCache()

    def no_publish(path: str, body: Any) -> Reply:
        return Reply(status=500) if "publish" in path else cache(path, body)

    with serve(no_publish) as server:
        env.setenv("DRYCI_SERVER", server.url)
        env.setenv("DRYCI_TIMEOUT", "0.5")
        result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    assert result.ret == 0
    assert status_lines(result) == [
        f"dryci: could not publish results: {server.url}: HTTP 500 from /api/v2/publish"
        " (gave up after 3 attempts)"
    ]


def test_a_corrupt_local_cache_is_moved_aside_in_one_line_and_every_test_runs(
    project: pytest.Pytester,
) -> None:
    db = project.path / ".pytest_cache/d/dryci/results.sqlite"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"garbage" * 1000)
    result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    assert result.ret == 0
    (line,) = status_lines(result)
    assert line.startswith("dryci: the local cache was corrupt (file is not a database); moved it to ")
    assert len(list(db.parent.glob("results.sqlite.corrupt-*"))) == 1
    # A fresh cache took its place: the next run is cached again.
    project.runpytest("--dryci").assert_outcomes()


def test_a_local_cache_locked_by_another_writer_is_still_read_and_publish_fails_in_one_line(
    project: pytest.Pytester,
) -> None:
    project.runpytest("--dryci", "-k", "add").assert_outcomes(passed=1)
    holder = sqlite3.connect(str(project.path / ".pytest_cache/d/dryci/results.sqlite"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = project.runpytest("--dryci", "-o", "dryci_lock_timeout=0.2")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # WAL lets readers through while another process writes: the cached test is still skipped.
    result.assert_outcomes(passed=ALL_TESTS - 1, skipped=1)
    assert result.ret == 0
    (line,) = status_lines(result)
    assert line.startswith("dryci: could not save results: local cache") and "database is locked" in line


def test_end_to_end_against_a_real_dryci_server(project: pytest.Pytester, env: pytest.MonkeyPatch) -> None:
    from tests.live_server import live_server

    with live_server("sqlite:///" + str(project.path / "server.db"), log_dir=project.path) as server:
        tokens = server.project("acme")
        env.setenv("DRYCI_SERVER", server.url)
        env.setenv("DRYCI_TOKEN", tokens.write)
        first = project.runpytest("--dryci")
        first.assert_outcomes(passed=ALL_TESTS)
        assert status_lines(first) == []
        second = project.runpytest("--dryci")
        assert second.ret == 0
        assert cached_line(second).startswith(f"dryci: {ALL_TESTS} of {ALL_TESTS} tests cached")
        # A read-only token uses the cache and reports its run; the server says it may not publish,
        # so it does not try: read-only is the documented setup, nothing to say about it.
        env.setenv("DRYCI_TOKEN", tokens.read)
        env.setenv("DRYCI_SALT", "other")
        third = project.runpytest("--dryci")
        third.assert_outcomes(passed=ALL_TESTS)
        assert third.ret == 0
        assert status_lines(third) == []


def test_two_pytest_processes_can_share_the_local_cache_at_once(project: pytest.Pytester) -> None:
    for i in range(20):
        write(project.path / f"tests/test_bulk_{i}.py", "def test_one():\n    pass\n")
    command = [sys.executable, "-m", "pytest", "--dryci", "-q"]
    pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    runs = [subprocess.Popen(command, cwd=project.path, **pipe) for _ in range(2)]  # type: ignore[call-overload]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    for output in outputs:
        assert "running all tests" not in output and "could not" not in output, output
    # Run as they ran: pytester's in-process runs set COLUMNS and LINES, which are in the key.
    again = subprocess.run(command, cwd=project.path, capture_output=True, text=True, timeout=120)
    assert f"dryci: {ALL_TESTS + 20} of {ALL_TESTS + 20} tests cached" in again.stdout, again.stdout


def test_under_xdist_the_controller_alone_queries_and_publishes_once(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    cache = MemoryCache()
    with serve(cache) as server:
        env.setenv("DRYCI_SERVER", server.url)
        project.runpytest_subprocess("--dryci", "-n", "2", "-p", "xdist").assert_outcomes(passed=ALL_TESTS)
    # The run's report is answered 404 by this fake (a server from before it): publishing goes on.
    assert [r.path for r in server.requests] == ["/api/v2/query", "/api/v2/runs", "/api/v2/publish"]
    assert sum(len(e["tests"]) for e in cache.data.values()) == ALL_TESTS
