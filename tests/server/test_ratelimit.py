"""Per-token rate limit: 429 with Retry-After, per token, refilled over time."""

from __future__ import annotations

from pathlib import Path

import httpx

from dryci.server.ratelimit import RateLimiter
from tests.live_server import live_server


def test_the_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.retry_after("t", 100.0) for _ in range(3)] == [None, None, None]
    assert limiter.retry_after("t", 100.0) == 1
    assert limiter.retry_after("other", 100.0) is None
    assert limiter.retry_after("t", 100.5) is None  # half a second at 2/s refills one request


def test_a_zero_rate_disables_the_limit() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.retry_after("t", 0.0) is None for _ in range(1000))


def test_a_token_over_its_rate_gets_429_with_retry_after(tmp_path: Path) -> None:
    with live_server(
        f"sqlite:///{tmp_path / 'rl.db'}", ["--rate-limit", "0.5", "--rate-burst", "3"], log_dir=tmp_path
    ) as server:
        p = server.project()
        body = {"test_file_hashes": []}
        codes = [
            httpx.post(server.url + "/api/v1/query-passed", json=body, headers=p.auth("read")).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        limited = httpx.post(server.url + "/api/v1/query-passed", json=body, headers=p.auth("read"))
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        assert "rate limit" in limited.json()["detail"]
        # Another token of the same project has its own bucket.
        assert (
            httpx.post(server.url + "/api/v1/query-passed", json=body, headers=p.auth("write")).status_code
            == 200
        )
