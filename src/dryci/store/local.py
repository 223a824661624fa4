"""The embedded result store: one SQLite file under pytest's cache dir (``.pytest_cache/d/dryci/``).

Two pytest processes may share it at once: WAL mode lets readers proceed while one writer commits,
and a busy timeout makes a writer wait briefly instead of failing. Anything that goes wrong (a
corrupt file, a lock held too long, a full disk) becomes ``StoreUnavailable`` so the run goes on
with every test.

Besides results it keeps the function-level records, snapshots and facts (``dryci.protocol.records``),
a parse cache (a file's units by content digest, so a file is parsed once whatever runs read it), and
per test file the ``{dependency path: digest}`` of its last pass, so ``--dryci-explain`` can say
which dependency changed since then.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dryci.exceptions import StoreUnavailable
from dryci.protocol import FileEntry, Provenance, PublishStats
from dryci.protocol.usage import RunUsage

__all__ = ["DB_FILENAME", "LastPass", "LocalStore"]

DB_FILENAME = "results.sqlite"
# SQLite caps the number of bound parameters per statement (999 on old builds).
_CHUNK = 500

# Migration N brings a database from user_version N-1 to N; statements run one by one in one transaction.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS passed (
            key TEXT NOT NULL,
            test_id TEXT NOT NULL,
            seconds REAL NOT NULL,
            PRIMARY KEY (key, test_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS counts (
            key TEXT PRIMARY KEY,
            test_count INTEGER,
            updated REAL NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS manifests (
            path TEXT PRIMARY KEY,
            dependency_hash TEXT NOT NULL,
            files TEXT NOT NULL
        )""",
    ),
    # The entry's tag and skipped ids (space-separated) belong to its count: replaced with it.
    (
        "ALTER TABLE counts ADD COLUMN tag TEXT",
        "ALTER TABLE counts ADD COLUMN skipped TEXT NOT NULL DEFAULT ''",
    ),
    # Function-level records (the snapshot each refers to, kept apart so unreferenced ones can go),
    # snapshots, facts and the parse cache; the explain data gets a name of its own.
    (
        """CREATE TABLE records (key TEXT PRIMARY KEY, snapshot BLOB NOT NULL, body BLOB NOT NULL,
            updated REAL NOT NULL)""",
        "CREATE TABLE snapshots (id BLOB PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID",
        "CREATE TABLE facts (id BLOB PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID",
        "CREATE TABLE units (digest TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID",
        "ALTER TABLE manifests RENAME TO last_passes",
    ),
    # What outside the tree a last pass's key held: the file's own distributions in its row, the
    # parts of every key (the same for all files of a run) once per digest.
    (
        "ALTER TABLE last_passes ADD COLUMN parts TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE last_passes ADD COLUMN environment TEXT",
        "CREATE TABLE key_parts (digest TEXT PRIMARY KEY, parts TEXT NOT NULL) WITHOUT ROWID",
    ),
    # The plain names of the tests a last pass had, so cached tests can be listed (local only).
    ("ALTER TABLE last_passes ADD COLUMN tests TEXT NOT NULL DEFAULT '[]'",),
)
SCHEMA_VERSION = len(_MIGRATIONS)


def _json_object(text: str) -> dict[str, str] | None:
    try:
        decoded = json.loads(text)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


def _names(text: str) -> tuple[str, ...]:
    try:
        decoded = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(decoded, list) or not all(isinstance(name, str) for name in decoded):
        return ()
    return tuple(decoded)


class _Corrupt(Exception):
    """The file is not a usable SQLite database (as opposed to locked, read-only or full)."""


@dataclass(frozen=True)
class LastPass:
    """The dependencies of one test file, with their digests, at its last publish."""

    dependency_hash: str
    files: Mapping[str, str]
    parts: Mapping[str, str] = field(default_factory=dict)  # key parts outside the tree (name -> value)
    tests: tuple[str, ...] = ()  # the names of its tests that passed (or were cached) then


