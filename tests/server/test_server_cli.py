"""`dryci server`: first start, configuration errors, migrations, environment variables."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dryci.server.backends import open_backend, schema
from tests.live_server import free_port, live_server


def run_server(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dryci.cli", "server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_a_fresh_database_prints_the_first_admin_token_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    with live_server(db, log_dir=tmp_path) as first:
        token = first.admin_token
        assert token is not None and token.startswith("dryci_")
        who = httpx.get(first.url + "/api/v2/whoami", headers={"Authorization": f"Bearer {token}"}).json()
        assert (who["project"], who["user"], who["scope"]) == ("default", "admin", "admin")
    with live_server(db, log_dir=tmp_path / "..") as second:
        assert second.admin_token is None
        assert "admin token" not in second.log()


def test_the_database_and_address_come_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DRYCI_DB": f"sqlite:///{tmp_path / 'env.db'}", "DRYCI_LISTEN": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dryci.cli", "server"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert (tmp_path / "env.db").exists()
    finally:
        process.terminate()
        process.wait(15)
        assert process.stdout is not None
        process.stdout.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "localhost"], "dryci server: error: --listen: expected HOST:PORT"),
        (["--listen", "127.0.0.1:99999"], "--listen: expected HOST:PORT"),
        (["--workers", "0"], "--workers: expected at least 1"),
        (["--rate-limit", "-1"], "dryci server: error: --rate-limit: expected at least 0, got -1"),
        (["--auth-rate-burst", "0"], "--auth-rate-burst: expected at least 1, got 0"),
        (["--header-timeout", "0"], "--header-timeout: expected a positive number, got 0"),
        (["--session-hours", "nan"], "--session-hours: expected a finite number, got nan"),
        (["--retention-days", "soon"], "--retention-days: invalid float value: 'soon'"),
        (["--db", "mysql://localhost/db"], "--db: unsupported database URL"),
        (["--db", "sqlite:/relative"], "--db: expected sqlite:///path"),
        (["--db", "postgresql://postgres@127.0.0.1:1/none"], "cannot connect to PostgreSQL"),
    ],
)
def test_bad_configuration_is_one_clear_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_server("--db", f"sqlite:///{tmp_path / 'x.db'}", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_migrations_bring_a_fresh_database_to_the_latest_version(db_url: str) -> None:
    backend = open_backend(db_url)
    try:
        assert backend.schema_version == schema.LATEST
    finally:
        backend.close()
    again = open_backend(db_url)  # reopening applies nothing and keeps the data
    try:
        assert again.schema_version == schema.LATEST
    finally:
        again.close()


def test_the_server_refuses_a_database_with_a_newer_schema(db_url: str) -> None:
    open_backend(db_url).close()
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url[len("sqlite:///") :])
        conn.execute("UPDATE dryci_schema SET version = 999")
        conn.commit()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE dryci_schema SET version = 999")
    result = run_server("--db", db_url, "--listen", f"127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert (
        f"database schema version 999 is newer than this server supports ({schema.LATEST})" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_several_workers_serve_one_database(tmp_path: Path) -> None:
    with live_server(
        f"sqlite:///{tmp_path / 'w.db'}", ["--workers", "2", "--rate-limit", "0"], log_dir=tmp_path
    ) as server:
        p = server.project()
        key, tid = "a" * 64, "b" * 32
        for _ in range(4):  # requests land on either worker; each sees what the other stored
            answer = httpx.post(
                server.url + "/api/v1/publish",
                headers=p.auth(),
                json={"passed_node_ids_per_test_file": {key: [tid]}},
            )
            assert answer.status_code == 200
            got = httpx.post(
                server.url + "/api/v1/query-passed", headers=p.auth("read"), json={"test_file_hashes": [key]}
            )
            assert got.json() == {"node_ids": [[tid]]}
