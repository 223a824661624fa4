"""The SQL both backends run, written once.

Statements use ``?`` placeholders; :class:`SqlOps` rewrites them to ``%s`` for PostgreSQL. Every
function takes an open DB-API connection and runs inside whatever transaction the backend opened:
the backend owns connections and transactions, this module owns the statements.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from dryci.protocol import FileEntry, PublishRequest
from dryci.server.backends.adminsql import AdminStatements
from dryci.server.backends.base import (
    USAGE_COUNTERS,
    Principal,
    QueryResult,
    TokenRow,
    UsageDay,
    V1Answer,
)
from dryci.server.backends.packing import ids_json, merge, pack_ids, unpack, unpack_ids
from dryci.server.backends.recordsql import RecordStatements
from dryci.server.backends.runsql import RunStatements

COUNTER_CAP = 2**53
TOUCH_AFTER_SECONDS = 3600.0  # refresh last_read_at at most hourly: retention counts days, not seconds
Conn = Any  # sqlite3.Connection or psycopg.Connection: both offer execute() and cursor().executemany()


class SqlOps(RecordStatements, RunStatements, AdminStatements):
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def q(self, sql: str) -> str:
        return _to_format(sql) if self.dialect == "postgres" else sql

    def run(self, conn: Conn, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(self.q(sql), tuple(params))

    def many(self, conn: Conn, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            conn.cursor().executemany(self.q(sql), rows)

    # --- hot path ---------------------------------------------------------------------------------

    def lookup_token(self, conn: Conn, token_id: str) -> TokenRow | None:
        row = self.run(
            conn,
            """
            SELECT t.id, t.token_hash, t.scope, t.namespace, t.project_id, p.name, u.name, t.created_at,
                   t.expires_at, t.revoked_at, u.revoked_at, p.revoked_at
            FROM tokens t JOIN users u ON u.id = t.user_id JOIN projects p ON p.id = t.project_id
            WHERE t.id = ?""",
            (token_id,),
        ).fetchone()
        if row is None:
            return None
        revoked = [r for r in row[9:12] if r is not None]
        return TokenRow(
            id=row[0],
            token_hash=row[1],
            scope=row[2],
            namespace=row[3],
            project_id=int(row[4]),
            project=row[5],
            user=row[6],
            created_at=row[7],
            expires_at=row[8],
            revoked_at=min(revoked) if revoked else None,
        )

    def query(
        self,
        conn: Conn,
        project_id: int,
        namespaces: Sequence[str],
        keys: Sequence[str],
        now: float,
    ) -> QueryResult:
        unique = list(dict.fromkeys(keys))
        found: dict[str, FileEntry] = {}
        stale: list[tuple[str, str]] = []
        if unique:
            ns_in = ",".join("?" * len(namespaces))
            key_in = ",".join("?" * len(unique))
            for namespace, key, count, ids, seconds, skipped, tag, last_read in self.run(
                conn,
                f"""
                    SELECT namespace, key, test_count, ids, seconds, skipped, tag, last_read_at FROM entries
                    WHERE project_id = ? AND namespace IN ({ns_in}) AND key IN ({key_in})""",
                (project_id, *namespaces, *unique),
            ):
                entry = FileEntry(
                    tests=unpack(bytes(ids), bytes(seconds)),
                    test_count=None if count is None else int(count),
                    skipped=frozenset(unpack_ids(bytes(skipped))),
                    tag=tag,
                )
                if key in found:  # a namespaced token also reads the default namespace: union both
                    entry = union(found[key], entry) if namespace else union(entry, found[key])
                found[key] = entry
                if last_read < now - TOUCH_AFTER_SECONDS:
                    stale.append((namespace, key))
        empty = FileEntry()
        return QueryResult(entries=[found.get(key, empty) for key in keys], stale_keys=stale)

    def query_v1(
        self, conn: Conn, project_id: int, namespaces: Sequence[str], keys: Sequence[str], now: float
    ) -> V1Answer:
        """The v1 answer body built straight from the packed ids: the hot path of 0.1.x clients."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, bytes] = {}
        merged: dict[str, set[str]] = {}
        stale: list[tuple[str, str]] = []
        if unique:
            ns_in = ",".join("?" * len(namespaces))
            key_in = ",".join("?" * len(unique))
            for namespace, key, ids, last_read in self.run(
                conn,
                f"""SELECT namespace, key, ids, last_read_at FROM entries
                    WHERE project_id = ? AND namespace IN ({ns_in}) AND key IN ({key_in})""",
                (project_id, *namespaces, *unique),
            ):
                if key in found:  # a namespaced token also reads the default namespace: union both
                    merged.setdefault(key, set(unpack_ids(found[key]))).update(unpack_ids(bytes(ids)))
                found[key] = bytes(ids)
                if last_read < now - TOUCH_AFTER_SECONDS:
                    stale.append((namespace, key))
        parts = {key: ids_json(ids) for key, ids in found.items()}
        for key, union in merged.items():
            parts[key] = json.dumps(sorted(union))
        hits = sum(1 for key in keys if parts.get(key, "[]") != "[]")
        body = '{"node_ids":[' + ",".join(parts.get(key, "[]") for key in keys) + "]}"
        return V1Answer(body=body.encode(), hits=hits, stale_keys=stale)

    def publish(self, conn: Conn, who: Principal, request: PublishRequest, api: str, now: float) -> int:
        stats, prov = request.stats, request.provenance
        stored = sum(len(entry.tests) for entry in request.entries.values())
        publish_id = self.run(
            conn,
            """
            INSERT INTO publishes (project_id, namespace, token_id, api, branch, commit_sha, run_url,
                created_at,
                keys, tests, total, passed, failed, skipped, skipped_by_cache, seconds_saved)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
            (
                who.project_id,
                who.namespace,
                who.token_id,
                api,
                prov.branch,
                prov.commit,
                prov.run_url,
                now,
                len(request.entries),
                stored,
                stats.total,
                stats.passed,
                stats.failed,
                stats.skipped,
                stats.skipped_by_cache,
                stats.seconds_saved,
            ),
        ).fetchone()[0]
        if not request.entries:
            return 0
        keys = sorted(request.entries)  # one lock order for every transaction: no deadlocks
        pid, ns = who.project_id, who.namespace
        # Make sure every row exists, then lock and read them (PostgreSQL: FOR UPDATE; SQLite has one writer).
        self.many(
            conn,
            """INSERT INTO entries (project_id, namespace, key, test_count, ids, seconds, created_at,
                                                last_read_at) VALUES (?, ?, ?, NULL, ?, ?, ?, ?)
                           ON CONFLICT (project_id, namespace, key) DO NOTHING""",
            [(pid, ns, key, b"", b"", now, now) for key in keys],
        )
        key_in = ",".join("?" * len(keys))
        lock = " ORDER BY key FOR UPDATE" if self.dialect == "postgres" else ""
        current = {
            row[0]: row
            for row in self.run(
                conn,
                f"""
            SELECT key, test_count, ids, seconds, skipped, tag FROM entries
            WHERE project_id = ? AND namespace = ? AND key IN ({key_in}){lock}""",
                (pid, ns, *keys),
            )
        }
        updates = []
        for key in keys:
            entry = request.entries[key]
            _, count, ids, seconds, skipped, tag = current[key]
            packed_ids, packed_seconds = merge(bytes(ids), bytes(seconds), entry.tests)
            if entry.test_count is not None:  # count, skipped ids and tag are one claim: replaced together
                count, skipped, tag = entry.test_count, pack_ids(entry.skipped), entry.tag
            updates.append((count, packed_ids, packed_seconds, bytes(skipped), tag, now, pid, ns, key))
        self.many(
            conn,
            """UPDATE entries SET test_count = ?, ids = ?, seconds = ?, skipped = ?, tag = ?, last_read_at = ?
                           WHERE project_id = ? AND namespace = ? AND key = ?""",
            updates,
        )
        self.many(
            conn,
            """INSERT INTO entry_publishes (project_id, namespace, key, publish_id) VALUES (?, ?, ?, ?)
                           ON CONFLICT DO NOTHING""",
            [(pid, ns, key, publish_id) for key in keys],
        )
        return stored

    def touch(self, conn: Conn, project_id: int, items: Sequence[tuple[str, str]], now: float) -> None:
        self.many(
            conn,
            """UPDATE entries SET last_read_at = ?
                           WHERE project_id = ? AND namespace = ? AND key = ? AND last_read_at < ?""",
            [(now, project_id, ns, key, now) for ns, key in sorted(set(items))],
        )

    def add_usage(self, conn: Conn, days: Sequence[UsageDay]) -> None:
        columns = ", ".join(USAGE_COUNTERS)
        sums = ", ".join(f"{name} = {_capped_sum(name)}" for name in USAGE_COUNTERS)
        self.many(
            conn,
            f"""
            INSERT INTO usage_daily (project_id, day, {columns})
            VALUES (?, ?{", ?" * len(USAGE_COUNTERS)})
            ON CONFLICT (project_id, day) DO UPDATE SET {sums}""",
            [
                (d.project_id, d.day, *(getattr(d, name) for name in USAGE_COUNTERS))
                for d in sorted(days, key=lambda d: (d.project_id, d.day))
            ],
        )


def _capped_sum(name: str) -> str:
    # A day's counters stop at COUNTER_CAP (the recorder clamps what it adds): no sum overflows a bigint.
    return (
        f"CASE WHEN usage_daily.{name} + excluded.{name} > {COUNTER_CAP} THEN {COUNTER_CAP}"
        f" ELSE usage_daily.{name} + excluded.{name} END"
    )


def union(default: FileEntry, own: FileEntry) -> FileEntry:
    """One entry from a key's entries in the default namespace and in the token's own namespace.

    The tests and skipped ids are united; the claim (count and tag) is the own namespace's when it has
    one. The reader checks the tag against what it gets, so a tag that does not cover the union only
    costs the shortcut, never a false skip.
    """
    claim = own if own.test_count is not None else default
    return FileEntry(
        tests={**default.tests, **own.tests},
        test_count=claim.test_count,
        skipped=default.skipped | own.skipped,
        tag=claim.tag,
    )


@lru_cache(maxsize=256)
def _to_format(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")
