"""Concurrent publishes to the same hash lose no id; a SIGKILL loses nothing acknowledged."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.live_server import LiveServer, start_server
from tests.server.helpers import key, tid


def test_concurrent_publishes_to_the_same_hash_lose_no_id(server: LiveServer) -> None:
    p = server.project()
    shared = key("shared")

    def publish(client_no: int) -> int:
        with httpx.Client(headers=p.auth(), timeout=60) as client:
            for batch in range(5):
                ids = [tid(f"{client_no}-{batch}-{n}") for n in range(40)]
                body = {"passed_node_ids_per_test_file": {shared: ids, key(client_no): ids[:3]}}
                assert client.post(server.url + "/api/v1/publish", json=body).status_code == 200
        return client_no

    with ThreadPoolExecutor(16) as pool:
        assert sorted(pool.map(publish, range(16))) == list(range(16))
    expected = sorted(tid(f"{c}-{b}-{n}") for c in range(16) for b in range(5) for n in range(40))
    answer = httpx.post(
        server.url + "/api/v1/query-passed",
        headers=p.auth("read"),
        json={"test_file_hashes": [shared]},
        timeout=30,
    )
    assert answer.json()["node_ids"][0] == expected


def test_a_sigkill_during_a_publish_storm_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'crash.db'}"
    server = start_server(db, ["--rate-limit", "0"], log_dir=tmp_path)
    p = server.project()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def storm(client_no: int) -> None:
        with httpx.Client(headers=p.auth(), timeout=10) as client:
            n = 0
            while not stop.is_set():
                k = key(f"{client_no}-{n}")
                try:
                    answer = client.post(
                        server.url + "/api/v1/publish", json={"passed_node_ids_per_test_file": {k: [tid(n)]}}
                    )
                except httpx.TransportError:
                    return
                if answer.status_code == 200:
                    with lock:
                        acknowledged.append(k)
                n += 1

    threads = [threading.Thread(target=storm, args=(c,)) for c in range(8)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < 200:
        threading.Event().wait(0.02)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join()
    restarted = start_server(db, ["--rate-limit", "0"], log_dir=tmp_path)
    try:
        answer = httpx.post(
            restarted.url + "/api/v2/query",
            headers=p.auth("read"),
            json={"keys": acknowledged[:4096]},
            timeout=60,
        )
        missing = [k for k, entry in zip(acknowledged, answer.json()["entries"]) if not entry["tests"]]
        assert missing == []
    finally:
        restarted.stop()
