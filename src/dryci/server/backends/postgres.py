"""PostgreSQL backend: psycopg 3 with a connection pool; the server process keeps no state of its own.

Several server processes and hosts may share one database. Each publish is one transaction,
acknowledged after COMMIT; PostgreSQL itself groups concurrent commits into shared WAL flushes.
Migrations run under an advisory lock so that workers starting together migrate once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg import errors

from dryci.exceptions import StoreError, StoreUnavailable
from dryci.protocol import PublishRequest
from dryci.server.backends import schema
from dryci.server.backends.adminops import AdminOps
from dryci.server.backends.base import Principal
from dryci.server.backends.sqlops import SqlOps

T = TypeVar("T")
MIGRATION_LOCK = 0x64727963  # "dryc"
RETRIES = 3


def _redacted(url: str) -> str:
    # Never print a password that may be part of the URL.
    head, sep, tail = url.partition("@")
    return f"{head.split(':')[0]}://...@{tail}" if sep else url


class PostgresBackend(AdminOps):
    local_reads = False

    def __init__(self, url: str, max_connections: int = 16) -> None:
        self.url = url
        self.ops = SqlOps("postgres")
        self._local = threading.local()
        try:
            # One direct connection first: a wrong URL fails at once with libpq's reason, not a pool timeout.
            psycopg.connect(url, connect_timeout=5).close()
            self._pool = psycopg_pool.ConnectionPool(
                url,
                min_size=1,
                max_size=max_connections,
                kwargs={"autocommit": True},
                open=False,
                timeout=10.0,
            )
            self._pool.open(wait=True, timeout=10.0)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {_redacted(url)}: {exc}") from None
        try:
            self.schema_version = self._write(self._migrate)
        except BaseException:
            self._pool.close()
            raise

    def _migrate(self, conn: psycopg.Connection[Any]) -> int:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        exists = conn.execute("SELECT to_regclass('dryci_schema') IS NOT NULL").fetchone()
        current = schema.read_version(conn.execute, bool(exists and exists[0]))
        return schema.apply(conn.execute, current, "postgres", _redacted(self.url))

    def _write(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        for attempt in range(RETRIES):
            try:
                with self._pool.connection() as conn, conn.transaction():
                    return fn(conn)
            except (errors.DeadlockDetected, errors.SerializationFailure):
                if attempt == RETRIES - 1:
                    raise StoreUnavailable("database write kept conflicting; try again") from None
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                raise StoreUnavailable(f"database unavailable: {exc}") from None
        raise AssertionError("unreachable")

    def _read(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        pinned: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        try:
            if pinned is not None:
                return fn(pinned)
            with self._pool.connection() as conn:
                return fn(conn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StoreUnavailable(f"database unavailable: {exc}") from None

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Reads in this block share one pooled connection (a request's auth and query: one checkout)."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        try:
            with self._pool.connection() as conn:
                self._local.conn = conn
                try:
                    yield
                finally:
                    self._local.conn = None
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StoreUnavailable(f"database unavailable: {exc}") from None

    def publish(self, principal: Principal, request: PublishRequest, api: str, now: float) -> int:
        return self._write(lambda c: self.ops.publish(c, principal, request, api, now))

    def size_bytes(self) -> int:
        row = self._read(
            lambda c: c.execute(
                """SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = current_schema() AND c.relkind = 'r'"""
            ).fetchone()
        )
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._pool.close()
