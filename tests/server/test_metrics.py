"""``GET /metrics`` (prometheus_client): per-project series, time saved, bounded labels, N workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dryci.server.backends.base import Principal
from dryci.server.metrics import OTHER, Metrics
from dryci.server.recorder import MAX_SECONDS_PER_PUBLISH
from tests.live_server import LiveServer, ProjectTokens, live_server
from tests.server.helpers import key, tid

Labels = tuple[tuple[str, str], ...]


def samples(text: str) -> dict[tuple[str, Labels], float]:
    """Every sample of an exposition, by name and sorted labels (the real Prometheus text parser)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(url: str) -> dict[tuple[str, Labels], float]:
    answer = httpx.get(url + "/metrics", timeout=30)
    assert answer.status_code == 200
    return samples(answer.text)


def of(project: str, namespace: str = "") -> Labels:
    return (("namespace", namespace), ("project", project))


def post(server: LiveServer, path: str, token: str, body: object) -> httpx.Response:
    answer = httpx.post(
        server.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer


RUN = {
    "level": "file",
    "tests_total": 10,
    "tests_run": 2,
    "tests_skipped": 8,
    "seconds_run": 1.5,
    "seconds_saved": 12.5,
}


def test_hits_misses_publishes_and_time_saved_are_counted_per_project(server: LiveServer) -> None:
    a, b = server.project(), server.project()
    entries = {key("m-a"): {"tests": {tid(1): 0.1, tid(2): 0.2}}}
    post(server, "/api/v2/publish", a.write, {"entries": entries})
    post(server, "/api/v2/query", a.read, {"keys": [key("m-a"), key("m-missing")]})
    post(server, "/api/v1/query-passed", b.read, {"test_file_hashes": [key("m-b")]})
    post(server, "/api/v2/runs", a.read, RUN)
    found = scrape(server.url)
    assert found[("dryci_tests_published_total", of(a.project))] == 2
    assert found[("dryci_cache_hits_total", of(a.project))] == 1
    assert found[("dryci_cache_misses_total", of(a.project))] == 1
    assert found[("dryci_time_saved_seconds_total", of(a.project))] == 12.5
    assert found[("dryci_cache_hits_total", of(b.project))] == 0
    assert found[("dryci_cache_misses_total", of(b.project))] == 1
    assert ("dryci_time_saved_seconds_total", of(b.project)) not in found
    route = (("method", "POST"), ("route", "/api/v2/runs"), ("status", "200"))
    assert found[("dryci_requests_total", route)] >= 1


def test_a_namespaced_token_is_its_own_series(server: LiveServer) -> None:
    p = server.project()
    pr = server.token(p.project, "pr-ci", "read", namespace="pr")
    post(server, "/api/v1/query-passed", pr, {"test_file_hashes": [key("ns")]})
    assert scrape(server.url)[("dryci_cache_misses_total", of(p.project, "pr"))] == 1


def test_every_served_path_is_its_own_route_and_the_rest_are_other(server: LiveServer) -> None:
    post(server, "/api/v2/records/query", server.project().read, {"records": ["a" * 64]})
    for n in range(3):
        assert httpx.get(f"{server.url}/no/such/path/{n}").status_code == 404
    routes = {dict(labels)["route"] for name, labels in scrape(server.url) if name == "dryci_requests_total"}
    assert {"other", "/api/v2/records/query"} <= routes
    assert not any(r.startswith("/no/") for r in routes)


def principal(project: str) -> Principal:
    return Principal("t", 1, project, "ci", "read", "")


def test_projects_beyond_the_label_limit_are_counted_as_other() -> None:
    metrics = Metrics(project_labels=2)
    for name in ("one", "two", "three", "four", "one"):
        metrics.count_query(principal(name), 1, 0)
    found = samples(metrics.render(None).decode())
    hits = {labels: v for (name, labels), v in found.items() if name == "dryci_cache_hits_total"}
    assert hits == {of("one"): 2, of("two"): 1, (("namespace", OTHER[1]), ("project", OTHER[0])): 2}


def test_a_time_saved_claim_is_bounded_as_the_usage_counters_are() -> None:
    metrics = Metrics()
    metrics.count_saved(principal("big"), 1e300)
    metrics.count_saved(principal("big"), -5.0)
    found = samples(metrics.render(None).decode())
    assert found[("dryci_time_saved_seconds_total", of("big"))] == MAX_SECONDS_PER_PUBLISH


def worker_pids(directory: Path) -> set[str]:
    """The processes that wrote metrics: prometheus_client names its files ``<kind>_<pid>.db``."""
    return {m.group(1) for f in directory.iterdir() if (m := re.fullmatch(r"\w+?_(\d+)\.db", f.name))}


def test_two_workers_report_one_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))  # the server's environment
    db = f"sqlite:///{tmp_path / 'workers.db'}"
    with live_server(db, ["--workers", "2", "--rate-limit", "0"], log_dir=tmp_path) as server:
        p: ProjectTokens = server.project()

        def query(n: int) -> None:
            # A new connection each time: either worker may accept it.
            post(server, "/api/v1/query-passed", p.read, {"test_file_hashes": [key(f"w{n}")]})

        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while len(worker_pids(directory)) < 2 and sent < 2000:
                list(pool.map(query, range(sent, sent + 16)))
                sent += 16
        assert len(worker_pids(directory)) == 2, f"one worker answered all {sent} queries"
        totals = {scrape(server.url)[("dryci_cache_misses_total", of(p.project))] for _ in range(10)}
        assert totals == {sent}  # whichever worker answers, it sums both


def test_a_metrics_directory_with_files_of_an_earlier_run_is_refused(tmp_path: Path) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dryci.cli",
            "server",
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "PROMETHEUS_MULTIPROC_DIR" in result.stderr and "earlier run" in result.stderr
    assert not (tmp_path / "x.db").exists()  # refused before the database was touched
