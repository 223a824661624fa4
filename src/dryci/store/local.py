"""The embedded result store: one SQLite file under pytest's cache dir (``.pytest_cache/d/dryci/``).

Two pytest processes may share it at once: WAL mode lets readers proceed while one writer commits,
and a busy timeout makes a writer wait briefly instead of failing. Anything that goes wrong (a
corrupt file, a lock held too long, a full disk) becomes ``StoreUnavailable`` so the run goes on
with every test.

Besides results it keeps, per test file, the manifest ``{dependency path: digest}`` of the last
pass, so ``--dryci-explain`` can say which dependency changed since then.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dryci.exceptions import StoreUnavailable
from dryci.protocol import FileEntry, Provenance, PublishStats

__all__ = ["DB_FILENAME", "LocalStore", "Manifest"]

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
)
SCHEMA_VERSION = len(_MIGRATIONS)


class _Corrupt(Exception):
    """The file is not a usable SQLite database (as opposed to locked, read-only or full)."""


@dataclass(frozen=True)
class Manifest:
    """The dependencies of one test file, with their digests, at its last publish."""

    dependency_hash: str
    files: Mapping[str, str]


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
        unique = list(dict.fromkeys(keys))
        with self._errors("query"):
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, test_id, seconds in self._db.execute(
                    f"SELECT key, test_id, seconds FROM passed WHERE key IN ({marks})", chunk
                ):
                    tests.setdefault(key, {})[test_id] = seconds
                for key, count, tag, skipped in self._db.execute(
                    f"SELECT key, test_count, tag, skipped FROM counts WHERE key IN ({marks})", chunk
                ):
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

    def save_manifests(self, manifests: Mapping[str, Manifest]) -> None:
        """Remember, per test file, the dependencies it passed with."""
        with self._errors("save manifests"), self._write():
            self._db.executemany(
                "INSERT INTO manifests (path, dependency_hash, files) VALUES (?, ?, ?)"
                " ON CONFLICT (path) DO UPDATE SET dependency_hash = excluded.dependency_hash,"
                " files = excluded.files",
                [
                    (path, m.dependency_hash, json.dumps(dict(m.files), sort_keys=True))
                    for path, m in manifests.items()
                ],
            )

    def manifests(self, paths: Sequence[str]) -> dict[str, Manifest]:
        """The last saved manifest of each of ``paths`` that has one (unreadable ones are left out)."""
        found: dict[str, Manifest] = {}
        unique = list(dict.fromkeys(paths))
        with self._errors("read manifests"):
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for path, dependency_hash, files in self._db.execute(
                    f"SELECT path, dependency_hash, files FROM manifests WHERE path IN ({marks})", chunk
                ):
                    try:
                        decoded = json.loads(files)
                    except ValueError:
                        continue
                    if isinstance(decoded, dict):
                        found[path] = Manifest(dependency_hash, decoded)
        return found

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
