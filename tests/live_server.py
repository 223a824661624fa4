"""Start a real ``dryci server`` for any test: a subprocess on a free loopback port.

    with live_server("sqlite:///" + str(tmp_path / "c.db")) as server:
        tokens = server.project("acme")          # project + write and read tokens, via `dryci admin`
        httpx.post(server.url + "/api/v1/query-passed", headers=tokens.auth("read"), json={...})

The server runs exactly as users run it (``python -m dryci.cli server ...``); its output goes to
``server.log_path``, and a failed start raises with that output in the message.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Loaded here, not in the forked child: between fork and exec only the plain C call may run.
_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child before exec: on Linux, SIGTERM the server when the test process dies (no strays)."""
    if _LIBC is not None:
        _LIBC.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def admin(db_url: str, *args: str) -> str:
    """Run ``dryci admin --db URL ARGS...`` in this process; returns its stdout, raises on failure."""
    from dryci.server import admin_cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = admin_cli.main(["--db", db_url, *args], "dryci admin")
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
    if code != 0:
        raise RuntimeError(f"dryci admin {' '.join(args)} failed ({code}): {err.getvalue()}")
    return out.getvalue()


@dataclass(frozen=True)
class ProjectTokens:
    project: str
    write: str
    read: str

    def auth(self, scope: str = "write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.write if scope == 'write' else self.read}"}


@dataclass
class LiveServer:
    db_url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    args: Sequence[str] = ()
    admin_token: str | None = None
    _projects: int = field(default=0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def admin(self, *args: str) -> str:
        return admin(self.db_url, *args)

    def token(
        self,
        project: str,
        user: str = "ci",
        scope: str = "write",
        namespace: str = "",
        expires: str | None = None,
    ) -> str:
        extra = ["--namespace", namespace] if namespace else []
        extra += ["--expires", expires] if expires else []
        out = self.admin("tokens", "create", "--project", project, "--user", user, "--scope", scope, *extra)
        return out.strip().splitlines()[0]

    def project(self, name: str | None = None, max_entries: int | None = None) -> ProjectTokens:
        """A new project with a write and a read token."""
        self._projects += 1
        name = name or f"project{self._projects}-{os.getpid()}-{time.monotonic_ns()}"
        self.admin("projects", "create", name, *(["--max-entries", str(max_entries)] if max_entries else []))
        return ProjectTokens(name, self.token(name, "ci", "write"), self.token(name, "pr", "read"))

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL to the server and its worker processes: no shutdown handlers run (for crash tests)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_server(
    db_url: str,
    args: Sequence[str] = (),
    *,
    log_dir: Path | None = None,
    timeout: float = 30.0,
    port: int | None = None,
) -> LiveServer:
    """Start ``dryci server`` and wait until /healthz answers 200."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="dryci-server-"))
    port = port or free_port()
    log_path = log_dir / f"server-{port}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dryci.cli",
                "server",
                "--db",
                db_url,
                "--listen",
                f"127.0.0.1:{port}",
                *args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: kill() reaches --workers children too
            preexec_fn=_die_with_parent,
        )
    server = LiveServer(db_url, port, process, log_path, args)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"dryci server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + "/healthz", timeout=1.0).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"dryci server did not become healthy in {timeout} s:\n{server.log()}")
        time.sleep(0.05)
    lines = server.log().splitlines()
    server.admin_token = next((line.strip() for line in lines if line.startswith("dryci_")), None)
    return server


@contextlib.contextmanager
def live_server(db_url: str, args: Sequence[str] = (), **kwargs: object) -> Iterator[LiveServer]:
    server = start_server(db_url, args, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
