"""What every part of the server shares: the backend, the settings, metrics, limiters, the recorder.

One object per app, made by ``create_app`` and kept on ``app.state.dryci``; routers take it from
there or as an argument. It lives apart from ``app.py`` so that routers never import the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from dryci.server.backends.base import Backend
from dryci.server.config import Settings
from dryci.server.metrics import Metrics
from dryci.server.ratelimit import RateLimiter
from dryci.server.recorder import UsageRecorder


@dataclass
class ServerState:
    backend: Backend
    settings: Settings
    metrics: Metrics
    limiter: RateLimiter  # per token
    failures: RateLimiter  # failed authentications per client address
    recorder: UsageRecorder
