"""SQLite backend: one writer thread fed by a queue, readers on their own connections, WAL.

The writer drains every job waiting in the queue into one transaction (group commit): under load one
fsync acknowledges many publishes. Each job runs in a savepoint, so one failing job does not undo the
others, and its caller is answered only after COMMIT returned. Readers never wait for the writer (WAL).
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

from dryci.exceptions import StoreError, StoreUnavailable
from dryci.protocol import PublishRequest
from dryci.server.backends import schema
from dryci.server.backends.adminops import AdminOps
from dryci.server.backends.base import Principal
from dryci.server.backends.sqlops import SqlOps

T = TypeVar("T")
MAX_BATCH = 512
PAGE_SIZE = 16384
MMAP_BYTES = 256 * 1024 * 1024  # address space per connection, shared with the OS page cache
_STOP = None


class SqliteBackend(AdminOps):
    local_reads = True

    def __init__(self, path: str) -> None:
        self.path = path
        self.ops = SqlOps("sqlite")
        self._readers: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        writer = self._connect()
        try:
            self.schema_version = self._migrate(writer)
        except BaseException:
            writer.close()
            raise
        self._queue: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(
            target=self._writer_loop, args=(writer,), name="dryci-sqlite-writer", daemon=True
        )
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            # Entries are rows of a few KB in a WITHOUT ROWID table, whose interior pages hold whole
            # rows: with 4 KiB pages every publish of new keys deepens the tree that each query walks
            # (a query cost 4x more once 8,000 such rows were in). 16 KiB pages (new databases only:
            # an existing one keeps its page size) and reads through mmap (no copy into each
            # connection's own page cache) keep lookups near their cost on a small database.
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a publish is acknowledged only once its commit reached the disk.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from None
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> int:
        try:
            conn.execute("BEGIN IMMEDIATE")
            exists = (
                conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'dryci_schema'").fetchone() is not None
            )
            current = schema.read_version(conn.execute, exists)
            version = schema.apply(conn.execute, current, "sqlite", self.path)
            conn.execute("COMMIT")
            return version
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # --- the writer -------------------------------------------------------------------------------

    def _writer_loop(self, conn: sqlite3.Connection) -> None:
        stop = False
        while not stop:
            job = self._queue.get()
            if job is _STOP:
                break
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(conn, batch)
        conn.close()

    @staticmethod
    def _run_batch(
        conn: sqlite3.Connection, batch: list[tuple[Callable[[sqlite3.Connection], Any], Future[Any]]]
    ) -> None:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, future in batch:
                conn.execute("SAVEPOINT job")
                try:
                    result = fn(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    if isinstance(exc, sqlite3.Error):
                        exc = StoreUnavailable(f"database write failed: {exc}")
                    outcomes.append((future, None, exc))
                else:
                    outcomes.append((future, result, None))
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for _, future in batch:
                future.set_exception(StoreUnavailable(f"database write failed: {exc}"))
            return
        for future, result, error in outcomes:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def _submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Queue a job for the writer; the future resolves after the commit that includes it."""
        if not self._thread.is_alive():
            raise StoreUnavailable("the database writer has stopped")
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return future

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._submit(fn).result()

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        try:
            return fn(conn)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"database read failed: {exc}") from None

    # --- Backend ----------------------------------------------------------------------------------

    @contextmanager
    def pinned(self) -> Iterator[None]:
        yield  # every thread already reads through its own connection

    def publish(self, principal: Principal, request: PublishRequest, api: str, now: float) -> int:
        return self.submit_publish(principal, request, api, now).result()

    def submit_publish(
        self, principal: Principal, request: PublishRequest, api: str, now: float
    ) -> Future[int]:
        """Queue a publish without waiting: the app awaits the future on its event loop, no thread blocked."""
        return self._submit(lambda c: self.ops.publish(c, principal, request, api, now))

    def size_bytes(self) -> int:
        return sum(os.path.getsize(p) for p in (self.path, self.path + "-wal") if os.path.exists(p))

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
