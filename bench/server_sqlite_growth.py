"""Why publishes slow SQLite queries: the CPU one 100-key v1 query costs, in process, no HTTP.

    python bench/server_sqlite_growth.py                      # 2,000 small entries, nothing else
    python bench/server_sqlite_growth.py --writes tiny        # while 1-page commits run (cache churn)
    python bench/server_sqlite_growth.py --writes publish     # while 1,000-id publishes run
    python bench/server_sqlite_growth.py --grow 800           # after 800 1,000-id publishes, no writes
    python bench/server_sqlite_growth.py --grow 800 --layout old   # the same on 4 KiB pages, no mmap

The query thread's own CPU time (``time.thread_time``) per call is reported, so other load on the
machine moves the figures less than wall time would. ``--layout old`` opens the database as the
server did before 16 KiB pages and mmap reads (``backends/sqlite.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from dryci.protocol import decode_v1_publish_request  # noqa: E402
from dryci.server.backends import sqlite as sqlite_backend  # noqa: E402
from dryci.server.backends.base import Principal  # noqa: E402


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def tid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def body(tag: str, keys: int, ids: int) -> dict[str, object]:
    return {
        "passed_node_ids_per_test_file": {
            key(f"{tag}-{k}"): [tid(f"{tag}-{k}-{i}") for i in range(ids)] for k in range(keys)
        }
    }


def pool_or_miss(rng: random.Random) -> str:
    return key(f"pool-{rng.randrange(2000)}") if rng.random() < 0.8 else key(f"miss-{rng.random()}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grow", type=int, default=0, help="1,000-id publishes stored first")
    parser.add_argument("--writes", choices=["none", "tiny", "publish"], default="none")
    parser.add_argument("--rate", type=float, default=40.0, help="writes per second while querying")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--layout", choices=["new", "old"], default="new")
    args = parser.parse_args()
    if args.layout == "old":  # before: 4 KiB pages, every page copied into each connection's cache
        sqlite_backend.PAGE_SIZE, sqlite_backend.MMAP_BYTES = 4096, 0
    path = Path(tempfile.mkdtemp(prefix="dryci-growth-")) / "growth.db"
    backend = sqlite_backend.SqliteBackend(str(path))
    now = time.time()
    project = backend.create_project("p", None, now).id
    backend.create_user("p", "ci", now)
    backend.create_token("p", "ci", "tok", "-", "write", "", None, now)
    who = Principal("tok", project, "p", "ci", "write", "")
    for start in range(0, 2000, 200):  # the pool the queries read: 2,000 keys of 10 ids
        pool = {
            key(f"pool-{n}"): [tid(f"pool-{n}-{i}") for i in range(10)] for n in range(start, start + 200)
        }
        backend.publish(who, decode_v1_publish_request({"passed_node_ids_per_test_file": pool}), "v1", now)
    for n in range(args.grow):
        backend.submit_publish(who, decode_v1_publish_request(body(f"grow{n}", 10, 100)), "v1", now)
    backend.publish(who, decode_v1_publish_request(body("last", 0, 0)), "v1", now)  # all committed
    stop, writes = threading.Event(), [0]

    def write() -> None:
        while not stop.is_set():
            if args.writes == "tiny":
                backend._write(lambda c: c.execute("UPDATE projects SET created_at = created_at"))
            else:
                request = decode_v1_publish_request(body(f"w{writes[0]}", 10, 100))
                backend.publish(who, request, "v1", time.time())
            writes[0] += 1
            time.sleep(1.0 / args.rate)

    writer = threading.Thread(target=write)
    if args.writes != "none":
        writer.start()
    rng = random.Random(1)
    queries = [
        [
            key(f"pool-{rng.randrange(2000)}") if rng.random() < 0.8 else key(f"miss-{rng.random()}")
            for _ in range(100)
        ]
        for _ in range(500)
    ]
    cpu: list[float] = []
    end = time.perf_counter() + args.seconds
    while time.perf_counter() < end:
        started = time.thread_time()
        backend.query_v1(project, ("",), queries[len(cpu) % 500], now)
        cpu.append(time.thread_time() - started)
        time.sleep(0.002)  # room for the writer
    stop.set()
    if args.writes != "none":
        writer.join()
    size = sum(p.stat().st_size for p in path.parent.glob("growth.db*")) / 1e6
    with sqlite3.connect(path) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    backend.close()
    cpu.sort()
    layout = f"{args.layout} ({page // 1024} KiB pages)"
    print(
        f"| {layout} | {args.grow} | {args.writes} | {writes[0]} | {size:.1f} MB | "
        f"{len(cpu)} | {cpu[len(cpu) // 2] * 1e6:,.0f} | {sum(cpu) / len(cpu) * 1e6:,.0f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
