"""SQL of function-level records, snapshots and facts (a mixin of SqlOps), per project and namespace.

The objects are opaque blobs here (validated by ``dryci.protocol.exchange`` before they arrive). A
record describes one test file's latest run: a publish replaces it, and ``record_writers`` keeps every
token that wrote a key, since a record carries data over from the one it replaces. Snapshots and facts
are content-addressed: the first copy stays, and its writer is kept with it for purges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dryci.protocol.exchange import KINDS, RecordsPublish
from dryci.server.backends.base import BlobAnswer, Principal
from dryci.server.backends.statements import Statements

Conn = Any
TOUCH_AFTER_SECONDS = 3600.0  # as for entries: retention counts days, not seconds


def _table(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind of record object: {kind!r}")
    return kind  # the tables are named after the kinds


class RecordStatements(Statements):
    """Statements on the records, snapshots and facts tables; ``run``/``many`` come from SqlOps."""

    def query_records(
        self,
        conn: Conn,
        project_id: int,
        namespaces: Sequence[str],
        kind: str,
        names: Sequence[str],
        now: float,
    ) -> BlobAnswer:
        unique = list(dict.fromkeys(names))
        found: dict[str, tuple[float, bytes]] = {}
        stale: list[tuple[str, str]] = []
        if unique:
            ns_in = ",".join("?" * len(namespaces))
            key_in = ",".join("?" * len(unique))
            for namespace, key, body, created_at, last_read in self.run(
                conn,
                f"""SELECT namespace, key, body, created_at, last_read_at FROM {_table(kind)}
                    WHERE project_id = ? AND namespace IN ({ns_in}) AND key IN ({key_in})""",
                (project_id, *namespaces, *unique),
            ):
                # A namespaced token also reads the default namespace: the latest write wins.
                if key not in found or created_at > found[key][0]:
                    found[key] = (created_at, bytes(body))
                if last_read < now - TOUCH_AFTER_SECONDS:
                    stale.append((namespace, key))
        return BlobAnswer({key: found[key][1] for key in unique if key in found}, stale)

    def publish_records(self, conn: Conn, who: Principal, publish: RecordsPublish, now: float) -> int:
        pid, ns, prov = who.project_id, who.namespace, publish.provenance
        for kind in ("snapshots", "facts"):
            self.many(
                conn,
                f"""INSERT INTO {kind} (project_id, namespace, key, body, token_id, created_at, last_read_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, namespace, key) DO NOTHING""",
                [
                    (pid, ns, name, blob, who.token_id, now, now)
                    for name, blob in sorted(publish.objects.get(kind, {}).items())
                ],
            )
        records = sorted(publish.objects.get("records", {}).items())  # one lock order: no deadlocks
        self.many(
            conn,
            """INSERT INTO records (project_id, namespace, key, body, token_id, branch, commit_sha, run_url,
                                    created_at, last_read_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (project_id, namespace, key) DO UPDATE SET
                   body = excluded.body, token_id = excluded.token_id, branch = excluded.branch,
                   commit_sha = excluded.commit_sha, run_url = excluded.run_url,
                   created_at = excluded.created_at, last_read_at = excluded.last_read_at""",
            [
                (pid, ns, key, blob, who.token_id, prov.branch, prov.commit, prov.run_url, now, now)
                for key, blob in records
            ],
        )
        self.many(
            conn,
            """INSERT INTO record_writers (project_id, namespace, key, token_id, created_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (project_id, namespace, key, token_id)
               DO UPDATE SET created_at = excluded.created_at""",
            [(pid, ns, key, who.token_id, now) for key, _ in records],
        )
        return publish.count

    def touch_records(
        self, conn: Conn, project_id: int, kind: str, items: Sequence[tuple[str, str]], now: float
    ) -> None:
        self.many(
            conn,
            f"""UPDATE {_table(kind)} SET last_read_at = ?
               WHERE project_id = ? AND namespace = ? AND key = ? AND last_read_at < ?""",
            [(now, project_id, ns, key, now) for ns, key in sorted(set(items))],
        )

    def purge_records(
        self, conn: Conn, token_id: str | None, since: float | None, key: str | None, project_id: int | None
    ) -> int:
        """Delete every record a token ever wrote to (with the snapshots and facts it wrote first), or
        everything written since a time, or under a key; returns the number of records removed."""
        conds: list[str] = []
        params: list[Any] = []
        for column, value, op in (
            ("token_id", token_id, "="),
            ("created_at", since, ">="),
            ("key", key, "="),
            ("project_id", project_id, "="),
        ):
            if value is not None:
                conds.append(f"{column} {op} ?")
                params.append(value)
        where = " AND ".join(conds) or "1 = 1"
        rows = self.run(
            conn, f"SELECT DISTINCT project_id, namespace, key FROM record_writers WHERE {where}", params
        ).fetchall()
        for kind in ("snapshots", "facts"):
            written = self.run(conn, f"SELECT project_id, namespace, key FROM {kind} WHERE {where}", params)
            self.delete_keyed(conn, (kind,), written.fetchall())
        return self.delete_keyed(conn, ("record_writers", "records"), rows)

    def record_retention(self, conn: Conn, cutoff: float, caps: Mapping[int, int | None]) -> int:
        """Drop records, snapshots and facts unread since ``cutoff``, then the least recently read
        records beyond each project's cap; returns the number of records removed."""
        removed = self.evict(conn, ("record_writers", "records"), cutoff, caps)
        for kind in ("snapshots", "facts"):
            self.run(conn, f"DELETE FROM {kind} WHERE last_read_at < ?", (cutoff,))
        return removed

    def count_records(self, conn: Conn, project_id: int) -> int:
        return int(
            self.run(conn, "SELECT COUNT(*) FROM records WHERE project_id = ?", (project_id,)).fetchone()[0]
        )
