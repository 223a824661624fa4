"""Auth over real HTTP: missing, malformed, unknown, expired, revoked tokens; scopes; tenants; namespaces."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from tests.live_server import LiveServer
from tests.server.helpers import key, tid

QUERY = {"test_file_hashes": [key(1)]}
PUBLISH = {"passed_node_ids_per_test_file": {key(1): [tid(1)]}}


def call(server: LiveServer, path: str, body: object, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers=headers, timeout=30)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing Authorization"),
        ({"Authorization": ""}, "missing Authorization"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Bearer dryci_"),
        ({"Authorization": "Bearer"}, "Bearer dryci_"),
        ({"Authorization": "Bearer not-a-dryci-token"}, "unknown token"),
        ({"Authorization": "Bearer dryci_000000000000_" + "0" * 48}, "unknown token"),
    ],
)
def test_requests_without_a_valid_token_are_refused_with_401(
    server: LiveServer, headers: dict[str, str], message: str
) -> None:
    for path, body in (("/api/v1/query-passed", QUERY), ("/api/v1/publish", PUBLISH)):
        answer = call(server, path, body, headers)
        assert answer.status_code == 401
        assert message in answer.json()["detail"]
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_token_with_the_right_id_but_a_wrong_secret_is_unknown(server: LiveServer) -> None:
    p = server.project()
    forged = p.write[:-4] + ("0000" if not p.write.endswith("0000") else "1111")
    answer = call(server, "/api/v1/query-passed", QUERY, bearer(forged))
    assert answer.status_code == 401
    assert answer.json()["detail"] == "unknown token"


def test_a_read_token_cannot_publish(server: LiveServer) -> None:
    p = server.project()
    for path, body in (("/api/v1/publish", PUBLISH), ("/api/v2/publish", {"entries": {}})):
        answer = call(server, path, body, p.auth("read"))
        assert answer.status_code == 403
        assert "cannot publish" in answer.json()["detail"]
    assert call(server, "/api/v1/query-passed", QUERY, p.auth("read")).json() == {"node_ids": [[]]}


def test_an_expired_token_is_refused(server: LiveServer) -> None:
    p = server.project()
    token = server.token(p.project, "short", "write", expires="3s")
    assert call(server, "/api/v1/query-passed", QUERY, bearer(token)).status_code == 200
    time.sleep(3.1)
    answer = call(server, "/api/v1/query-passed", QUERY, bearer(token))
    assert answer.status_code == 401
    assert answer.json()["detail"] == "token expired"


def test_a_revoked_token_is_refused_on_the_next_request(server: LiveServer) -> None:
    p = server.project()
    assert call(server, "/api/v1/publish", PUBLISH, p.auth()).status_code == 200
    token_id = p.write.split("_")[1]
    server.admin("tokens", "revoke", token_id)
    answer = call(server, "/api/v1/publish", PUBLISH, p.auth())
    assert answer.status_code == 401
    assert answer.json()["detail"] == "token revoked"
    assert call(server, "/api/v1/query-passed", QUERY, p.auth("read")).status_code == 200


def test_revoking_a_user_or_a_project_revokes_their_tokens(server: LiveServer) -> None:
    p = server.project()
    server.admin("users", "revoke", "--project", p.project, "ci")
    assert call(server, "/api/v1/query-passed", QUERY, p.auth("write")).status_code == 401
    assert call(server, "/api/v1/query-passed", QUERY, p.auth("read")).status_code == 200
    server.admin("projects", "revoke", p.project)
    assert call(server, "/api/v1/query-passed", QUERY, p.auth("read")).status_code == 401


def test_projects_never_see_each_others_cache(server: LiveServer) -> None:
    a, b = server.project(), server.project()
    call(server, "/api/v1/publish", PUBLISH, a.auth())
    assert call(server, "/api/v1/query-passed", QUERY, a.auth("read")).json() == {"node_ids": [[tid(1)]]}
    assert call(server, "/api/v1/query-passed", QUERY, b.auth("read")).json() == {"node_ids": [[]]}
    assert (
        call(server, "/api/v2/query", {"keys": [key(1)]}, b.auth("read")).json()["entries"][0]["tests"] == {}
    )


def test_a_namespaced_token_publishes_where_the_default_branch_never_reads(server: LiveServer) -> None:
    p = server.project()
    pull_request = server.token(p.project, "pr-bot", "write", namespace="pr")
    call(
        server, "/api/v1/publish", {"passed_node_ids_per_test_file": {key(1): [tid(7)]}}, bearer(pull_request)
    )
    call(server, "/api/v1/publish", PUBLISH, p.auth())
    assert call(server, "/api/v1/query-passed", QUERY, p.auth("read")).json() == {"node_ids": [[tid(1)]]}
    # The namespaced token reads its own namespace and the default one.
    assert call(server, "/api/v1/query-passed", QUERY, bearer(pull_request)).json() == {
        "node_ids": [sorted([tid(1), tid(7)])]
    }


def test_tokens_are_stored_only_as_hashes_and_never_logged(tmp_path: object) -> None:
    from pathlib import Path

    from tests.live_server import live_server

    directory = Path(str(tmp_path))
    db = directory / "auth.db"
    with live_server(f"sqlite:///{db}", ["--access-log"], log_dir=directory) as server:
        p = server.project()
        call(server, "/api/v1/publish", PUBLISH, p.auth())
        call(server, "/api/v1/query-passed", QUERY, bearer(p.write + "x"))
        log = server.log()
    secret = p.write.split("_")[2]
    stored = "\n".join(str(row) for row in sqlite3.connect(db).execute("SELECT * FROM tokens"))
    assert p.write.split("_")[1] in stored
    assert secret not in stored
    assert "POST /api/v1/publish" in log  # the access log is on, yet holds no token
    assert secret not in log
    assert "Bearer" not in log
