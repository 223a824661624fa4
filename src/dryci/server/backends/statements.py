"""What the SQL mixins of SqlOps share: the ``run``/``many`` they call and keyed deletes."""

from __future__ import annotations

from collections.abc import Sequence
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
