"""What every server backend implements, and the plain records that cross the boundary.

Backends are synchronous: the app calls them from worker threads. ``publish`` returns only after the
transaction holding the publish has committed, so an acknowledged publish survives a crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from dryci.protocol import FileEntry, PublishRequest
from dryci.protocol.exchange import RecordsPublish
from dryci.protocol.usage import RunUsage

SCOPES = ("read", "write", "admin")


@dataclass(frozen=True)
class TokenRow:
    """A token as stored, joined with its user and project; auth.py decides if it is usable."""

    id: str
    token_hash: str
    scope: str
    namespace: str
    project_id: int
    project: str
    user: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None  # the earliest of token, user and project revocation


@dataclass(frozen=True)
class SessionRow:
    """A dashboard session as stored: only the hash of its id, the token it was opened with, its end."""

    id_hash: str
    token_id: str
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class Principal:
    """Who is asking, after authentication."""

    token_id: str
    project_id: int
    project: str
    user: str
    scope: str
    namespace: str

    @property
    def can_write(self) -> bool:
        return self.scope in ("write", "admin")

    @property
    def read_namespaces(self) -> tuple[str, ...]:
        # A namespaced token (e.g. pull requests) also reads the default namespace; the default
        # namespace never reads a named one, so pull-request results cannot reach the main branch.
        return ("",) if not self.namespace else ("", self.namespace)


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    created_at: float
    max_entries: int | None
    revoked_at: float | None


@dataclass(frozen=True)
class User:
    id: int
    project: str
    name: str
    created_at: float
    revoked_at: float | None


@dataclass(frozen=True)
class UsageDay:
    project_id: int
    day: str
    queries: int = 0
    hits: int = 0
    misses: int = 0
    tests_published: int = 0
    tests_skipped: int = 0
    seconds_saved: float = 0.0
    # From the runs' own reports (POST /api/v2/runs), read tokens included.
    runs: int = 0
    tests_total: int = 0
    tests_run: int = 0
    seconds_run: float = 0.0
    shadow_runs: int = 0
    shadow_would_skip: int = 0
    shadow_missed: int = 0


# The counters of a usage day, in the column order the SQL of every backend uses.
USAGE_COUNTERS = (
    "queries",
    "hits",
    "misses",
    "tests_published",
    "tests_skipped",
    "seconds_saved",
    "runs",
    "tests_total",
    "tests_run",
    "seconds_run",
    "shadow_runs",
    "shadow_would_skip",
    "shadow_missed",
)
_FLOAT_COUNTERS = frozenset({"seconds_saved", "seconds_run"})


def usage_day(row: Sequence[Any]) -> UsageDay:
    """A UsageDay from ``project_id, day, *USAGE_COUNTERS``."""
    counters: dict[str, Any] = {
        name: float(value) if name in _FLOAT_COUNTERS else int(value)
        for name, value in zip(USAGE_COUNTERS, row[2:])
    }
    return UsageDay(int(row[0]), str(row[1]), **counters)


@dataclass(frozen=True)
class RunRecord:
    """One publish: its provenance and the statistics the client sent."""

    id: int
    project: str
    namespace: str
    token_id: str
    branch: str | None
    commit: str | None
    run_url: str | None
    created_at: float
    keys: int
    tests: int
    total: int
    passed: int
    failed: int
    skipped: int
    skipped_by_cache: int
    seconds_saved: float


@dataclass(frozen=True)
class RunReport:
    """One run's own report (``POST /api/v2/runs``), as the server writes it."""

    project_id: int
    namespace: str
    token_id: str
    created_at: float
    usage: RunUsage


@dataclass(frozen=True)
class ReportedRun:
    """A stored run report as the dashboard lists it: ``user`` is the name of the token's user (the
    name given to ``dryci admin tokens create --user``), never the token."""

    id: int
    project: str
    user: str
    namespace: str
    created_at: float
    usage: RunUsage


