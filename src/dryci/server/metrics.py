"""Prometheus text exposition of this process's counters (no client library needed for a few series)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ROUTES = frozenset(
    {
        "/",
        "/login",
        "/logout",
        "/api",
        "/api/v1/query-passed",
        "/api/v1/publish",
        "/api/v2/query",
        "/api/v2/publish",
        "/api/v2/usage",
        "/api/v2/whoami",
        "/healthz",
        "/metrics",
        "/openapi.json",
    }
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency_buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)
        self.hits = 0
        self.misses = 0
        self.tests_published = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            buckets = self.latency_buckets[route]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self.latency_sum[route] += seconds
            self.latency_count[route] += 1

    def count_query(self, hits: int, misses: int) -> None:
        with self._lock:
            self.hits += hits
            self.misses += misses

    def count_publish(self, tests: int) -> None:
        with self._lock:
            self.tests_published += tests

    def render(self, db_size: int | None) -> str:
        out: list[str] = []
        with self._lock:
            out += [
                "# HELP dryci_requests_total HTTP requests by method, route and status.",
                "# TYPE dryci_requests_total counter",
            ]
            for (method, route, status), n in sorted(self.requests.items()):
                out.append(f'dryci_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
            out += [
                "# HELP dryci_request_duration_seconds Request latency by route.",
                "# TYPE dryci_request_duration_seconds histogram",
            ]
            for route in sorted(self.latency_count):
                for bound, n in zip(BUCKETS, self.latency_buckets[route]):
                    out.append(f'dryci_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} {n}')
                count = self.latency_count[route]
                out.append(f'dryci_request_duration_seconds_bucket{{route="{route}",le="+Inf"}} {count}')
                out.append(
                    f'dryci_request_duration_seconds_sum{{route="{route}"}} {self.latency_sum[route]:.6f}'
                )
                out.append(f'dryci_request_duration_seconds_count{{route="{route}"}} {count}')
            for name, help_text, value in (
                ("dryci_cache_hits_total", "Queried keys that had cached results.", self.hits),
                ("dryci_cache_misses_total", "Queried keys without cached results.", self.misses),
                ("dryci_tests_published_total", "Test results stored by publishes.", self.tests_published),
            ):
                out += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {value}"]
        if db_size is not None:
            out += [
                "# HELP dryci_db_size_bytes Size of the database.",
                "# TYPE dryci_db_size_bytes gauge",
                f"dryci_db_size_bytes {db_size}",
            ]
        return "\n".join(out) + "\n"


class MetricsMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = scope.get("path", "")
            route = path if path in ROUTES else "other"
            self.metrics.observe(scope.get("method", "GET"), route, status, time.perf_counter() - start)
