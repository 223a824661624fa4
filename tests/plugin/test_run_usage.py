"""Every run reports its usage to a real ``dryci server``: read tokens, fully cached runs, shadow runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live_server import LiveServer, ProjectTokens, live_server
from tests.plugin.conftest import ALL_TESTS, write
from tests.plugin.test_shadow import READS_UNDECLARED, shadow_line


@pytest.fixture
def acme(project: pytest.Pytester, env: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, ProjectTokens]]:
    with live_server(
        "sqlite:///" + str(project.path / "server.db"), ["--rate-limit", "0"], log_dir=project.path
    ) as live:
        tokens = live.project("acme")
        env.setenv("DRYCI_SERVER", live.url)
        env.setenv("DRYCI_TOKEN", tokens.write)
        yield live, tokens


def usage(server: LiveServer, tokens: ProjectTokens, runs: int) -> dict[str, Any]:
    """Today's usage once ``runs`` runs are counted (the server flushes about once a second)."""
    deadline = time.monotonic() + 10
    while True:
        days = httpx.get(server.url + "/api/v2/usage", headers=tokens.auth("read")).json()["days"]
        if (days and days[0]["runs"] >= runs) or time.monotonic() > deadline:
            assert days and days[0]["runs"] == runs, days
            day: dict[str, Any] = days[0]
            return day
        time.sleep(0.2)


def status_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if line.startswith("dryci: ") and " cached, " not in line]


def test_a_read_token_run_is_counted_and_says_nothing_about_publishing(
    project: pytest.Pytester, acme: tuple[LiveServer, ProjectTokens], env: pytest.MonkeyPatch
) -> None:
    server, tokens = acme
    env.setenv("DRYCI_TOKEN", tokens.read)
    result = project.runpytest("--dryci")
    result.assert_outcomes(passed=ALL_TESTS)
    assert status_lines(result) == []  # no "HTTP 403 ... check DRYCI_TOKEN", no "could not publish"
    day = usage(server, tokens, 1)
    assert (day["tests_total"], day["tests_run"], day["tests_skipped"]) == (ALL_TESTS, ALL_TESTS, 0)
    assert day["tests_published"] == 0


def test_a_fully_cached_run_is_counted(
    project: pytest.Pytester, acme: tuple[LiveServer, ProjectTokens]
) -> None:
    server, tokens = acme
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)
    cached = project.runpytest("--dryci")
    cached.assert_outcomes()  # nothing collected, nothing published
    day = usage(server, tokens, 2)
    assert (day["tests_total"], day["tests_run"], day["tests_skipped"]) == (
        2 * ALL_TESTS,
        ALL_TESTS,
        ALL_TESTS,
    )
    assert day["tests_published"] == ALL_TESTS  # the first run's; the cached run stored nothing
    assert day["seconds_saved"] > 0


def test_a_shadow_runs_counts_and_missed_failures_are_stored(
    project: pytest.Pytester, acme: tuple[LiveServer, ProjectTokens], env: pytest.MonkeyPatch
) -> None:
    server, tokens = acme
    write(project.path / "tests/test_env.py", READS_UNDECLARED)
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS + 1)
    env.setenv("BREAK_IT", "1")  # the entry of test_env.py goes stale: its key does not hold the variable
    shadow = project.runpytest("--dryci-shadow")
    shadow.assert_outcomes(passed=ALL_TESTS, failed=1)
    assert shadow_line(shadow).endswith("; 1 of them failed")
    day = usage(server, tokens, 2)
    assert (day["shadow_runs"], day["shadow_would_skip"], day["shadow_missed"]) == (1, ALL_TESTS + 1, 1)
    assert day["tests_skipped"] == 0  # the shadow run skipped nothing


def test_a_fully_cached_run_is_listed_on_the_dashboard_with_its_provenance_and_user(
    project: pytest.Pytester, acme: tuple[LiveServer, ProjectTokens], env: pytest.MonkeyPatch
) -> None:
    server, tokens = acme
    project.runpytest("--dryci").assert_outcomes(passed=ALL_TESTS)  # write token, user "ci": no CI variables
    env.setenv("DRYCI_TOKEN", tokens.read)  # user "pr"
    env.setenv("GITLAB_CI", "true")
    env.setenv("CI_COMMIT_REF_NAME", "feature/cart")
    env.setenv("CI_COMMIT_SHA", "0123456789abcdef" * 2)
    env.setenv("CI_JOB_URL", "https://gitlab.example/acme/-/jobs/42")
    project.runpytest("--dryci").assert_outcomes()  # fully cached
    usage(server, tokens, 2)  # counted, so listed: the reports are written before the counters
    with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
        page = browser.post("/login", data={"token": tokens.read}).text
    rows = page.split('<table class="runs">', 1)[1].split("</table>", 1)[0].split("<tr")[2:]
    assert len(rows) == 2, rows
    newest, first = rows
    assert newest.startswith(' class="fully-cached"')
    assert '<td class="user">pr</td><td>feature/cart</td><td>0123456789ab</td>' in newest
    assert f"<td>{ALL_TESTS}</td><td>0</td><td>{ALL_TESTS}</td>" in newest
    assert 'href="https://gitlab.example/acme/-/jobs/42"' in newest
    assert '<td class="user">ci</td><td></td><td></td>' in first
