"""``pytest --dryci`` through a real ``dryci server``: what the plugin relies on survives the round trip."""

from __future__ import annotations

import fnmatch
import sqlite3
from collections.abc import Iterator

import pytest

from tests.live_server import LiveServer, live_server
from tests.plugin.conftest import ALL_TESTS, cached_line


@pytest.fixture
def server(project: pytest.Pytester, env: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    with live_server(
        "sqlite:///" + str(project.path / "server.db"), ["--rate-limit", "0"], log_dir=project.path
    ) as live:
        env.setenv("DRYCI_SERVER", live.url)
        env.setenv("DRYCI_TOKEN", live.project("acme").write)
        yield live


def test_entry_tags_round_trip_so_a_second_run_imports_no_test_file(
    project: pytest.Pytester, server: LiveServer
) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    second = project.runpytest("--dryci")
    second.assert_outcomes()  # every file verified by its tag: none collected
    second.stdout.fnmatch_lines(["collected 0 items"])
    assert cached_line(second).startswith(f"dryci: {ALL_TESTS} of {ALL_TESTS} tests cached")


def test_a_tampered_tag_in_the_database_makes_the_file_be_imported(
    project: pytest.Pytester, server: LiveServer
) -> None:
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    with sqlite3.connect(project.path / "server.db") as db:
        assert db.execute("UPDATE entries SET tag = ? WHERE test_count = 2", ("0" * 32,)).rowcount == 1
    third = project.runpytest("--dryci")
    # test_ops.py (two tests) is imported and its ids matched one by one; the other files shortcut.
    third.assert_outcomes(skipped=2)
    third.stdout.fnmatch_lines(["dryci: 1 cache entry failed verification*"])


def test_a_server_that_accepts_and_never_answers_costs_one_timeout_per_run(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    import time

    from tests.store.fake_servers import silent

    with silent() as hanging:
        env.setenv("DRYCI_SERVER", hanging.url)
        env.setenv("DRYCI_TIMEOUT", "0.5")
        result = project.runpytest("--dryci")
        time.sleep(0.2)  # let the accepting thread see every connection that was made
    result.assert_outcomes(passed=ALL_TESTS)
    assert result.ret == 0
    # The query waited once; the publish after it did not ask again (nor wait), and said nothing more.
    assert len(hanging.connections) == 1
    lines = [line for line in result.stdout.lines if line.startswith("dryci: ") and " cached, " not in line]
    assert len(lines) == 1 and "no answer within 0.5 s" in lines[0], lines


def test_a_rate_limited_query_runs_everything_with_one_clear_line(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    import httpx

    db = "sqlite:///" + str(project.path / "limited.db")
    args = ["--rate-limit", "0.01", "--rate-burst", "1"]  # after one request, Retry-After 100 s
    with live_server(db, args, log_dir=project.path) as live:
        token = live.project("acme").write
        env.setenv("DRYCI_SERVER", live.url)
        env.setenv("DRYCI_TOKEN", token)
        spent = httpx.post(
            live.url + "/api/v2/query", json={"keys": []}, headers={"Authorization": f"Bearer {token}"}
        )
        assert spent.status_code == 200
        result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    assert result.ret == 0
    lines = [line for line in result.stdout.lines if line.startswith("dryci: ") and " cached, " not in line]
    # Neither the function-level records nor the publish asked again, and they said nothing more.
    assert len(lines) == 1, result.stdout.lines
    assert fnmatch.fnmatch(
        lines[0],
        f"dryci: {live.url}: rate limited (HTTP 429, Retry-After 100 s), longer than the ?.? s left "
        "of the 3 s budget (DRYCI_TIMEOUT) (running all tests)",
    ), lines[0]
