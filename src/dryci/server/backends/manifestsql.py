"""SQL of precise-mode manifests (a mixin of SqlOps): one row per (project, namespace, key).

A manifest is an opaque blob here (validated and compressed by ``dryci.server.manifests``). Unlike a
result entry, which merges the ids of every publish, a manifest describes one test file's latest pass:
a publish replaces it. ``manifest_writers`` keeps every token that wrote a key, for purges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dryci.protocol import Provenance
from dryci.server.backends.base import ManifestAnswer, Principal
from dryci.server.backends.statements import Statements

Conn = Any
TOUCH_AFTER_SECONDS = 3600.0  # as for entries: retention counts days, not seconds


class ManifestStatements(Statements):
    """Statements on the manifests tables; ``run``/``many`` come from SqlOps."""

    def query_manifests(
        self, conn: Conn, project_id: int, namespaces: Sequence[str], keys: Sequence[str], now: float
    ) -> ManifestAnswer:
        unique = list(dict.fromkeys(keys))
        found: dict[str, tuple[float, bytes]] = {}
        stale: list[tuple[str, str]] = []
        if unique:
            ns_in = ",".join("?" * len(namespaces))
            key_in = ",".join("?" * len(unique))
            for namespace, key, body, created_at, last_read in self.run(
                conn,
                f"""SELECT namespace, key, body, created_at, last_read_at FROM manifests
                    WHERE project_id = ? AND namespace IN ({ns_in}) AND key IN ({key_in})""",
                (project_id, *namespaces, *unique),
            ):
                # A namespaced token also reads the default namespace: the latest pass wins, as on publish.
                if key not in found or created_at > found[key][0]:
                    found[key] = (created_at, bytes(body))
                if last_read < now - TOUCH_AFTER_SECONDS:
                    stale.append((namespace, key))
        return ManifestAnswer({key: found[key][1] for key in unique if key in found}, stale)

    def publish_manifests(
        self, conn: Conn, who: Principal, bodies: Mapping[str, bytes], provenance: Provenance, now: float
    ) -> int:
        keys = sorted(bodies)  # one lock order for every transaction: no deadlocks
        pid, ns = who.project_id, who.namespace
        self.many(
            conn,
            """INSERT INTO manifests (project_id, namespace, key, body, token_id, branch, commit_sha,
                                      run_url, created_at, last_read_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (project_id, namespace, key) DO UPDATE SET
                   body = excluded.body, token_id = excluded.token_id, branch = excluded.branch,
                   commit_sha = excluded.commit_sha, run_url = excluded.run_url,
                   created_at = excluded.created_at, last_read_at = excluded.last_read_at""",
            [
                (
                    pid,
                    ns,
                    key,
                    bodies[key],
                    who.token_id,
                    provenance.branch,
                    provenance.commit,
                    provenance.run_url,
                    now,
                    now,
                )
                for key in keys
            ],
        )
        self.many(
            conn,
            """INSERT INTO manifest_writers (project_id, namespace, key, token_id, created_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (project_id, namespace, key, token_id)
               DO UPDATE SET created_at = excluded.created_at""",
            [(pid, ns, key, who.token_id, now) for key in keys],
        )
        return len(keys)

    def touch_manifests(
        self, conn: Conn, project_id: int, items: Sequence[tuple[str, str]], now: float
    ) -> None:
        self.many(
            conn,
            """UPDATE manifests SET last_read_at = ?
               WHERE project_id = ? AND namespace = ? AND key = ? AND last_read_at < ?""",
            [(now, project_id, ns, key, now) for ns, key in sorted(set(items))],
        )

    def purge_manifests(
        self, conn: Conn, token_id: str | None, since: float | None, key: str | None, project_id: int | None
    ) -> int:
        """Delete every manifest a token ever wrote, or written since a time, or under a key."""
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
            conn, f"SELECT DISTINCT project_id, namespace, key FROM manifest_writers WHERE {where}", params
        ).fetchall()
        return self.delete_manifests(conn, rows)

    def delete_manifests(self, conn: Conn, rows: Sequence[Sequence[Any]]) -> int:
        return self.delete_keyed(conn, ("manifest_writers", "manifests"), rows)

    def manifest_retention(self, conn: Conn, cutoff: float, caps: Mapping[int, int | None]) -> int:
        """Drop manifests unread since ``cutoff``, then the least recently read beyond each project's cap."""
        removed = self.delete_manifests(
            conn,
            self.run(
                conn, "SELECT project_id, namespace, key FROM manifests WHERE last_read_at < ?", (cutoff,)
            ).fetchall(),
        )
        for project_id, cap in caps.items():
            if cap is None:
                continue
            beyond = self.run(
                conn,
                """SELECT project_id, namespace, key FROM manifests WHERE project_id = ?
                   ORDER BY last_read_at DESC, key LIMIT ? OFFSET ?""",
                (project_id, 2**62, cap),
            ).fetchall()
            removed += self.delete_manifests(conn, beyond)
        return removed

    def count_manifests(self, conn: Conn, project_id: int) -> int:
        return int(
            self.run(conn, "SELECT COUNT(*) FROM manifests WHERE project_id = ?", (project_id,)).fetchone()[0]
        )
