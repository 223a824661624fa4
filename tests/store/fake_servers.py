"""Real HTTP servers on loopback (stdlib, one thread each) that answer by a Python function.

Each test hands in ``respond(path, body) -> Reply``; the server records every request so tests can
check what the client sent. They misbehave on purpose: status codes, garbage, huge or slow bodies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] | Iterable[bytes] = b"{}"  # a dict is sent as JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay_between_chunks: float = 0.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


Responder = Callable[[str, Any], Reply]


@dataclass
class Server:
    url: str
    requests: list[Request]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up early is expected here


@contextmanager
def serve(respond: Responder) -> Iterator[Server]:
    requests: list[Request] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
            requests.append(Request(self.path, dict(self.headers), body))
            reply = respond(self.path, body)
            payload = reply.body
            if isinstance(payload, dict):
                payload = json.dumps(payload).encode()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            try:
                if isinstance(payload, bytes):
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in payload:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                        time.sleep(reply.delay_between_chunks)
                    self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, which is what some tests want

    httpd = _QuietServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", requests)
    finally:
        httpd.shutdown()
        httpd.server_close()


class MemoryCache:
    """A well-behaved cache server's logic (v2, optionally v1 only), for round trips."""

    def __init__(self, *, v1_only: bool = False) -> None:
        self.v1_only = v1_only
        self.data: dict[str, dict[str, Any]] = {}

    def __call__(self, path: str, body: Any) -> Reply:
        path = urlsplit(path).path  # a proxy gets absolute URLs
        if path == "/api/v2/query" and not self.v1_only:
            return Reply(
                body={"entries": [self.data.get(k, {"test_count": None, "tests": {}}) for k in body["keys"]]}
            )
        if path == "/api/v2/publish" and not self.v1_only:
            for key, entry in body["entries"].items():
                stored = self.data.setdefault(key, {"test_count": None, "tests": {}})
                stored["tests"].update(entry["tests"])
                if entry["test_count"] is not None:
                    # The count, skipped ids and tag are one claim: replaced together.
                    stored["test_count"] = entry["test_count"]
                    for name in ("skipped", "tag"):
                        stored.pop(name, None)
                        if name in entry:
                            stored[name] = entry[name]
            return Reply(body={"stored": len(body["entries"])})
        if path == "/api/v1/query-passed":
            return Reply(
                body={
                    "node_ids": [
                        sorted(self.data.get(k, {"tests": {}})["tests"]) for k in body["test_file_hashes"]
                    ]
                }
            )
        if path == "/api/v1/publish":
            for key, ids in body["passed_node_ids_per_test_file"].items():
                self.data.setdefault(key, {"test_count": None, "tests": {}})["tests"].update(
                    dict.fromkeys(ids, 0.0)
                )
            return Reply(body={})
        return Reply(status=404, body={"detail": "Not Found"})


def refused_url() -> str:
    """A loopback URL nobody listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int | None = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Silent:
    """A loopback server that accepts every connection and never answers; counts the connections."""

    def __init__(self) -> None:
        import socket
        import threading

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.connections: list[Any] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed
                return
            self.connections.append(conn)  # held open, never read or written

    def close(self) -> None:
        import socket

        with suppress(OSError):  # not connected: nothing to shut down
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(timeout=5)
        for conn in self.connections:
            conn.close()


@contextmanager
def silent() -> Iterator[Silent]:
    server = Silent()
    try:
        yield server
    finally:
        server.close()
