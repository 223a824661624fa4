"""What every part of the server shares: the backend, the settings, metrics, limiters, the recorder.

One object per app, made by ``create_app`` and kept on ``app.state.dryci``; routers take it from
there (``handling.state_of``). It lives apart from ``app.py`` so that routers never import the app.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dryci.protocol import PublishRequest
from dryci.server.backends.base import Backend, Principal
from dryci.server.config import Settings
from dryci.server.metrics import Metrics
from dryci.server.ratelimit import RateLimiter
from dryci.server.recorder import UsageRecorder


@runtime_checkable
class PublishQueue(Protocol):
    """A backend whose publishes go through a writer thread (SQLite): the app awaits the future."""

    def submit_publish(
        self, principal: Principal, request: PublishRequest, api: str, now: float
    ) -> Future[int]: ...


@dataclass
class ServerState:
    backend: Backend
    settings: Settings
    metrics: Metrics
    limiter: RateLimiter  # per token
    failures: RateLimiter  # failed authentications per client address
    recorder: UsageRecorder
    # Large bodies are decoded (and handled) in worker threads, at most this many at once.
    decode_slots: threading.BoundedSemaphore
    queue: PublishQueue | None  # the backend itself when it queues publishes, else None

    @classmethod
    def over(cls, backend: Backend, settings: Settings) -> ServerState:
        return cls(
            backend,
            settings,
            Metrics(),
            RateLimiter(settings.rate_limit, settings.rate_burst),
            RateLimiter(settings.auth_rate_limit, settings.auth_rate_burst),
            UsageRecorder(backend, settings.flush_seconds),
            threading.BoundedSemaphore(settings.decode_slots),
            backend if isinstance(backend, PublishQueue) else None,
        )
