"""Connections over real sockets: slow headers are cut off, and the number served at once is capped."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer, live_server

PARTIAL = b"POST /api/v2/query HTTP/1.1\r\nHost: dryci\r\nContent-Type: application/json\r\n"


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[LiveServer]:
    args = ["--rate-limit", "0", "--header-timeout", "1", "--max-connections", "400"]
    with live_server(f"sqlite:///{tmp_path / 'c.db'}", args, log_dir=tmp_path) as server:
        yield server


def slow_clients(server: LiveServer, count: int) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(PARTIAL)  # the headers never end
        clients.append(sock)
    return clients


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(20)  # a bound for a broken server, far above the 1 s deadline
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_200_slowloris_connections_are_closed_and_the_server_keeps_answering(
    strict_server: LiveServer,
) -> None:
    clients = slow_clients(strict_server, 200)
    try:
        assert all(closed_by_server(sock) for sock in clients)
    finally:
        for sock in clients:
            sock.close()
    p = strict_server.project()
    answer = httpx.post(
        strict_server.url + "/api/v2/query",
        json={"keys": []},
        headers={"Authorization": f"Bearer {p.read}"},
        timeout=10,
    )
    assert answer.status_code == 200


def test_a_connection_that_sends_nothing_is_closed_too(strict_server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", strict_server.port)) as sock:
        assert closed_by_server(sock)


def test_past_the_connection_cap_requests_get_503(tmp_path: Path) -> None:
    args = ["--rate-limit", "0", "--header-timeout", "30", "--max-connections", "5"]
    with live_server(f"sqlite:///{tmp_path / 'c.db'}", args, log_dir=tmp_path) as server:
        clients = slow_clients(server, 6)
        try:
            statuses = set()
            for _ in range(100):  # until the server has accepted the six (a bound, not a timing)
                statuses.add(httpx.get(server.url + "/healthz", timeout=10).status_code)
                if 503 in statuses:
                    break
                time.sleep(0.05)
            assert 503 in statuses
        finally:
            for sock in clients:
                sock.close()
        for _ in range(100):
            if httpx.get(server.url + "/healthz", timeout=10).status_code == 200:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the server did not recover once the connections closed")