@dataclass(frozen=True)
class QueryResult:
    entries: list[FileEntry]
    stale_keys: list[tuple[str, str]]  # (namespace, key) whose last_read_at should be refreshed


@dataclass(frozen=True)
class BlobAnswer:
    found: dict[str, bytes]  # name -> stored record, snapshot or facts, only the names found
    stale_keys: list[tuple[str, str]]  # (namespace, key) whose last_read_at should be refreshed


@dataclass(frozen=True)
class V1Answer:
    body: bytes  # the complete JSON answer of /api/v1/query-passed
    hits: int
    stale_keys: list[tuple[str, str]]


class Backend(Protocol):
    """Storage of a DryCI server: tokens, tenants, cached entries, usage."""

    schema_version: int
    # True when reads are short local CPU work (SQLite): the app then runs them on the event loop.
    local_reads: bool

    # hot path
    def pinned(self) -> AbstractContextManager[None]: ...
    def lookup_token(self, token_id: str) -> TokenRow | None: ...
    def query(
        self, project_id: int, namespaces: Sequence[str], keys: Sequence[str], now: float
    ) -> QueryResult: ...
    def query_v1(
        self, project_id: int, namespaces: Sequence[str], keys: Sequence[str], now: float
    ) -> V1Answer: ...
    def publish(self, principal: Principal, request: PublishRequest, api: str, now: float) -> int: ...
    def touch(self, project_id: int, items: Sequence[tuple[str, str]], now: float) -> None: ...
    def query_records(
        self, project_id: int, namespaces: Sequence[str], kind: str, names: Sequence[str], now: float
    ) -> BlobAnswer: ...
    def publish_records(self, principal: Principal, publish: RecordsPublish, now: float) -> int: ...
    def touch_records(
        self, project_id: int, kind: str, items: Sequence[tuple[str, str]], now: float
    ) -> None: ...
    def add_usage(self, days: Sequence[UsageDay]) -> None: ...
    def add_run_reports(self, reports: Sequence[RunReport]) -> None: ...
    def check(self) -> None: ...
    def size_bytes(self) -> int: ...
    def close(self) -> None: ...

    # administration
    def create_project(self, name: str, max_entries: int | None, now: float) -> Project: ...
    def list_projects(self) -> list[Project]: ...
    def revoke_project(self, name: str, now: float) -> bool: ...
    def create_user(self, project: str, name: str, now: float) -> User: ...
    def list_users(self, project: str | None) -> list[User]: ...
    def revoke_user(self, project: str, name: str, now: float) -> bool: ...
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
    ) -> TokenRow: ...
    def list_tokens(self, project: str | None) -> list[TokenRow]: ...
    def revoke_token(self, token_id: str, now: float) -> bool: ...
    def has_any_token(self) -> bool: ...

    # dashboard sessions
    def create_session(self, id_hash: str, token_id: str, now: float, expires_at: float) -> None: ...
    def lookup_session(self, id_hash: str) -> SessionRow | None: ...
    def end_session(self, id_hash: str) -> bool: ...
    def sweep_sessions(self, now: float) -> int: ...

    # poisoning, retention and reporting
    def purge(
        self, *, token_id: str | None, since: float | None, key: str | None, project: str | None
    ) -> int: ...
    def purge_records(
        self, *, token_id: str | None, since: float | None, key: str | None, project: str | None
    ) -> int: ...
    def apply_retention(self, now: float, max_age_days: float, default_cap: int | None) -> int: ...
    def usage(self, project_id: int | None, since_day: str) -> list[UsageDay]: ...
    def recent_runs(self, project_id: int | None, limit: int) -> list[RunRecord]: ...
    def reported_runs(self, project_id: int | None, limit: int) -> list[ReportedRun]: ...
    def count_entries(self, project_id: int) -> int: ...
    def count_records(self, project_id: int) -> int: ...
    def provenance(self, key: str, project: str | None) -> list[RunRecord]: ...


EntryMap = Mapping[str, FileEntry]
