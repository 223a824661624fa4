"""What the SQL mixins of SqlOps share: the ``run``/``many`` they call and keyed deletes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Conn = Any


class Statements:
    """``run``/``many`` come from SqlOps (which runs them in the right SQL dialect)."""

    def run(self, conn: Conn, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def many(self, conn: Conn, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def delete_keyed(self, conn: Conn, tables: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        """Delete the (project_id, namespace, key) ``rows`` from each of ``tables``, in order."""
        keyed = [tuple(row) for row in rows]
        for table in tables:
            self.many(conn, f"DELETE FROM {table} WHERE project_id = ? AND namespace = ? AND key = ?", keyed)
        return len(keyed)

    def evict(self, conn: Conn, tables: Sequence[str], cutoff: float, caps: Mapping[int, int | None]) -> int:
        """Retention of one kind of keyed row, written once for entries and records.

        ``tables[-1]`` holds the rows (with ``last_read_at``), the tables before it what must go with
        them. Rows unread since ``cutoff`` go, then per project the least recently read beyond its cap
        (None: no cap). Returns the number of rows of ``tables[-1]`` removed.
        """
        table = tables[-1]
        removed = self.delete_keyed(
            conn,
            tables,
            self.run(
                conn, f"SELECT project_id, namespace, key FROM {table} WHERE last_read_at < ?", (cutoff,)
            ).fetchall(),
        )
        for project_id, cap in caps.items():
            if cap is None:
                continue
            beyond = self.run(
                conn,
                f"""SELECT project_id, namespace, key FROM {table} WHERE project_id = ?
                    ORDER BY last_read_at DESC, key LIMIT ? OFFSET ?""",
                (project_id, 2**62, cap),  # SQLite has no OFFSET without LIMIT: "all" is 2**62
            ).fetchall()
            removed += self.delete_keyed(conn, tables, beyond)
        return removed