class LocalStore:
    """``ResultStore`` over SQLite; see the module docstring."""

    def __init__(self, directory: Path, *, busy_timeout: float = 5.0) -> None:
        self.path = directory / DB_FILENAME
        self.recovered: str | None = None  # set when a corrupt file was moved aside
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot open local cache {self.path}: {exc.strerror or exc}") from exc
        try:
            self._open(busy_timeout)
        except _Corrupt as exc:
            # Disabling the cache on every later run would be worse than starting over: keep the
            # old file for inspection and begin a fresh one.
            aside = self.path.with_name(f"{DB_FILENAME}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            try:
                self.path.rename(aside)
                for suffix in ("-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            except OSError as move_error:
                raise StoreUnavailable(
                    f"local cache {self.path} is corrupt ({exc}) and cannot be moved aside: "
                    f"{move_error.strerror or move_error}"
                ) from None
            self._open(busy_timeout)
            self.recovered = (
                f"the local cache was corrupt ({exc}); moved it to {aside.name} and started afresh"
            )

    def _open(self, busy_timeout: float) -> None:
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE) so a writer
            # takes the lock up front instead of failing half way through on an upgrade.
            self._db = sqlite3.connect(
                str(self.path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open local cache {self.path}: {exc}") from exc
        try:
            with self._errors("open"):
                try:
                    self._enable_wal(busy_timeout)
                    self._db.execute("PRAGMA synchronous=NORMAL")
                    version = self._db.execute("PRAGMA user_version").fetchone()[0]
                except sqlite3.OperationalError:
                    raise  # locked, read-only, full: the file itself is fine
                except sqlite3.DatabaseError as exc:  # not a database, or a malformed one
                    raise _Corrupt(str(exc)) from None
                if version > SCHEMA_VERSION:
                    raise sqlite3.OperationalError(f"schema version {version} is from a newer DryCI")
                if version < SCHEMA_VERSION:
                    self._migrate(version)
        except (StoreUnavailable, _Corrupt):
            self._db.close()
            raise

    def _migrate(self, version: int) -> None:
        with self._write():
            # Another process may have migrated while this one waited for the write lock.
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _enable_wal(self, busy_timeout: float) -> None:
        # Switching a fresh file to WAL can fail with "locked" without consulting the busy
        # handler when another process does the same at that moment: retry for the timeout.
        give_up = time.monotonic() + busy_timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError:
                if time.monotonic() > give_up:
                    raise
                time.sleep(0.01)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"local cache {self.path} unusable ({action}): {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def query(self, keys: Sequence[str]) -> list[FileEntry]:
        tests: dict[str, dict[str, float]] = {}
        claims: dict[str, tuple[int | None, str | None, str]] = {}
        with self._errors("query"):
            for key, test_id, seconds in self._select("passed", "key, test_id, seconds", keys):
                tests.setdefault(key, {})[test_id] = seconds
            for key, count, tag, skipped in self._select("counts", "key, test_count, tag, skipped", keys):
                claims[key] = (count, tag, skipped)
        entries = []
        for key in keys:
            count, tag, skipped = claims.get(key, (None, None, ""))
            entries.append(FileEntry(tests.get(key, {}), count, frozenset(skipped.split()), tag))
        return entries

    def publish(
        self,
        entries: Mapping[str, FileEntry],
        provenance: Provenance,
        stats: PublishStats,
    ) -> None:
        # Provenance and stats matter to a shared server; a local cache has no audience for them.
        del provenance, stats
        now = time.time()
        with self._errors("publish"), self._write():
            for key, entry in entries.items():
                self._db.executemany(
                    "INSERT INTO passed (key, test_id, seconds) VALUES (?, ?, ?)"
                    " ON CONFLICT (key, test_id) DO UPDATE SET seconds = excluded.seconds",
                    [(key, test_id, seconds) for test_id, seconds in entry.tests.items()],
                )
                if entry.test_count is not None:
                    # The count, skipped ids and tag are one claim: replaced together.
                    self._db.execute(
                        "INSERT INTO counts (key, test_count, updated, tag, skipped) VALUES (?, ?, ?, ?, ?)"
                        " ON CONFLICT (key) DO UPDATE SET test_count = excluded.test_count,"
                        " updated = excluded.updated, tag = excluded.tag, skipped = excluded.skipped",
                        (key, entry.test_count, now, entry.tag, " ".join(sorted(entry.skipped))),
                    )

    def report_run(self, usage: RunUsage) -> bool | None:
        # Usage counters are for a shared server's dashboard; a local cache has no audience for them.
        del usage
        return None

    def save_last_passes(
        self, passes: Mapping[str, LastPass], common: Mapping[str, str] | None = None
    ) -> None:
        """Remember, per test file, the dependencies it passed with; ``common``: the key parts all of
        them share (kept once), which each pass's ``parts`` leaves out."""
        environment = None
        if common is not None:
            text = json.dumps(dict(common), sort_keys=True)
            environment = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
        with self._errors("save last passes"), self._write():
            if environment is not None:
                self._db.execute(
                    "INSERT OR IGNORE INTO key_parts (digest, parts) VALUES (?, ?)", (environment, text)
                )
            self._db.executemany(
                "INSERT INTO last_passes (path, dependency_hash, files, parts, environment, tests)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (path) DO UPDATE SET dependency_hash = excluded.dependency_hash,"
                " files = excluded.files, parts = excluded.parts, environment = excluded.environment,"
                " tests = excluded.tests",
                [
                    (
                        path,
                        m.dependency_hash,
                        json.dumps(dict(m.files), sort_keys=True),
                        json.dumps(dict(m.parts), sort_keys=True),
                        environment,
                        json.dumps(sorted(m.tests)),
                    )
                    for path, m in passes.items()
                ],
            )
            if environment is not None:
                self._db.execute(
                    "DELETE FROM key_parts WHERE digest NOT IN"
                    " (SELECT environment FROM last_passes WHERE environment IS NOT NULL)"
                )

    def last_passes(self, paths: Sequence[str]) -> dict[str, LastPass]:
        """The last pass of each of ``paths`` that has one (unreadable ones are left out)."""
        found: dict[str, LastPass] = {}
        commons: dict[str, dict[str, str]] = {}
        with self._errors("read last passes"):
            rows = list(
                self._select("last_passes", "path, dependency_hash, files, parts, environment, tests", paths)
            )
            wanted = sorted({row[4] for row in rows if row[4] is not None})
            for digest, text in self._select("key_parts", "digest, parts", wanted):
                decoded = _json_object(text)
                if decoded is not None:
                    commons[digest] = decoded
        for path, dependency_hash, files, parts, environment, tests in rows:
            decoded_files = _json_object(files)
            if decoded_files is None:
                continue
            own = _json_object(parts) or {}
            merged = {**commons.get(environment, {}), **own} if environment in commons else {}
            found[path] = LastPass(dependency_hash, decoded_files, merged, _names(tests))
        return found

    # -- function level --------------------------------------------------------------------------

    def records(self, keys: Sequence[str]) -> dict[str, bytes]:
        with self._errors("read records"):
            return {key: bytes(body) for key, body in self._select("records", "key, body", keys)}

    def snapshots(self, ids: Sequence[bytes]) -> dict[bytes, bytes]:
        with self._errors("read snapshots"):
            return {bytes(i): bytes(body) for i, body in self._select("snapshots", "id, body", ids)}

    def facts(self, ids: Sequence[bytes]) -> dict[bytes, bytes]:
        with self._errors("read facts"):
            return {bytes(i): bytes(body) for i, body in self._select("facts", "id, body", ids)}

    def save_records(
        self,
        records: Mapping[str, bytes],
        snapshots: Mapping[bytes, bytes],
        facts: Mapping[bytes, bytes],
    ) -> None:
        """Replace the records of their keys; add snapshots and facts (content-addressed: never changed).

        Snapshots no record refers to any more are dropped in the same transaction.
        """
        now = time.time()
        with self._errors("save records"), self._write():
            self._db.executemany(
                "INSERT OR IGNORE INTO snapshots (id, body) VALUES (?, ?)", list(snapshots.items())
            )
            self._db.executemany("INSERT OR IGNORE INTO facts (id, body) VALUES (?, ?)", list(facts.items()))
            self._db.executemany(
                "INSERT INTO records (key, snapshot, body, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET snapshot = excluded.snapshot, body = excluded.body,"
                " updated = excluded.updated",
                [(key, body[20:36], body, now) for key, body in records.items()],
            )
            if records:
                self._db.execute("DELETE FROM snapshots WHERE id NOT IN (SELECT snapshot FROM records)")

    def parsed(self, digests: Sequence[str]) -> dict[str, bytes]:
        """The parse cache: serialized units of file contents by their digest."""
        with self._errors("read the parse cache"):
            return {digest: bytes(body) for digest, body in self._select("units", "digest, body", digests)}

    def save_parsed(self, units: Mapping[str, bytes]) -> None:
        with self._errors("save the parse cache"), self._write():
            self._db.executemany(
                "INSERT OR IGNORE INTO units (digest, body) VALUES (?, ?)", list(units.items())
            )

    def _select(self, table: str, columns: str, keys: Sequence[object]) -> Iterator[tuple[Any, ...]]:
        """Rows of ``table`` whose first column is one of ``keys``, asked in chunks."""
        key_column = columns.split(",", 1)[0].strip()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            yield from self._db.execute(
                f"SELECT {columns} FROM {table} WHERE {key_column} IN ({marks})", chunk
            )

    breaker_open = False  # a local file is asked again each time: a lock may be gone by then

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
