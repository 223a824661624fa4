"""Dashboard sessions over real HTTP: a random id in the cookie, hashed at rest, ended by logout,
expiry and revocation, Secure behind a trusted HTTPS proxy; and their migration."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dryci.server.auth import new_token, token_id_of
from dryci.server.backends import open_backend, schema
from dryci.server.backends.base import Backend
from dryci.server.sessions import COOKIE, hash_session
from tests.live_server import LiveServer, live_server


def log_in(server: LiveServer, token: str, headers: dict[str, str] | None = None) -> httpx.Response:
    answer = httpx.post(server.url + "/login", data={"token": token}, headers=headers)
    assert answer.status_code == 303, answer.text
    return answer


def cookie_of(answer: httpx.Response) -> str:
    return answer.cookies[COOKIE]


def set_cookie_line(answer: httpx.Response) -> str:
    (line,) = [h for h in answer.headers.get_list("set-cookie") if h.startswith(COOKIE + "=")]
    return line


def page(server: LiveServer, session_id: str) -> httpx.Response:
    return httpx.get(server.url + "/", cookies={COOKIE: session_id})


@pytest.fixture
def backend_of() -> Iterator[Any]:
    opened: list[Backend] = []

    def open_(url: str) -> Backend:
        opened.append(open_backend(url))
        return opened[-1]

    yield open_
    for backend in opened:
        backend.close()


def test_the_session_cookie_is_a_random_id_stored_only_as_its_hash(
    server: LiveServer, backend_of: Any
) -> None:
    p = server.project()
    answer = log_in(server, p.read)
    session_id = cookie_of(answer)
    line = set_cookie_line(answer)
    assert p.read not in line and session_id != p.read
    assert len(session_id) >= 40  # 32 random bytes, URL-safe base64
    assert "httponly" in line.lower() and "samesite=lax" in line.lower()
    assert "secure" not in line.lower()  # plain HTTP, no trusted proxy
    assert f'data-project="{p.project}"' in page(server, session_id).text
    backend = backend_of(server.db_url)
    stored = backend.lookup_session(hash_session(session_id))
    assert stored is not None and stored.token_id == token_id_of(p.read)
    assert backend.lookup_session(session_id) is None  # the id itself is not what is stored
    assert log_in(server, p.read).cookies[COOKIE] != session_id  # a fresh id per login


def test_a_stolen_cookie_is_refused_after_logout(server: LiveServer, backend_of: Any) -> None:
    p = server.project()
    session_id = cookie_of(log_in(server, p.read))
    assert page(server, session_id).status_code == 200
    logout = httpx.post(server.url + "/logout", cookies={COOKIE: session_id})
    assert logout.status_code == 303
    assert "Max-Age=0" in set_cookie_line(logout) or "expires=" in set_cookie_line(logout).lower()
    stolen = page(server, session_id)  # a copy of the cookie, replayed after the logout
    assert stolen.status_code == 401
    assert "session ended; log in again" in stolen.text and p.project not in stolen.text
    assert backend_of(server.db_url).lookup_session(hash_session(session_id)) is None


def test_revoking_the_token_ends_its_sessions(server: LiveServer, backend_of: Any) -> None:
    p = server.project()
    other = server.token(p.project, "viewer", "read")
    session_id = cookie_of(log_in(server, p.read))
    kept = cookie_of(log_in(server, other))
    server.admin("tokens", "revoke", token_id_of(p.read))
    assert page(server, session_id).status_code == 401
    assert backend_of(server.db_url).lookup_session(hash_session(session_id)) is None
    assert page(server, kept).status_code == 200  # another token's session goes on


def test_a_session_with_an_unknown_id_is_refused(server: LiveServer) -> None:
    p = server.project()
    assert page(server, p.read).status_code == 401  # not even the token itself works as a cookie
    assert page(server, "x" * 43).status_code == 401


def test_an_expired_session_is_refused_and_swept(tmp_path: Path, backend_of: Any) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    with live_server(db, ["--session-hours", "0.0005"], log_dir=tmp_path) as server:  # 1.8 s
        token = server.token("default", "viewer", "read")
        answer = log_in(server, token)
        assert "Max-Age=1" in set_cookie_line(answer)
        session_id = cookie_of(answer)
        assert page(server, session_id).status_code == 200
        time.sleep(2.0)
        expired = page(server, session_id)
        assert expired.status_code == 401 and "session expired" in expired.text
        backend = backend_of(db)
        assert backend.lookup_session(hash_session(session_id)) is None  # refused, then swept
        # Sessions nobody presents again are swept by the next login (and the retention loop).
        forgotten = cookie_of(log_in(server, token))
        time.sleep(2.0)
        log_in(server, token)
        assert backend.lookup_session(hash_session(forgotten)) is None


def test_sweeping_removes_only_expired_sessions(db_url: str, backend_of: Any) -> None:
    backend = backend_of(db_url)
    backend.create_project("acme", None, 0.0)
    backend.create_token("acme", "ci", "tok1", "h", "read", "", None, 0.0)
    backend.create_session("old", "tok1", 0.0, 10.0)
    backend.create_session("new", "tok1", 0.0, 100.0)
    assert backend.sweep_sessions(50.0) == 1
    assert backend.lookup_session("old") is None
    assert backend.lookup_session("new") is not None


@pytest.mark.parametrize("trusted", [True, False])
def test_the_cookie_is_secure_behind_a_trusted_https_proxy(tmp_path: Path, trusted: bool) -> None:
    args = ["--trusted-proxy", "127.0.0.1"] if trusted else []
    with live_server(f"sqlite:///{tmp_path / 's.db'}", args, log_dir=tmp_path) as server:
        token = server.token("default", "viewer", "read")
        line = set_cookie_line(log_in(server, token, headers={"X-Forwarded-Proto": "https"}))
        # An untrusted client claiming HTTPS changes nothing.
        assert ("; secure" in line.lower()) is trusted
        plain = set_cookie_line(log_in(server, token))
        assert "; secure" not in plain.lower()


def test_a_database_from_before_sessions_is_migrated_and_keeps_its_tokens(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old:  # the server as it was at schema version 4
        old.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:4])
        old.setattr(schema, "LATEST", 4)
        backend = open_backend(db_url)
        try:
            assert backend.schema_version == 4
            backend.create_project("acme", None, 0.0)
            token_id, token, token_hash = new_token()
            backend.create_token("acme", "viewer", token_id, token_hash, "read", "", None, time.time())
        finally:
            backend.close()
    with live_server(db_url, ["--rate-limit", "0"], log_dir=tmp_path) as server:
        assert httpx.get(server.url + "/healthz").json()["schema_version"] == schema.LATEST
        session_id = cookie_of(log_in(server, token))  # the token made at version 4
        assert 'data-project="acme"' in page(server, session_id).text
