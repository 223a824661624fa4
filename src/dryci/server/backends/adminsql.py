"""SQL of administration, poisoning purges, retention and reporting (a mixin of SqlOps)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dryci.server.backends.base import (
    USAGE_COUNTERS,
    Project,
    RunRecord,
    SessionRow,
    UsageDay,
    User,
    usage_day,
)
from dryci.server.backends.statements import Statements

Conn = Any


class AdminStatements(Statements):
    """Statements off the hot path; ``run``/``many`` come from SqlOps."""

    # --- administration ---------------------------------------------------------------------------

    def project_id(self, conn: Conn, name: str) -> int | None:
        row = self.run(conn, "SELECT id FROM projects WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else None

    def create_project(self, conn: Conn, name: str, max_entries: int | None, now: float) -> None:
        self.run(
            conn,
            "INSERT INTO projects (name, max_entries, created_at) VALUES (?, ?, ?)",
            (name, max_entries, now),
        )

    def list_projects(self, conn: Conn) -> list[Project]:
        rows = self.run(
            conn, "SELECT id, name, created_at, max_entries, revoked_at FROM projects ORDER BY id"
        )
        return [Project(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def revoke_project(self, conn: Conn, name: str, now: float) -> bool:
        cur = self.run(
            conn, "UPDATE projects SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
        )
        return bool(cur.rowcount)

    def create_user(self, conn: Conn, project_id: int, name: str, now: float) -> None:
        self.run(
            conn, "INSERT INTO users (project_id, name, created_at) VALUES (?, ?, ?)", (project_id, name, now)
        )

    def list_users(self, conn: Conn, project: str | None) -> list[User]:
        sql = """SELECT u.id, p.name, u.name, u.created_at, u.revoked_at
                 FROM users u JOIN projects p ON p.id = u.project_id"""
        rows = (
            self.run(conn, sql + " WHERE p.name = ? ORDER BY u.id", (project,))
            if project
            else self.run(conn, sql + " ORDER BY u.id")
        )
        return [User(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def user_id(self, conn: Conn, project_id: int, name: str) -> int | None:
        row = self.run(
            conn, "SELECT id FROM users WHERE project_id = ? AND name = ?", (project_id, name)
        ).fetchone()
        return int(row[0]) if row else None

    def revoke_user(self, conn: Conn, project_id: int, name: str, now: float) -> bool:
        cur = self.run(
            conn,
            "UPDATE users SET revoked_at = ? WHERE project_id = ? AND name = ? AND revoked_at IS NULL",
            (now, project_id, name),
        )
        return bool(cur.rowcount)

    def create_token(
        self,
        conn: Conn,
        project_id: int,
        user_id: int,
        token_id: str,
        token_hash: str,
        scope: str,
        namespace: str,
        expires_at: float | None,
        now: float,
    ) -> None:
        self.run(
            conn,
            """INSERT INTO tokens (id, user_id, project_id, token_hash, scope, namespace, created_at,
                                              expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (token_id, user_id, project_id, token_hash, scope, namespace, now, expires_at),
        )

    def list_token_ids(self, conn: Conn, project: str | None) -> list[str]:
        sql = "SELECT t.id FROM tokens t JOIN projects p ON p.id = t.project_id"
        rows = (
            self.run(conn, sql + " WHERE p.name = ? ORDER BY t.created_at, t.id", (project,))
            if project
            else self.run(conn, sql + " ORDER BY t.created_at, t.id")
        )
        return [r[0] for r in rows]

    def revoke_token(self, conn: Conn, token_id: str, now: float) -> bool:
        cur = self.run(
            conn, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, token_id)
        )
        # Its dashboard sessions end with it (a session is also checked against its token on every view).
        self.run(conn, "DELETE FROM dashboard_sessions WHERE token_id = ?", (token_id,))
        return bool(cur.rowcount)

    def has_any_token(self, conn: Conn) -> bool:
        return self.run(conn, "SELECT 1 FROM tokens LIMIT 1").fetchone() is not None

    # --- dashboard sessions -----------------------------------------------------------------------

    def create_session(self, conn: Conn, id_hash: str, token_id: str, now: float, expires_at: float) -> None:
        self.sweep_sessions(conn, now)  # every login sweeps: the table holds live sessions only
        self.run(
            conn,
            "INSERT INTO dashboard_sessions (id_hash, token_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (id_hash, token_id, now, expires_at),
        )

    def lookup_session(self, conn: Conn, id_hash: str) -> SessionRow | None:
        row = self.run(
            conn,
            "SELECT id_hash, token_id, created_at, expires_at FROM dashboard_sessions WHERE id_hash = ?",
            (id_hash,),
        ).fetchone()
        return SessionRow(row[0], row[1], float(row[2]), float(row[3])) if row else None

    def end_session(self, conn: Conn, id_hash: str) -> bool:
        return bool(self.run(conn, "DELETE FROM dashboard_sessions WHERE id_hash = ?", (id_hash,)).rowcount)

    def sweep_sessions(self, conn: Conn, now: float) -> int:
        return int(self.run(conn, "DELETE FROM dashboard_sessions WHERE expires_at <= ?", (now,)).rowcount)

    # --- poisoning, retention, reporting ----------------------------------------------------------

    def purge(
        self, conn: Conn, token_id: str | None, since: float | None, key: str | None, project_id: int | None
    ) -> int:
        """Delete every entry a token's publishes touched, or published since a time, or under a key.

        Whole entries go, also ids an honest publish added to them: those tests simply run once more.
        Returns the number of entries removed.
        """
        conds: list[str] = []
        params: list[Any] = []
        if token_id is not None:
            conds.append("b.token_id = ?")
            params.append(token_id)
        if since is not None:
            conds.append("b.created_at >= ?")
            params.append(since)
        if key is not None:
            conds.append("ep.key = ?")
            params.append(key)
        if project_id is not None:
            conds.append("ep.project_id = ?")
            params.append(project_id)
        where = " AND ".join(conds) or "1 = 1"
        rows = self.run(
            conn,
            f"""SELECT DISTINCT ep.project_id, ep.namespace, ep.key FROM entry_publishes ep
                                  JOIN publishes b ON b.id = ep.publish_id WHERE {where}""",
            params,
        ).fetchall()
        return self._delete_entries(conn, rows)

    def _delete_entries(self, conn: Conn, rows: Sequence[Sequence[Any]]) -> int:
        return self.delete_keyed(conn, ("entry_publishes", "entries"), rows)

    def apply_retention(self, conn: Conn, now: float, max_age_days: float, default_cap: int | None) -> int:
        cutoff = now - max_age_days * 86400.0
        caps = {
            project.id: project.max_entries if project.max_entries is not None else default_cap
            for project in self.list_projects(conn)
        }
        removed = self.evict(conn, ("entry_publishes", "entries"), cutoff, caps)
        # Run reports age too, and are capped per project; they are not entries, so not counted.
        self.run_retention(conn, cutoff)
        # Records age and are capped like entries, counted on their own (see recordsql.py).
        return removed + self.record_retention(conn, cutoff, caps)

    def record_retention(self, conn: Conn, cutoff: float, caps: Mapping[int, int | None]) -> int:
        raise NotImplementedError

    def run_retention(self, conn: Conn, cutoff: float) -> int:
        raise NotImplementedError

    def usage(self, conn: Conn, project_id: int | None, since_day: str) -> list[UsageDay]:
        sql = f"SELECT project_id, day, {', '.join(USAGE_COUNTERS)} FROM usage_daily WHERE day >= ?"
        rows = (
            self.run(conn, sql + " AND project_id = ? ORDER BY project_id, day", (since_day, project_id))
            if project_id is not None
            else self.run(conn, sql + " ORDER BY project_id, day", (since_day,))
        )
        return [usage_day(r) for r in rows]

    RUNS = """SELECT b.id, p.name, b.namespace, b.token_id, b.branch, b.commit_sha, b.run_url,
                     b.created_at, b.keys, b.tests, b.total, b.passed, b.failed, b.skipped,
                     b.skipped_by_cache, b.seconds_saved
              FROM publishes b JOIN projects p ON p.id = b.project_id"""

    def recent_runs(self, conn: Conn, project_id: int | None, limit: int) -> list[RunRecord]:
        where, params = ("WHERE b.project_id = ?", [project_id]) if project_id is not None else ("", [])
        rows = self.run(
            conn, f"{self.RUNS} {where} ORDER BY b.created_at DESC, b.id DESC LIMIT ?", [*params, limit]
        )
        return [_run(r) for r in rows]

    def provenance(self, conn: Conn, key: str, project_id: int | None) -> list[RunRecord]:
        """Every publish that wrote to ``key``, oldest first."""
        where = " AND ep.project_id = ?" if project_id is not None else ""
        rows = self.run(
            conn,
            f"""{self.RUNS} JOIN entry_publishes ep ON ep.publish_id = b.id
                WHERE ep.key = ?{where} ORDER BY b.created_at, b.id""",
            [key] if project_id is None else [key, project_id],
        )
        return [_run(r) for r in rows]

    def count_entries(self, conn: Conn, project_id: int) -> int:
        return int(
            self.run(conn, "SELECT COUNT(*) FROM entries WHERE project_id = ?", (project_id,)).fetchone()[0]
        )


def _run(r: Sequence[Any]) -> RunRecord:
    return RunRecord(
        id=int(r[0]),
        project=r[1],
        namespace=r[2],
        token_id=r[3],
        branch=r[4],
        commit=r[5],
        run_url=r[6],
        created_at=float(r[7]),
        keys=int(r[8]),
        tests=int(r[9]),
        total=int(r[10]),
        passed=int(r[11]),
        failed=int(r[12]),
        skipped=int(r[13]),
        skipped_by_cache=int(r[14]),
        seconds_saved=float(r[15]),
    )
