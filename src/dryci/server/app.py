"""The ASGI app: the routers (``routes/``), error handlers, metrics middleware and background threads.

What the handlers share (body limits, auth, decode slots, recording) is in ``handling.py``; what the
whole server shares (backend, settings, limiters, metrics) is the ``ServerState`` on ``app.state``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.routing import Route

from dryci import __version__
from dryci.exceptions import DryciError, ProtocolError, StoreError, StoreUnavailable
from dryci.server.backends.base import Backend
from dryci.server.config import Settings
from dryci.server.dashboard import dashboard_router
from dryci.server.errors import ApiError
from dryci.server.handling import json_response
from dryci.server.metrics import MetricsMiddleware
from dryci.server.routes import ROUTERS
from dryci.server.state import ServerState

log = logging.getLogger("dryci.server")


def _retention_loop(state: ServerState, stop: threading.Event) -> None:
    while True:
        try:
            removed = state.backend.apply_retention(
                time.time(), state.settings.retention_days, state.settings.max_entries
            )
            if removed:
                log.info("dryci: retention removed %d entries", removed)
            state.backend.sweep_sessions(time.time())  # logins sweep too; this covers quiet servers
        except DryciError as exc:
            log.warning("dryci: retention failed: %s", exc)
        if stop.wait(state.settings.retention_interval_seconds):
            return


def create_app(backend: Backend, settings: Settings) -> FastAPI:
    """The ASGI app over an open backend; the app closes the backend when it shuts down."""
    state = ServerState.over(backend, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        state.recorder.start()
        retention = threading.Thread(
            target=_retention_loop, args=(state, stop), name="dryci-retention", daemon=True
        )
        retention.start()
        try:
            yield
        finally:
            stop.set()
            retention.join(timeout=10)
            state.recorder.stop()
            backend.close()

    app = FastAPI(
        title="DryCI cache server",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Shared test-result cache for pytest-dryci. See GET /api.",
    )
    app.state.dryci = state
    _install_error_handlers(app)
    routers = (*ROUTERS, dashboard_router(state))
    for router in routers:
        app.include_router(router)
    paths = {route.path for router in routers for route in router.routes if isinstance(route, Route)}
    paths.add(app.openapi_url or "/openapi.json")
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, routes=frozenset(paths))
    return app


def _install_error_handlers(app: FastAPI) -> None:
    def error(
        status: int, detail: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        return json_response({"detail": detail, "field": field}, status, headers)

    async def api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error(exc.status, exc.message, exc.field, exc.headers)

    async def protocol_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProtocolError)
        return error(422, exc.message, exc.field)

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return error(422, str(first.get("msg", "invalid request")), where or None)

    async def unavailable(_: Request, exc: Exception) -> Response:
        return error(503, f"database unavailable: {exc}", headers={"Retry-After": "5"})

    async def unexpected(_: Request, exc: Exception) -> Response:
        # The message is logged without the request: headers (and tokens) never reach the log.
        log.error("dryci: internal error: %s: %s", type(exc).__name__, exc)
        return JSONResponse({"detail": "internal error", "field": None}, status_code=500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(ProtocolError, protocol_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StoreUnavailable, unavailable)
    app.add_exception_handler(StoreError, unavailable)
    app.add_exception_handler(Exception, unexpected)


def create_app_from_env() -> FastAPI:
    """uvicorn factory for worker processes (``--workers N``): settings come from the environment."""
    from dryci.server.backends import open_backend
    from dryci.server.transport import GuardedHttpToolsProtocol

    settings = Settings.from_env()
    GuardedHttpToolsProtocol.header_timeout = settings.header_timeout
    return create_app(open_backend(settings.db), settings)
