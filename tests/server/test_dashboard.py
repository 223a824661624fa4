"""The dashboard in headless Chromium (Playwright) against a seeded database."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from dryci.protocol import FileEntry, Provenance, PublishRequest, PublishStats
from dryci.protocol.usage import RunUsage
from dryci.server.backends import open_backend
from dryci.server.backends.base import Principal, RunReport, UsageDay
from dryci.server.recorder import day_of
from tests.conftest import require_service
from tests.live_server import live_server
from tests.server.helpers import key, tid

CHROMIUM = "/usr/bin/chromium"
DAY = 86400.0


def seed(db: str) -> None:
    """Project "webshop": 75 % hit rate, 120 tests skipped, an hour saved, two runs with provenance."""
    backend = open_backend(db)
    try:
        now = time.time()
        project = backend.create_project("webshop", None, now)
        backend.create_project("empty", None, now)
        backend.create_token("webshop", "ci", "seedtoken", "h", "write", "", None, now)
        who = Principal("seedtoken", project.id, "webshop", "ci", "write", "")
        for n, branch in enumerate(("main", "feature/login")):
            backend.publish(
                who,
                PublishRequest(
                    {key(n): FileEntry({tid(n): 2.0}, test_count=1)},
                    Provenance(branch=branch, commit=f"deadbeef{n}", run_url=f"https://ci.example/run/{n}"),
                    PublishStats(total=10, passed=9, failed=1, skipped_by_cache=60, seconds_saved=1800.0),
                ),
                "v2",
                now - n * DAY,
            )
        backend.add_run_reports(
            [
                RunReport(
                    project.id,
                    "",
                    "seedtoken",
                    now - n * DAY,
                    RunUsage(
                        "file",
                        tests_total=70,
                        tests_run=10,
                        tests_skipped=60,
                        seconds_saved=1800.0,
                        provenance=Provenance(branch, f"deadbeef{n}", f"https://ci.example/run/{n}"),
                    ),
                )
                for n, branch in enumerate(("main", "feature/login"))
            ]
        )
        backend.add_usage(
            [
                UsageDay(
                    project.id,
                    day_of(now),
                    queries=4,
                    hits=20,
                    misses=5,
                    tests_skipped=60,
                    seconds_saved=1800.0,
                ),
                UsageDay(
                    project.id,
                    day_of(now - DAY),
                    queries=2,
                    hits=10,
                    misses=5,
                    tests_skipped=60,
                    seconds_saved=1800.0,
                ),
            ]
        )
    finally:
        backend.close()


def test_the_dashboard_needs_a_token_unless_public(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    seed(db)
    with live_server(db, log_dir=tmp_path) as server:
        assert 'name="token"' in httpx.get(server.url + "/").text
        bad = httpx.post(server.url + "/login", data={"token": "dryci_nope_nope"})
        assert bad.status_code == 401
        assert "unknown token" in bad.text
    with live_server(db, ["--dashboard-public"], log_dir=tmp_path) as server:
        page = httpx.get(server.url + "/").text
        assert 'data-project="webshop"' in page and 'data-project="empty"' in page


@pytest.mark.browser
def test_the_dashboard_shows_the_seeded_numbers_in_chromium(tmp_path: Path) -> None:
    require_service(f"headless Chromium at {CHROMIUM}", os.access(CHROMIUM, os.X_OK))
    from playwright.sync_api import sync_playwright

    db = f"sqlite:///{tmp_path / 'seeded.db'}"
    seed(db)
    screenshot = tmp_path / "dashboard.png"
    with live_server(db, log_dir=tmp_path) as server, sync_playwright() as playwright:
        token = server.token("webshop", "viewer", "read")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
            ],
        )
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            page.fill("input[name=token]", token)
            page.click("button[type=submit]")
            project = page.locator('section[data-project="webshop"]')
            assert project.locator(".hit-rate").inner_text() == "75.0%"
            assert project.locator(".tests-skipped").inner_text() == "120"
            assert project.locator(".time-saved").inner_text() == "1.0 h"
            assert project.locator("svg.saved-chart rect").count() == 30
            runs = project.locator("table.runs tr")
            assert runs.count() == 3  # header and two runs, newest first
            assert "main" in runs.nth(1).inner_text()
            assert "feature/login" in runs.nth(2).inner_text()
            assert runs.nth(1).locator(".user").inner_text() == "ci"  # the token's user, not its id
            assert "seedtoken" not in page.content()
            assert page.locator('section[data-project="empty"]').count() == 0  # a read token sees its project
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    print(f"dashboard screenshot: {screenshot}")


def test_an_oversized_login_form_is_refused(tmp_path: Path) -> None:
    with live_server(f"sqlite:///{tmp_path / 'l.db'}", log_dir=tmp_path) as server:
        answer = httpx.post(server.url + "/login", data={"token": "x" * 10_000})
        assert answer.status_code == 413


def test_logging_out_forgets_the_session(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'o.db'}"
    seed(db)
    with live_server(db, log_dir=tmp_path) as server:
        token = server.token("webshop", "viewer", "read")
        with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
            assert 'data-project="webshop"' in browser.post("/login", data={"token": token}).text
            page = browser.post("/logout").text
            assert 'name="token"' in page
            assert "webshop" not in page


def seed_shadow(db: str) -> None:
    """Three projects: shadow runs that missed failures, shadow runs that missed none, and none at all."""
    backend = open_backend(db)
    try:
        now = time.time()
        stale = backend.create_project("stale", None, now).id
        sound = backend.create_project("sound", None, now).id
        backend.create_project("unchecked", None, now)
        backend.add_usage(
            [
                UsageDay(stale, day_of(now), runs=3, shadow_runs=2, shadow_would_skip=90, shadow_missed=2),
                UsageDay(stale, day_of(now - DAY), runs=1, shadow_runs=1, shadow_would_skip=45),
                UsageDay(sound, day_of(now), runs=1, shadow_runs=1, shadow_would_skip=1200),
            ]
        )
    finally:
        backend.close()


@pytest.mark.browser
def test_the_shadow_panel_shows_missed_failures_in_red_in_chromium(tmp_path: Path) -> None:
    require_service(f"headless Chromium at {CHROMIUM}", os.access(CHROMIUM, os.X_OK))
    from playwright.sync_api import sync_playwright

    db = f"sqlite:///{tmp_path / 'shadow.db'}"
    seed_shadow(db)
    screenshot = tmp_path / "dashboard-shadow.png"
    with live_server(db, ["--dashboard-public"], log_dir=tmp_path) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            stale = page.locator('section[data-project="stale"] .shadow')
            assert stale.locator(".shadow-runs").inner_text() == "3"
            assert stale.locator(".shadow-would-skip").inner_text() == "135"
            missed = stale.locator(".shadow-missed")
            assert missed.inner_text() == "2"
            assert missed.evaluate("e => getComputedStyle(e).color") == "rgb(187, 0, 0)"
            sound = page.locator('section[data-project="sound"] .shadow')
            assert sound.locator(".shadow-would-skip").inner_text() == "1,200"
            assert sound.locator(".shadow-missed").inner_text() == "0"
            assert (
                sound.locator(".shadow-missed").evaluate("e => getComputedStyle(e).color") != "rgb(187, 0, 0)"
            )
            unchecked = page.locator('section[data-project="unchecked"] .shadow')
            assert "no shadow runs in the last 30 days" in unchecked.inner_text()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    print(f"dashboard screenshot: {screenshot}")


def run_report(server_url: str, token: str, **body: object) -> None:
    body = {"level": "file", "tests_run": 0, "tests_skipped": 0, "seconds_run": 0.0, **body}
    answer = httpx.post(server_url + "/api/v2/runs", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text


@pytest.mark.browser
def test_the_teams_view_in_chromium(db_url: str, tmp_path: Path) -> None:
    """Totals first, fully cached runs listed with user names, a chart whose scale agrees with its label,
    time saved per week: all from runs reported over HTTP, on SQLite and on PostgreSQL."""
    require_service(f"headless Chromium at {CHROMIUM}", os.access(CHROMIUM, os.X_OK))
    from playwright.sync_api import sync_playwright

    screenshot = tmp_path / f"dashboard-team-{db_url.split(':')[0]}.png"
    with live_server(db_url, log_dir=tmp_path) as server, sync_playwright() as playwright:
        server.admin("projects", "create", "shop")
        server.admin("projects", "create", "docs")
        alice, ci = server.token("shop", "alice", "read"), server.token("shop", "ci", "write")
        bob, lead = server.token("docs", "bob", "read"), server.token("docs", "lead", "admin")
        run_report(
            server.url,
            ci,
            tests_total=54,
            tests_run=4,
            tests_skipped=50,
            seconds_run=2.0,
            seconds_saved=0.03,
            provenance={"branch": "main", "run_url": "https://ci.example/7"},
        )
        run_report(server.url, alice, tests_total=54, tests_skipped=54, seconds_saved=0.01)
        run_report(server.url, bob, tests_total=10, tests_run=10, seconds_run=1.0, seconds_saved=0.0)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            page.fill("input[name=token]", lead)
            page.click("button[type=submit]")
            deadline = time.monotonic() + 10
            while page.locator("table.runs tr.run, table.runs tr.fully-cached").count() < 3:
                assert time.monotonic() < deadline, page.content()  # the server flushes about once a second
                time.sleep(0.3)
                page.reload()
            first = page.locator("section").first
            assert first.get_attribute("class") == "totals"
            assert first.locator(".total-runs").inner_text() == "3"
            assert first.locator(".total-tests-run").inner_text() == "14"
            assert first.locator(".total-tests-cached").inner_text() == "104"
            assert first.locator(".total-time-saved").inner_text() == "0.04 s"
            shop = page.locator('section[data-project="shop"]')
            rows = shop.locator("table.runs tr")
            assert rows.nth(1).get_attribute("class") == "fully-cached"
            assert rows.nth(1).locator(".user").inner_text() == "alice"
            assert rows.nth(2).locator(".user").inner_text() == "ci"
            assert "main" in rows.nth(2).inner_text()
            content = page.content()
            for token in (alice, ci, bob, lead):  # neither a secret nor a token id
                assert token.split("_")[1] not in content and token not in content
            # The scale: its label names the top of the bar area, and the fullest bar stays below it.
            chart = shop.locator("svg.saved-chart")
            assert chart.locator(".scale-label").text_content() == "0.05 s per day"
            line_y = chart.locator(".scale-line").bounding_box()["y"]  # type: ignore[index]
            bar = chart.locator("rect").last.bounding_box()
            assert bar is not None and bar["y"] > line_y
            full = 130.0  # pixels of the bar area: a bar of 0.04 s is 4/5 of it
            assert bar["height"] == pytest.approx(0.04 / 0.05 * full, abs=0.6)
            assert shop.locator(".saved-this-week").inner_text() == "0.04 s"
            assert shop.locator("table.weekly .week-saved").first.inner_text() == "0.04 s"
            assert shop.locator("table.weekly tr").count() == 5  # a header and four weeks
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    print(f"dashboard screenshot: {screenshot}")
