"""The SQLite file layout: 16 KiB pages for new databases, an existing database keeps its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dryci.server.backends import open_backend, schema
from dryci.server.backends.sqlite import PAGE_SIZE


def page_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_database_gets_large_pages_and_wal(tmp_path: Path) -> None:
    backend = open_backend(f"sqlite:///{tmp_path / 'new.db'}")
    backend.close()
    assert page_size(tmp_path / "new.db") == PAGE_SIZE == 16384
    with sqlite3.connect(tmp_path / "new.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_existing_database_keeps_its_page_size_and_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("CREATE TABLE kept (x)")
        conn.execute("INSERT INTO kept VALUES (7)")
    backend = open_backend(f"sqlite:///{path}")
    assert backend.schema_version == schema.LATEST
    backend.close()
    assert page_size(path) == 4096
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(7,)]
