"""Query, administration and reporting methods shared by both backends, on top of their _read/_write."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from dryci.exceptions import StoreError
from dryci.protocol.exchange import RecordsPublish
from dryci.server.backends.base import (
    BlobAnswer,
    Principal,
    Project,
    QueryResult,
    ReportedRun,
    RunRecord,
    RunReport,
    SessionRow,
    TokenRow,
    UsageDay,
    User,
    V1Answer,
)
from dryci.server.backends.sqlops import SqlOps

T = TypeVar("T")


class AdminOps:
    ops: SqlOps

    def _read(self, fn: Callable[[Any], T]) -> T:
        raise NotImplementedError

    def _write(self, fn: Callable[[Any], T]) -> T:
        raise NotImplementedError

    def lookup_token(self, token_id: str) -> TokenRow | None:
        return self._read(lambda c: self.ops.lookup_token(c, token_id))

    def query(
        self, project_id: int, namespaces: Sequence[str], keys: Sequence[str], now: float
    ) -> QueryResult:
        return self._read(lambda c: self.ops.query(c, project_id, namespaces, keys, now))

    def query_v1(
        self, project_id: int, namespaces: Sequence[str], keys: Sequence[str], now: float
    ) -> V1Answer:
        return self._read(lambda c: self.ops.query_v1(c, project_id, namespaces, keys, now))

    def touch(self, project_id: int, items: Sequence[tuple[str, str]], now: float) -> None:
        self._write(lambda c: self.ops.touch(c, project_id, items, now))

    def query_records(
        self, project_id: int, namespaces: Sequence[str], kind: str, names: Sequence[str], now: float
    ) -> BlobAnswer:
        return self._read(lambda c: self.ops.query_records(c, project_id, namespaces, kind, names, now))

    def publish_records(self, principal: Principal, publish: RecordsPublish, now: float) -> int:
        return self._write(lambda c: self.ops.publish_records(c, principal, publish, now))

    def touch_records(self, project_id: int, kind: str, items: Sequence[tuple[str, str]], now: float) -> None:
        self._write(lambda c: self.ops.touch_records(c, project_id, kind, items, now))

    def add_usage(self, days: Sequence[UsageDay]) -> None:
        self._write(lambda c: self.ops.add_usage(c, days))

    def add_run_reports(self, reports: Sequence[RunReport]) -> None:
        self._write(lambda c: self.ops.add_run_reports(c, reports))

    def check(self) -> None:
        self._read(lambda c: c.execute("SELECT version FROM dryci_schema").fetchone())

    def _project_id(self, conn: Any, name: str) -> int:
        project_id = self.ops.project_id(conn, name)
        if project_id is None:
            raise StoreError(f"no project named {name!r} (see `dryci admin projects list`)")
        return project_id

    def create_project(self, name: str, max_entries: int | None, now: float) -> Project:
        def run(conn: Any) -> Project:
            if self.ops.project_id(conn, name) is not None:
                raise StoreError(f"a project named {name!r} already exists")
            self.ops.create_project(conn, name, max_entries, now)
            return next(p for p in self.ops.list_projects(conn) if p.name == name)

        return self._write(run)

    def list_projects(self) -> list[Project]:
        return self._read(self.ops.list_projects)

    def revoke_project(self, name: str, now: float) -> bool:
        return self._write(lambda c: self.ops.revoke_project(c, name, now))

    def create_user(self, project: str, name: str, now: float) -> User:
        def run(conn: Any) -> User:
            project_id = self._project_id(conn, project)
            if self.ops.user_id(conn, project_id, name) is not None:
                raise StoreError(f"project {project!r} already has a user named {name!r}")
            self.ops.create_user(conn, project_id, name, now)
            return next(u for u in self.ops.list_users(conn, project) if u.name == name)

        return self._write(run)

    def list_users(self, project: str | None) -> list[User]:
        return self._read(lambda c: self.ops.list_users(c, project))

    def revoke_user(self, project: str, name: str, now: float) -> bool:
        return self._write(lambda c: self.ops.revoke_user(c, self._project_id(c, project), name, now))

    def create_token(
        self,
        project: str,
        user: str,
        token_id: str,
        token_hash: str,
        scope: str,
        namespace: str,
        expires_at: float | None,
        now: float,
    ) -> TokenRow:
        def run(conn: Any) -> TokenRow:
            project_id = self._project_id(conn, project)
            user_id = self.ops.user_id(conn, project_id, user)
            if user_id is None:
                self.ops.create_user(conn, project_id, user, now)
                user_id = self.ops.user_id(conn, project_id, user)
                assert user_id is not None
            self.ops.create_token(
                conn, project_id, user_id, token_id, token_hash, scope, namespace, expires_at, now
            )
            row = self.ops.lookup_token(conn, token_id)
            assert row is not None
            return row

        return self._write(run)

    def list_tokens(self, project: str | None) -> list[TokenRow]:
        def run(conn: Any) -> list[TokenRow]:
            rows = (
                self.ops.lookup_token(conn, token_id) for token_id in self.ops.list_token_ids(conn, project)
            )
            return [row for row in rows if row is not None]

        return self._read(run)

    def revoke_token(self, token_id: str, now: float) -> bool:
        return self._write(lambda c: self.ops.revoke_token(c, token_id, now))

    def has_any_token(self) -> bool:
        return self._read(self.ops.has_any_token)

    def create_session(self, id_hash: str, token_id: str, now: float, expires_at: float) -> None:
        self._write(lambda c: self.ops.create_session(c, id_hash, token_id, now, expires_at))

    def lookup_session(self, id_hash: str) -> SessionRow | None:
        return self._read(lambda c: self.ops.lookup_session(c, id_hash))

    def end_session(self, id_hash: str) -> bool:
        return self._write(lambda c: self.ops.end_session(c, id_hash))

    def sweep_sessions(self, now: float) -> int:
        return self._write(lambda c: self.ops.sweep_sessions(c, now))

    def purge(
        self, *, token_id: str | None, since: float | None, key: str | None, project: str | None
    ) -> int:
        def run(conn: Any) -> int:
            project_id = self._project_id(conn, project) if project is not None else None
            return self.ops.purge(conn, token_id, since, key, project_id)

        return self._write(run)

    def purge_records(
        self, *, token_id: str | None, since: float | None, key: str | None, project: str | None
    ) -> int:
        def run(conn: Any) -> int:
            project_id = self._project_id(conn, project) if project is not None else None
            return self.ops.purge_records(conn, token_id, since, key, project_id)

        return self._write(run)

    def apply_retention(self, now: float, max_age_days: float, default_cap: int | None) -> int:
        return self._write(lambda c: self.ops.apply_retention(c, now, max_age_days, default_cap))

    def usage(self, project_id: int | None, since_day: str) -> list[UsageDay]:
        return self._read(lambda c: self.ops.usage(c, project_id, since_day))

    def recent_runs(self, project_id: int | None, limit: int) -> list[RunRecord]:
        return self._read(lambda c: self.ops.recent_runs(c, project_id, limit))

    def reported_runs(self, project_id: int | None, limit: int) -> list[ReportedRun]:
        return self._read(lambda c: self.ops.reported_runs(c, project_id, limit))

    def provenance(self, key: str, project: str | None) -> list[RunRecord]:
        def run(conn: Any) -> list[RunRecord]:
            project_id = self._project_id(conn, project) if project is not None else None
            return self.ops.provenance(conn, key, project_id)

        return self._read(run)

    def count_entries(self, project_id: int) -> int:
        return self._read(lambda c: self.ops.count_entries(c, project_id))

    def count_records(self, project_id: int) -> int:
        return self._read(lambda c: self.ops.count_records(c, project_id))
