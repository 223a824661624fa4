"""Load benchmark of `dryci server` on loopback: throughput, latency, durability.

    python bench/server_load.py --backend sqlite            # 64 clients, 10 s, 90 % queries / 10 % publishes
    python bench/server_load.py --backend postgres --workers 2
    python bench/server_load.py --backend sqlite --rate 1000  # paced: 1,000 requests/s in total
    python bench/server_load.py --backend sqlite --crash      # SIGKILL mid publish storm, restart, verify
    python bench/server_load.py --backend sqlite --side-by-side  # queries only, then the 90/10 mix
    python bench/server_load.py --backend sqlite --publish-ratio 0 --grow 500  # queries on a grown database

Each query asks for 100 keys (80 % of them cached), each publish stores 1,000 ids (10 keys x 100).
Clients are spread over several load-generator processes (asyncio + httpx, one connection each).
Afterwards every acknowledged publish is read back and checked; the script exits 1 if any is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.live_server import LiveServer, start_server  # noqa: E402

PG_URL = os.environ.get("DRYCI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
POOL_KEYS = 2000
KEYS_PER_QUERY = 100
HIT_SHARE = 0.8
KEYS_PER_PUBLISH, IDS_PER_KEY = 10, 100


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def tid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def publish_body(tag: str) -> dict[str, Any]:
    return {
        "passed_node_ids_per_test_file": {
            key(f"{tag}-{k}"): [tid(f"{tag}-{k}-{i}") for i in range(IDS_PER_KEY)]
            for k in range(KEYS_PER_PUBLISH)
        }
    }


class RawClient:
    """A minimal keep-alive HTTP/1.1 client: the load generator must cost far less CPU than the server."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(headers[9:12])
        length = 0
        for line in headers.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def client_loop(
    no: int, url: str, token: str, until: float, publish_ratio: float, interval: float, out: dict[str, Any]
) -> None:
    rng = random.Random(no)
    client = RawClient(url, token)
    n = 0
    next_at = time.perf_counter() + rng.random() * interval
    try:
        while time.perf_counter() < until:
            if interval:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval
            if rng.random() < publish_ratio:
                tag = f"{out['proc']}-{no}-{n}"
                body = json.dumps(publish_body(tag)).encode()
                start = time.perf_counter()
                status, _ = await client.post("/api/v1/publish", body)
                elapsed = time.perf_counter() - start
                out["window"] = [min(out["window"][0], start), max(out["window"][1], start + elapsed)]
                if status == 200:
                    out["publish"].append(elapsed)
                    out["acknowledged"].append(tag)
                else:
                    out["errors"].append(status)
            else:
                keys = [
                    key(f"pool-{rng.randrange(POOL_KEYS)}")
                    if rng.random() < HIT_SHARE
                    else key(f"miss-{rng.random()}")
                    for _ in range(KEYS_PER_QUERY)
                ]
                body = json.dumps({"test_file_hashes": keys}).encode()
                start = time.perf_counter()
                status, _ = await client.post("/api/v1/query-passed", body)
                elapsed = time.perf_counter() - start
                out["window"] = [min(out["window"][0], start), max(out["window"][1], start + elapsed)]
                if status == 200:
                    out["query"].append(elapsed)
                else:
                    out["errors"].append(status)
            n += 1
    finally:
        await client.close()


def generator(
    proc: int,
    clients: range,
    url: str,
    token: str,
    until: float,
    publish_ratio: float,
    interval: float,
    results: Any,
) -> None:
    out: dict[str, Any] = {
        "proc": proc,
        "query": [],
        "publish": [],
        "acknowledged": [],
        "errors": [],
        "window": [1e300, 0.0],
    }

    async def main() -> None:
        await asyncio.gather(
            *(client_loop(c, url, token, until, publish_ratio, interval, out) for c in clients),
            return_exceptions=False,
        )

    try:
        asyncio.run(main())
    except (asyncio.IncompleteReadError, OSError) as exc:  # the server died (crash mode)
        out["errors"].append(type(exc).__name__)
    results.put(out)


