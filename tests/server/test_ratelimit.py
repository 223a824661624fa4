"""Per-token rate limit: 429 with Retry-After, per token, refilled over time."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

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


def test_buckets_of_many_addresses_stay_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=2, max_keys=100)
    for n in range(1000):
        limiter.retry_after(f"10.0.{n // 256}.{n % 256}", 0.0)
        assert len(limiter) <= 100
    limiter.retry_after("busy", 0.0)
    limiter.retry_after("busy", 0.0)
    assert limiter.retry_after("busy", 0.0) == 1  # a bucket in use still limits


BAD = {"Authorization": "Bearer dryci_000000000000_" + "0" * 48}
QUERY = {"keys": []}


def test_a_burst_of_bad_tokens_from_one_address_gets_429_while_a_good_token_works(tmp_path: Path) -> None:
    args = ["--auth-rate-limit", "0.2", "--auth-rate-burst", "5"]
    with live_server(f"sqlite:///{tmp_path / 'a.db'}", args, log_dir=tmp_path) as server:
        p = server.project()
        codes = [
            httpx.post(server.url + "/api/v2/query", json=QUERY, headers=BAD).status_code for _ in range(7)
        ]
        assert codes == [401] * 5 + [429] * 2
        limited = httpx.post(server.url + "/api/v2/query", json=QUERY, headers=BAD)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 5
        assert "too many failed authentications" in limited.json()["detail"]
        # Missing or malformed tokens and the other routes count the same, from the same address.
        assert httpx.post(server.url + "/api/v2/query", json=QUERY).status_code == 429
        assert (
            httpx.get(server.url + "/api/v2/whoami", headers={"Authorization": "Basic x"}).status_code == 429
        )
        login = httpx.post(server.url + "/login", data={"token": "dryci_nope_nope"})
        assert login.status_code == 429 and "retry-after" in login.headers
        # A valid token is still served: it has its own per-token limit.
        assert httpx.post(server.url + "/api/v2/query", json=QUERY, headers=p.auth("read")).status_code == 200
        assert httpx.post(server.url + "/login", data={"token": p.read}).status_code == 303


def test_failed_logins_alone_are_limited(tmp_path: Path) -> None:
    args = ["--auth-rate-limit", "0.2", "--auth-rate-burst", "3"]
    with live_server(f"sqlite:///{tmp_path / 'l.db'}", args, log_dir=tmp_path) as server:
        codes = [httpx.post(server.url + "/login", data={"token": "wrong"}).status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]


@pytest.mark.parametrize("trusted", [True, False])
def test_the_address_is_the_forwarded_one_only_behind_a_trusted_proxy(tmp_path: Path, trusted: bool) -> None:
    args = ["--auth-rate-limit", "0.2", "--auth-rate-burst", "2"]
    args += ["--trusted-proxy", "127.0.0.1"] if trusted else []
    with live_server(f"sqlite:///{tmp_path / 'p.db'}", args, log_dir=tmp_path) as server:

        def from_(address: str) -> int:
            headers = {**BAD, "X-Forwarded-For": address}
            return httpx.post(server.url + "/api/v2/query", json=QUERY, headers=headers).status_code

        assert [from_("203.0.113.1") for _ in range(3)] == [401, 401, 429]
        # Another client behind the proxy has its own budget; a client talking directly cannot
        # escape its limit by claiming another address.
        assert from_("203.0.113.2") == (401 if trusted else 429)
