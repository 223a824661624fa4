"""Prometheus metrics (``prometheus_client``): requests, latency, cache hits, publishes, time saved.

With ``--workers N > 1`` the CLI points ``PROMETHEUS_MULTIPROC_DIR`` at an empty directory before
any worker starts; every worker then writes its counters there and ``/metrics``, whichever worker
answers it, sums them all, so N workers report one set of numbers. (prometheus_client picks its
value store from that variable when it is first imported: it must be set before.)

The per-project series are labelled with the token's project and namespace; each process labels
at most ``MAX_PROJECT_LABELS`` such pairs and counts any further ones under ``_other``, so a server
with many tenants (or N workers that each met different ones) stays a bounded set of series.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from dryci.server.backends.base import Principal
from dryci.server.recorder import MAX_SECONDS_PER_PUBLISH, MAX_TESTS_PER_PUBLISH

__all__ = ["BUCKETS", "MAX_PROJECT_LABELS", "OTHER", "Metrics", "MetricsMiddleware", "multiprocess_dir"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MAX_PROJECT_LABELS = 100
OTHER = ("_other", "_other")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, as prometheus_client itself reads it; None without."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112


class _ProjectLabels:
    """(project, namespace) label values, at most ``limit`` distinct pairs; the rest are ``OTHER``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def of(self, principal: Principal) -> tuple[str, str]:
        pair = (principal.project, principal.namespace)
        if pair in self._seen:
            return pair
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(pair)
                return pair
        return OTHER


class _Scrape(Collector):
    """One scrape: the metrics of ``sources`` followed by ``extra`` families read just now."""

    def __init__(self, sources: Iterable[Any], extra: Iterable[Metric]) -> None:
        self.sources = sources
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()
        yield from self.extra


class Metrics:
    content_type = CONTENT_TYPE

    def __init__(self, project_labels: int = MAX_PROJECT_LABELS) -> None:
        # ``_created`` series would double every counter, and multiprocess mode has none anyway.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.directory = multiprocess_dir()
        self.registry = CollectorRegistry()  # this process's metrics (in multiprocess mode: unread)
        per_project = ["project", "namespace"]
        r = self.registry
        self.requests = Counter(
            "dryci_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "dryci_request_duration_seconds",
            "Request latency by route.",
            ["route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.hits = Counter(
            "dryci_cache_hits", "Queried keys that had cached results.", per_project, registry=r
        )
        self.misses = Counter(
            "dryci_cache_misses", "Queried keys without cached results.", per_project, registry=r
        )
        self.published = Counter(
            "dryci_tests_published", "Test results stored by publishes.", per_project, registry=r
        )
        self.saved = Counter(
            "dryci_time_saved_seconds",
            "Test time the cache saved, as the runs (and 0.1.x publishes) report it.",
            per_project,
            registry=r,
        )
        self._projects = _ProjectLabels(project_labels)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def count_query(self, principal: Principal, hits: int, misses: int) -> None:
        labels = self._projects.of(principal)
        self.hits.labels(*labels).inc(hits)
        self.misses.labels(*labels).inc(misses)

    def count_publish(self, principal: Principal, tests: int) -> None:
        self.published.labels(*self._projects.of(principal)).inc(min(tests, MAX_TESTS_PER_PUBLISH))

    def count_saved(self, principal: Principal, seconds: float) -> None:
        """Seconds a run (or a 0.1.x publish) says the cache saved, bounded as the usage counters are."""
        if seconds > 0:
            self.saved.labels(*self._projects.of(principal)).inc(min(seconds, MAX_SECONDS_PER_PUBLISH))

    def render(self, db_size: int | None) -> bytes:
        """The text exposition: every worker's metrics in multiprocess mode, and the database size."""
        source: Any = self.registry
        if self.directory is not None:
            source = MultiProcessCollector(None, self.directory)  # type: ignore[no-untyped-call]
        extra = []
        if db_size is not None:
            extra.append(GaugeMetricFamily("dryci_db_size_bytes", "Size of the database.", value=db_size))
        return generate_latest(_Scrape([source], extra))


class MetricsMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): times every HTTP request.

    Paths outside ``routes`` are counted as ``other``: a client cannot add series by inventing paths.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

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
            route = path if path in self.routes else "other"
            self.metrics.observe(scope.get("method", "GET"), route, status, time.perf_counter() - start)
