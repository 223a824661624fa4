from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from dryci.exceptions import StoreUnavailable
from dryci.protocol import FileEntry, Provenance, PublishStats, hash_node_id, key_for
from dryci.store.local import DB_FILENAME, LastPass, LocalStore

KEY_A = key_for("a" * 64)
KEY_B = key_for("b" * 64)
ID_1 = hash_node_id("a" * 64, "tests/test_a.py::test_one")
ID_2 = hash_node_id("a" * 64, "tests/test_a.py::test_two")


@pytest.fixture
def opened() -> Iterator[Callable[..., LocalStore]]:
    """Opens LocalStores and closes them after the test."""
    made: list[LocalStore] = []

    def make(*args: Any, **kwargs: Any) -> LocalStore:
        made.append(LocalStore(*args, **kwargs))
        return made[-1]

    yield make
    for store in made:
        store.close()


def publish(store: LocalStore, entries: dict[str, FileEntry]) -> None:
    store.publish(entries, Provenance(), PublishStats())


def test_unknown_keys_give_empty_entries_in_order(tmp_path: Path, opened: Callable[..., LocalStore]) -> None:
    store = opened(tmp_path)
    publish(store, {KEY_B: FileEntry({ID_1: 0.5}, test_count=1)})
    assert store.query([KEY_A, KEY_B]) == [FileEntry(), FileEntry({ID_1: 0.5}, test_count=1)]


def test_publishes_merge_test_ids_and_keep_the_latest_count(
    tmp_path: Path, opened: Callable[..., LocalStore]
) -> None:
    store = opened(tmp_path)
    publish(store, {KEY_A: FileEntry({ID_1: 1.0}, test_count=2)})
    publish(store, {KEY_A: FileEntry({ID_2: 2.0}, test_count=None)})
    publish(store, {KEY_A: FileEntry({ID_1: 3.0}, test_count=3)})
    assert store.query([KEY_A]) == [FileEntry({ID_1: 3.0, ID_2: 2.0}, test_count=3)]


def test_results_survive_reopening(tmp_path: Path, opened: Callable[..., LocalStore]) -> None:
    store = opened(tmp_path)
    publish(store, {KEY_A: FileEntry({ID_1: 1.0})})
    store.close()
    assert opened(tmp_path).query([KEY_A]) == [FileEntry({ID_1: 1.0})]


def test_manifests_round_trip_and_are_replaced(tmp_path: Path, opened: Callable[..., LocalStore]) -> None:
    store = opened(tmp_path)
    store.save_last_passes({"tests/test_a.py": LastPass("h1", {"src/a.py": "d1"})})
    store.save_last_passes({"tests/test_a.py": LastPass("h2", {"src/a.py": "d2", "src/b.py": "d3"})})
    assert store.last_passes(["tests/test_a.py", "tests/other.py"]) == {
        "tests/test_a.py": LastPass("h2", {"src/a.py": "d2", "src/b.py": "d3"})
    }


def test_a_corrupt_database_is_moved_aside_and_a_fresh_one_made(
    tmp_path: Path, opened: Callable[..., LocalStore]
) -> None:
    garbage = b"this is not a database" * 100
    (tmp_path / DB_FILENAME).write_bytes(garbage)
    store = opened(tmp_path)
    assert store.recovered is not None and "moved it to results.sqlite.corrupt-" in store.recovered
    (aside,) = tmp_path.glob(f"{DB_FILENAME}.corrupt-*")
    assert aside.read_bytes() == garbage
    store.publish({KEY_A: FileEntry({ID_1: 1.0}, 1)}, Provenance(), PublishStats())
    assert store.query([KEY_A]) == [FileEntry({ID_1: 1.0}, 1)]


def test_a_database_from_a_newer_dryci_is_unavailable_and_left_alone(
    tmp_path: Path, opened: Callable[..., LocalStore]
) -> None:
    opened(tmp_path).close()
    db = sqlite3.connect(str(tmp_path / DB_FILENAME))
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StoreUnavailable, match="schema version 99 is from a newer DryCI"):
        opened(tmp_path)
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_a_version_1_database_is_migrated_keeping_its_results(
    tmp_path: Path, opened: Callable[..., LocalStore]
) -> None:
    db = sqlite3.connect(str(tmp_path / DB_FILENAME), isolation_level=None)
    db.execute("CREATE TABLE passed (key TEXT, test_id TEXT, seconds REAL, PRIMARY KEY (key, test_id))")
    db.execute("CREATE TABLE counts (key TEXT PRIMARY KEY, test_count INTEGER, updated REAL NOT NULL)")
    db.execute("CREATE TABLE manifests (path TEXT PRIMARY KEY, dependency_hash TEXT, files TEXT)")
    db.execute("INSERT INTO passed VALUES (?, ?, 2.0)", (KEY_A, ID_1))
    db.execute("INSERT INTO counts VALUES (?, 1, 0)", (KEY_A,))
    db.execute("PRAGMA user_version=1")
    db.close()
    assert opened(tmp_path).query([KEY_A]) == [FileEntry({ID_1: 2.0}, 1)]


def test_the_count_skipped_ids_and_tag_are_replaced_together(
    tmp_path: Path, opened: Callable[..., LocalStore]
) -> None:
    store = opened(tmp_path)
    store.publish(
        {KEY_A: FileEntry({ID_1: 1.0}, 2, frozenset({ID_2}), "c" * 32)}, Provenance(), PublishStats()
    )
    assert store.query([KEY_A]) == [FileEntry({ID_1: 1.0}, 2, frozenset({ID_2}), "c" * 32)]
    store.publish({KEY_A: FileEntry({ID_2: 1.0})}, Provenance(), PublishStats())  # no count: claim kept
    assert store.query([KEY_A])[0].tag == "c" * 32
    store.publish({KEY_A: FileEntry({}, 2)}, Provenance(), PublishStats())
    assert store.query([KEY_A]) == [FileEntry({ID_1: 1.0, ID_2: 1.0}, 2)]


def test_a_database_locked_by_another_writer_is_unavailable(
    tmp_path: Path, opened: Callable[..., LocalStore]
) -> None:
    opened(tmp_path)
    holder = sqlite3.connect(str(tmp_path / DB_FILENAME), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = opened(tmp_path, busy_timeout=0.1)
        with pytest.raises(StoreUnavailable, match="locked"):
            publish(store, {KEY_A: FileEntry({ID_1: 1.0})})
    finally:
        holder.execute("ROLLBACK")


def test_a_directory_that_cannot_be_created_is_unavailable(
    tmp_path: Path, opened: Callable[..., LocalStore]
) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreUnavailable, match="cannot open"):
        opened(tmp_path / "file" / "dryci")


def test_two_processes_can_publish_at_the_same_time(
    tmp_path: Path, opened: Callable[..., LocalStore]
) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from dryci.protocol import FileEntry, Provenance, PublishStats, hash_node_id, key_for
        from dryci.store.local import LocalStore
        worker = sys.argv[2]
        store = LocalStore(Path(sys.argv[1]))
        for round in range(40):
            h = "%s%02d" % (worker, round)
            store.publish({key_for(h): FileEntry({hash_node_id(h, "t"): 0.1}, test_count=1)},
                          Provenance(), PublishStats())
            store.query([key_for(h)])
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), name]) for name in ("x", "y")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    store = opened(tmp_path)
    keys = [key_for(f"{name}{r:02d}") for name in ("x", "y") for r in range(40)]
    assert all(entry.test_count == 1 and len(entry.tests) == 1 for entry in store.query(keys))
