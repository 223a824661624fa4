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
from dryci.store.local import DB_FILENAME, LocalStore, Manifest

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
    store.save_manifests({"tests/test_a.py": Manifest("h1", {"src/a.py": "d1"})})
    store.save_manifests({"tests/test_a.py": Manifest("h2", {"src/a.py": "d2", "src/b.py": "d3"})})
    assert store.manifests(["tests/test_a.py", "tests/other.py"]) == {
        "tests/test_a.py": Manifest("h2", {"src/a.py": "d2", "src/b.py": "d3"})
    }


def test_a_corrupt_database_is_unavailable_not_a_crash(
    tmp_path: Path, opened: Callable[..., LocalStore]
) -> None:
    (tmp_path / DB_FILENAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreUnavailable, match="unusable"):
        opened(tmp_path)


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
