"""Fixtures for the server tests: real servers over SQLite and over PostgreSQL (own schema each)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import require_service
from tests.live_server import LiveServer, start_server

PG_URL = os.environ.get("DRYCI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgres"]


def _pg_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return _pg_available()


def _pg_schema_url(schema: str) -> str:
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def pg_schemas(pg_available: bool) -> Iterator[list[str]]:
    created: list[str] = []
    yield created
    if created and pg_available:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for schema in created:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def new_pg_url(pg_available: bool, pg_schemas: list[str]) -> str:
    """A database URL for a fresh, empty PostgreSQL schema (dropped at the end of the session)."""
    require_service(f"PostgreSQL at {PG_URL}", pg_available)
    import psycopg

    schema = f"dryci_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    pg_schemas.append(schema)
    return _pg_schema_url(schema)


def new_db_url(backend: str, directory: Path, pg_available: bool, pg_schemas: list[str]) -> str:
    if backend == "sqlite":
        return f"sqlite:///{directory / f'dryci-{uuid.uuid4().hex[:8]}.db'}"
    return new_pg_url(pg_available, pg_schemas)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool, pg_schemas: list[str]) -> str:
    """A fresh database URL, once per backend."""
    return new_db_url(request.param, tmp_path, pg_available, pg_schemas)


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_available: bool,
    pg_schemas: list[str],
) -> Iterator[LiveServer]:
    """One real server per backend for the session; each test isolates itself in fresh projects (tenants)."""
    directory = tmp_path_factory.mktemp("server")
    url = new_db_url(request.param, directory, pg_available, pg_schemas)
    # No rate limits: tests from every module share it, and many send bad tokens on purpose.
    live = start_server(url, ["--rate-limit", "0", "--auth-rate-limit", "0"], log_dir=directory)
    yield live
    live.stop()
