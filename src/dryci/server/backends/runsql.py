"""SQL of run reports (a mixin of SqlOps): one row per ``POST /api/v2/runs``, for recent runs.

Every run reports, fully cached ones and read tokens' included, so this is the one table that lists
them all (``publishes`` only holds runs that stored something). It grows with every run: retention
removes rows older than the retention age and keeps at most ``MAX_REPORTS_PER_PROJECT`` per project.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dryci.protocol import Provenance
from dryci.protocol.usage import RunUsage
from dryci.server.backends.base import ReportedRun, RunReport
from dryci.server.backends.statements import Statements

Conn = Any
MAX_REPORTS_PER_PROJECT = 10_000
UNKNOWN_USER = "(unknown)"  # no literal "?" in the SQL: SqlOps turns every "?" into a placeholder

_COLUMNS = (
    "project_id, namespace, token_id, level, shadow, branch, commit_sha, run_url, created_at, tests_total,"
    " tests_run, tests_skipped, seconds_run, seconds_saved, would_skip, missed_failures"
)


class RunStatements(Statements):
    """Statements on ``run_reports``; ``run``/``many`` come from SqlOps."""

    def add_run_reports(self, conn: Conn, reports: Sequence[RunReport]) -> None:
        self.many(
            conn,
            f"INSERT INTO run_reports ({_COLUMNS}) VALUES ({', '.join('?' * 16)})",
            [_row(r) for r in reports],
        )

    def reported_runs(self, conn: Conn, project_id: int | None, limit: int) -> list[ReportedRun]:
        """The newest reports first, each with its token's user by name. Tokens are revoked, never
        deleted; the LEFT JOIN only makes sure no report can vanish from the list for want of one."""
        where, params = ("WHERE r.project_id = ?", [project_id]) if project_id is not None else ("", [])
        rows = self.run(
            conn,
            f"""SELECT r.id, p.name, u.name, r.namespace, r.created_at, r.level, r.shadow,
                       r.branch, r.commit_sha, r.run_url, r.tests_total, r.tests_run, r.tests_skipped,
                       r.seconds_run, r.seconds_saved, r.would_skip, r.missed_failures
                FROM run_reports r JOIN projects p ON p.id = r.project_id
                LEFT JOIN tokens t ON t.id = r.token_id LEFT JOIN users u ON u.id = t.user_id
                {where} ORDER BY r.created_at DESC, r.id DESC LIMIT ?""",
            [*params, limit],
        )
        return [_reported(r) for r in rows]

    def run_retention(self, conn: Conn, cutoff: float) -> int:
        """Delete reports older than ``cutoff``, then each project's beyond its newest
        MAX_REPORTS_PER_PROJECT; returns how many went."""
        removed = int(self.run(conn, "DELETE FROM run_reports WHERE created_at < ?", (cutoff,)).rowcount)
        crowded = self.run(
            conn,
            "SELECT project_id FROM run_reports GROUP BY project_id HAVING COUNT(*) > ?",
            (MAX_REPORTS_PER_PROJECT,),
        ).fetchall()
        for (project_id,) in crowded:
            oldest_kept = self.run(
                conn,
                """SELECT created_at, id FROM run_reports WHERE project_id = ?
                   ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ?""",
                (project_id, MAX_REPORTS_PER_PROJECT - 1),
            ).fetchone()
            removed += int(
                self.run(
                    conn,
                    """DELETE FROM run_reports WHERE project_id = ?
                       AND (created_at < ? OR (created_at = ? AND id < ?))""",
                    (project_id, oldest_kept[0], oldest_kept[0], oldest_kept[1]),
                ).rowcount
            )
        return removed


def _row(report: RunReport) -> tuple[Any, ...]:
    u, prov = report.usage, report.usage.provenance
    return (
        report.project_id,
        report.namespace,
        report.token_id,
        u.level,
        int(u.shadow),
        prov.branch,
        prov.commit,
        prov.run_url,
        report.created_at,
        u.tests_total,
        u.tests_run,
        u.tests_skipped,
        u.seconds_run,
        u.seconds_saved,
        u.would_skip,
        u.missed_failures,
    )


def _reported(r: Sequence[Any]) -> ReportedRun:
    usage = RunUsage(
        level=r[5],
        shadow=bool(r[6]),
        provenance=Provenance(branch=r[7], commit=r[8], run_url=r[9]),
        tests_total=int(r[10]),
        tests_run=int(r[11]),
        tests_skipped=int(r[12]),
        seconds_run=float(r[13]),
        seconds_saved=float(r[14]),
        would_skip=int(r[15]),
        missed_failures=int(r[16]),
    )
    return ReportedRun(int(r[0]), r[1], r[2] or UNKNOWN_USER, r[3], float(r[4]), usage)
