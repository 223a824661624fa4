"""Every endpoint over real HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx

from dryci.server.backends import schema
from tests.live_server import LiveServer
from tests.server.helpers import key, tid


def post(server: LiveServer, path: str, token: str, body: object) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_v1_publish_then_query_returns_the_ids_per_hash_in_order(server: LiveServer) -> None:
    p = server.project()
    published = post(
        server,
        "/api/v1/publish",
        p.write,
        {
            "passed_node_ids_per_test_file": {key(1): [tid(1), tid(2)], key(2): [tid(3)]},
            "total_test_count": 4,
            "passed_test_count": 3,
            "failed_test_count": 1,
            "skipped_test_count": 0,
            "skipped_by_cache_test_count": 0,
        },
    )
    assert published.status_code == 200
    assert published.json() == {}
    answer = post(server, "/api/v1/query-passed", p.read, {"test_file_hashes": [key(2), key(9), key(1)]})
    assert answer.status_code == 200
    assert answer.json() == {"node_ids": [[tid(3)], [], sorted([tid(1), tid(2)])]}


def test_v1_publish_adds_ids_to_what_the_hash_already_has(server: LiveServer) -> None:
    p = server.project()
    post(server, "/api/v1/publish", p.write, {"passed_node_ids_per_test_file": {key(1): [tid(1)]}})
    post(server, "/api/v1/publish", p.write, {"passed_node_ids_per_test_file": {key(1): [tid(2), tid(1)]}})
    answer = post(server, "/api/v1/query-passed", p.read, {"test_file_hashes": [key(1)]})
    assert answer.json() == {"node_ids": [sorted([tid(1), tid(2)])]}


def test_v1_query_of_an_empty_list_answers_an_empty_list(server: LiveServer) -> None:
    p = server.project()
    assert post(server, "/api/v1/query-passed", p.read, {"test_file_hashes": []}).json() == {"node_ids": []}


def test_v2_publish_stores_durations_test_counts_and_provenance(server: LiveServer) -> None:
    p = server.project()
    published = post(
        server,
        "/api/v2/publish",
        p.write,
        {
            "entries": {
                key(1): {"test_count": 3, "tests": {tid(1): 1.5, tid(2): 0.25}},
                key(2): {"test_count": 0, "tests": {}},
            },
            "provenance": {"branch": "main", "commit": "abc123", "run_url": "https://ci.example/run/7"},
            "stats": {
                "total": 3,
                "passed": 2,
                "failed": 1,
                "skipped": 0,
                "skipped_by_cache": 5,
                "seconds_saved": 12.5,
            },
        },
    )
    assert published.json() == {"stored": 2}
    answer = post(server, "/api/v2/query", p.read, {"keys": [key(1), key(2), key(3)]})
    assert answer.json() == {
        "entries": [
            {"test_count": 3, "tests": {tid(1): 1.5, tid(2): 0.25}},
            {"test_count": 0, "tests": {}},
            {"test_count": None, "tests": {}},
        ]
    }


def test_a_v1_publish_keeps_durations_an_earlier_v2_publish_stored(server: LiveServer) -> None:
    p = server.project()
    post(server, "/api/v2/publish", p.write, {"entries": {key(1): {"test_count": 2, "tests": {tid(1): 2.0}}}})
    post(server, "/api/v1/publish", p.write, {"passed_node_ids_per_test_file": {key(1): [tid(1), tid(2)]}})
    answer = post(server, "/api/v2/query", p.read, {"keys": [key(1)]})
    assert answer.json() == {"entries": [{"test_count": 2, "tests": {tid(1): 2.0, tid(2): 0.0}}]}


def test_v1_and_v2_see_the_same_cache(server: LiveServer) -> None:
    p = server.project()
    post(server, "/api/v2/publish", p.write, {"entries": {key(1): {"tests": {tid(1): 0.5}}}})
    assert post(server, "/api/v1/query-passed", p.read, {"test_file_hashes": [key(1)]}).json() == {
        "node_ids": [[tid(1)]]
    }


def test_usage_counts_queries_hits_misses_and_published_tests(server: LiveServer) -> None:
    p = server.project()
    post(
        server,
        "/api/v2/publish",
        p.write,
        {
            "entries": {key(1): {"tests": {tid(1): 1.0, tid(2): 1.0}}},
            "stats": {"skipped_by_cache": 4, "seconds_saved": 8.0},
        },
    )
    post(server, "/api/v2/query", p.read, {"keys": [key(1), key(2), key(3)]})
    import time

    deadline = time.monotonic() + 10
    while True:  # usage is flushed about once a second
        days = httpx.get(server.url + "/api/v2/usage", headers=p.auth("read")).json()["days"]
        if (days and days[0]["queries"] == 1) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(days) == 1
    day = days[0]
    assert (day["queries"], day["hits"], day["misses"]) == (1, 1, 2)
    # A v2 publish's stats stay with the publish: the run's own report (POST /api/v2/runs) counts them.
    assert (day["tests_published"], day["tests_skipped"], day["seconds_saved"]) == (2, 0, 0.0)


def test_whoami_describes_the_token(server: LiveServer) -> None:
    p = server.project()
    answer = httpx.get(server.url + "/api/v2/whoami", headers=p.auth("read")).json()
    assert answer["project"] == p.project
    assert answer["scope"] == "read"
    assert answer["namespace"] == ""


def test_healthz_reports_the_schema_version(server: LiveServer) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok", "schema_version": schema.LATEST}


def test_metrics_are_prometheus_text_with_requests_hits_and_db_size(server: LiveServer) -> None:
    p = server.project()
    post(server, "/api/v1/query-passed", p.read, {"test_file_hashes": [key("metrics")]})
    answer = httpx.get(server.url + "/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert 'dryci_requests_total{method="POST",route="/api/v1/query-passed",status="200"}' in text
    assert "dryci_request_duration_seconds_bucket{" in text
    assert f'dryci_cache_misses_total{{namespace="",project="{p.project}"}} 1.0' in text
    size = next(line for line in text.splitlines() if line.startswith("dryci_db_size_bytes "))
    assert float(size.split()[1]) > 0


def test_openapi_document_describes_every_api_route(server: LiveServer) -> None:
    document = httpx.get(server.url + "/openapi.json").json()
    assert {
        "/api/v1/query-passed",
        "/api/v1/publish",
        "/api/v2/query",
        "/api/v2/publish",
        "/healthz",
        "/metrics",
    } <= set(document["paths"])
    v1 = document["paths"]["/api/v1/query-passed"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert v1["required"] == ["test_file_hashes"]


def test_api_page_is_human_readable_html(server: LiveServer) -> None:
    answer = httpx.get(server.url + "/api")
    assert answer.headers["content-type"].startswith("text/html")
    assert "POST /api/v1/query-passed" in answer.text


def test_unknown_paths_and_methods_answer_json_errors(server: LiveServer) -> None:
    assert httpx.get(server.url + "/api/v3/query").status_code == 404
    assert httpx.get(server.url + "/api/v1/publish").status_code == 405


def test_a_broken_database_answers_503_never_500(
    tmp_path: object, pg_available: bool, pg_schemas: list[str]
) -> None:
    import psycopg

    from tests.live_server import live_server
    from tests.server.conftest import PG_URL, new_pg_url

    url = new_pg_url(pg_available, pg_schemas)
    with live_server(url, ["--rate-limit", "0"]) as server:
        p = server.project()
        assert httpx.get(server.url + "/healthz").status_code == 200
        schema = pg_schemas[-1]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        assert httpx.get(server.url + "/healthz").status_code == 503
        answer = post(server, "/api/v1/query-passed", p.read, {"test_file_hashes": [key(1)]})
        assert answer.status_code == 503
        assert answer.json()["detail"].startswith("database unavailable")
        assert answer.headers["retry-after"] == "5"
