"""Request rate limits: a token bucket per key (a token id, or a client address), kept in this process.

Two limiters use it: one per token for authenticated requests, and one per client address for
requests that fail to authenticate (logins with a wrong token, bad or missing bearer tokens).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from starlette.requests import Request

from dryci.server.errors import ApiError

MAX_KEYS = 100_000  # buckets kept at most: one per address must not grow without bound under attack


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests per second on average, bursts up to ``burst``; rate 0 disables the limit."""

    def __init__(self, rate: float, burst: int, max_keys: int = MAX_KEYS) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, now: float) -> int | None:
        """Take one request for ``key``; None if allowed, else whole seconds until one is."""
        if self.rate <= 0:
            return None
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))

    def _prune(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: drop those. If nearly all are still
        # in use, forget them all rather than grow (the limit restarts, the memory stays bounded).
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) > self.max_keys // 2:
            self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)


def client_address(request: Request) -> str:
    # The connection's peer, or the client a --trusted-proxy forwarded for (uvicorn sets it).
    return request.client.host if request.client else "unknown"


def refuse_if_over(limiter: RateLimiter, address: str, now: float) -> None:
    """Count one failed authentication from ``address``; 429 once it has failed too often."""
    retry = limiter.retry_after(address, now)
    if retry is not None:
        raise ApiError(
            429,
            f"too many failed authentications from this address (limit {limiter.rate:g}/s)",
            headers={"Retry-After": str(retry)},
        )