def run_load(
    url: str, token: str, clients: int, seconds: float, publish_ratio: float, rate: float, processes: int
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    until = time.perf_counter() + seconds + 2.0  # spawn start-up (perf_counter is system-wide on Linux)
    interval = clients / rate if rate else 0.0
    procs = [
        ctx.Process(
            target=generator,
            args=(p, range(p, clients, processes), url, token, until, publish_ratio, interval, results),
        )
        for p in range(processes)
    ]
    for proc in procs:
        proc.start()
    parts = [results.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    merged: dict[str, Any] = {"query": [], "publish": [], "acknowledged": [], "errors": []}
    for part in parts:
        for name in merged:
            merged[name] += part[name]
    # The measured window: first request sent to last answer received, over all generators.
    merged["seconds"] = max(p["window"][1] for p in parts) - min(p["window"][0] for p in parts)
    return merged


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its direct children (uvicorn workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def verify(url: str, token: str, acknowledged: list[str]) -> int:
    """How many acknowledged publishes are not fully present."""
    missing = 0
    headers = {"Authorization": f"Bearer {token}"}
    tags = list(acknowledged)
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        for start in range(0, len(tags), 400):
            batch = tags[start : start + 400]
            keys = [key(f"{tag}-{k}") for tag in batch for k in range(KEYS_PER_PUBLISH)]
            entries = client.post("/api/v2/query", json={"keys": keys}).json()["entries"]
            for i, tag in enumerate(batch):
                for k in range(KEYS_PER_PUBLISH):
                    stored = entries[i * KEYS_PER_PUBLISH + k]["tests"]
                    if any(tid(f"{tag}-{k}-{n}") not in stored for n in range(IDS_PER_KEY)):
                        missing += 1
                        break
    return missing


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def database(backend: str, directory: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{directory / 'bench.db'}", None
    import psycopg

    schema = f"dryci_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", drop


def seed(server: LiveServer, token: str) -> None:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        for start in range(0, POOL_KEYS, 200):
            body = {
                "passed_node_ids_per_test_file": {
                    key(f"pool-{n}"): [tid(f"pool-{n}-{i}") for i in range(10)]
                    for n in range(start, start + 200)
                }
            }
            client.post("/api/v1/publish", json=body).raise_for_status()


def grow(server: LiveServer, token: str, publishes: int) -> None:
    """``publishes`` more 1,000-id publishes before the load: the database a mixed run leaves behind."""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        for n in range(publishes):
            client.post("/api/v1/publish", json=publish_body(f"grown-{n}")).raise_for_status()


def measure(args: argparse.Namespace, workers: int, publish_ratio: float) -> int:
    """One run on a fresh server and database: prints its table row; 1 if a publish went missing."""
    directory = Path(tempfile.mkdtemp(prefix="dryci-bench-"))
    url, cleanup = database(args.backend, directory)
    server_args = ["--rate-limit", "0", "--workers", str(workers)]
    server = start_server(url, server_args, log_dir=directory)
    try:
        p = server.project("bench")
        seed(server, p.write)
        grow(server, p.write, args.grow)
        if args.crash:
            return crash(server, url, server_args, directory, p.write, args)
        cpu_before = cpu_seconds(server.process.pid)
        result = run_load(
            server.url, p.write, args.clients, args.seconds, publish_ratio, args.rate, args.processes
        )
        cpu = cpu_seconds(server.process.pid) - cpu_before
        missing = verify(server.url, p.write, result["acknowledged"])
        q, pub, window = result["query"], result["publish"], result["seconds"]
        mode = f"paced {args.rate:g}/s" if args.rate else "closed loop"
        mode += f", {publish_ratio:.0%} publishes" if publish_ratio else ", queries only"
        if args.grow:
            mode += f", {args.grow:,} publishes before"
        load = os.getloadavg()[0]
        print(
            f"| {args.backend} | {workers} | {args.clients} | {mode} | {len(q) / window:,.0f} | "
            f"{pct(q, 0.5):.1f} / {pct(q, 0.99):.1f} | {len(pub) / window:,.0f} | "
            f"{pct(pub, 0.5):.1f} / {pct(pub, 0.99):.1f} | {len(result['errors'])} | "
            f"{len(result['acknowledged']) - missing}/{len(result['acknowledged'])} | "
            f"{cpu / window:.2f} | {(len(q) + len(pub)) / cpu:,.0f} | {load:.1f} |",
            flush=True,
        )
        if q:
            size = sum(f.stat().st_size for f in directory.glob("bench.db*")) / 1e6
            where = f" database {size:.1f} MB afterwards" if args.backend == "sqlite" else ""
            print(f"  queries: n={len(q)} mean={statistics.mean(q) * 1000:.1f} ms{where}", file=sys.stderr)
        return 1 if missing else 0
    finally:
        server.stop()
        if cleanup:
            cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--workers", type=int, default=None, help="server processes (default 1 SQLite, 2 PostgreSQL)"
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--publish-ratio", type=float, default=0.1)
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="run queries only first, then the --publish-ratio mix, each on a fresh server",
    )
    parser.add_argument(
        "--grow", type=int, default=0, help="1,000-id publishes stored before the load (default 0)"
    )
    parser.add_argument(
        "--rate", type=float, default=0.0, help="paced total requests/s (default: as fast as possible)"
    )
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument(
        "--crash", action="store_true", help="SIGKILL during a publish storm, restart, verify"
    )
    args = parser.parse_args()
    workers = args.workers or (2 if args.backend == "postgres" else 1)
    ratios = [0.0, args.publish_ratio] if args.side_by_side else [args.publish_ratio]
    return max(measure(args, workers, ratio) for ratio in ratios)


def crash(
    server: LiveServer,
    url: str,
    server_args: list[str],
    directory: Path,
    token: str,
    args: argparse.Namespace,
) -> int:
    import threading

    holder: dict[str, Any] = {}

    def storm() -> None:
        holder["result"] = run_load(server.url, token, 16, 60.0, 1.0, 0.0, 2)

    thread = threading.Thread(target=storm)
    thread.start()
    time.sleep(2.0 + 3.0)  # generator start-up, then three seconds of publishing
    server.kill()
    thread.join()
    acknowledged = holder["result"]["acknowledged"]
    restarted = start_server(url, server_args, log_dir=directory)
    try:
        missing = verify(restarted.url, token, acknowledged)
    finally:
        restarted.stop()
    print(
        f"| {args.backend} | SIGKILL after ~3 s of 16 publishing clients | "
        f"{len(acknowledged)} acknowledged | "
        f"{len(acknowledged) - missing} present after restart | {missing} lost |"
    )
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
