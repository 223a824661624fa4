"""Cost of hostile request bodies: peak server memory and a normal client's latency meanwhile.

    python bench/server_bodies.py --backend sqlite
    python bench/server_bodies.py --backend postgres

A real `dryci server` on loopback. One normal client sends 100-key queries back to back; meanwhile
``--hostile`` clients (8) each send ``--rounds`` 8 MiB bodies of ``[{},{},...]`` (valid JSON, 2.8
million empty objects: a read token suffices) to /api/v2/query at once, from processes of their own.
The server's peak RSS
(VmHWM of its process tree) and the normal client's latencies are printed as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.live_server import start_server  # noqa: E402

PG_URL = os.environ.get("DRYCI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MAX_BODY = 8 * 1024 * 1024
HOSTILE = b"[" + b"{}," * ((MAX_BODY - 10) // 3) + b"{}]"


def key(n: int) -> str:
    return hashlib.sha256(f"bench-{n}".encode()).hexdigest()


def rss_peak_kb(pid: int) -> int:
    """VmHWM of ``pid`` and its children (uvicorn workers), in kB."""
    total = 0
    for candidate in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def normal_client(url: str, token: str, stop: asyncio.Event, latencies: list[float]) -> None:
    body = {"keys": [key(n) for n in range(100)]}
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            answer = await client.post(url + "/api/v2/query", json=body)
            latencies.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
            await asyncio.sleep(0.005)


def hostile_client(url: str, token: str, rounds: int) -> list[int]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(headers=headers, timeout=120) as client:
        return [client.post(url + "/api/v2/query", content=HOSTILE).status_code for _ in range(rounds)]


def hostile_process(args: tuple[str, str, int]) -> list[int]:
    return hostile_client(*args)


async def measure(url: str, token: str, hostile: int, rounds: int) -> dict[str, object]:
    stop = asyncio.Event()
    latencies: list[float] = []
    codes: list[int] = []
    normal = asyncio.create_task(normal_client(url, token, stop, latencies))
    await asyncio.sleep(1.0)  # a baseline before the storm
    baseline = len(latencies)
    started = time.perf_counter()
    # The senders run in processes of their own: in this loop they would delay the normal client.
    loop = asyncio.get_running_loop()
    with multiprocessing.Pool(hostile) as pool:
        for result in await loop.run_in_executor(
            None, pool.map, hostile_process, [(url, token, rounds)] * hostile
        ):
            codes.extend(result)
    storm = time.perf_counter() - started
    stop.set()
    await normal
    during = sorted(latencies[baseline:]) or [0.0]
    return {
        "hostile_requests": len(codes),
        "hostile_statuses": sorted(set(codes)),
        "storm_seconds": round(storm, 2),
        "normal_requests_during": len(during),
        "normal_p50_ms": round(statistics.median(during) * 1000, 1),
        "normal_p99_ms": round(during[min(len(during) - 1, int(len(during) * 0.99))] * 1000, 1),
        "normal_max_ms": round(during[-1] * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--hostile", type=int, default=8, help="clients sending 8 MiB bodies at once")
    parser.add_argument("--rounds", type=int, default=1, help="bodies each hostile client sends")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="dryci-bodies-"))
    if args.backend == "sqlite":
        db = f"sqlite:///{directory / 'bench.db'}"
    else:
        import psycopg

        schema = f"dryci_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        db = f"{PG_URL}?options=-csearch_path%3D{schema}"
    server = start_server(db, ["--rate-limit", "0"], log_dir=directory)
    try:
        token = server.project("bench").read
        idle_kb = rss_peak_kb(server.process.pid)
        figures = asyncio.run(measure(server.url, token, args.hostile, args.rounds))
        figures = {
            "backend": args.backend,
            "idle_peak_rss_mb": round(idle_kb / 1024, 1),
            "peak_rss_mb": round(rss_peak_kb(server.process.pid) / 1024, 1),
            **figures,
        }
    finally:
        server.stop()
        if args.backend == "postgres":
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
