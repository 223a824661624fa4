"""The HTTP API: v1 (0.1.x wire format), v2, health, metrics, OpenAPI, docs and the dashboard.

Handlers read the raw body themselves (size limit while streaming), decode it (``bodies.py``: typed
first, then strict JSON) and validate it with ``dryci.protocol``; every failure is a 4xx (or a 503
when the database fails) with ``{"detail": ..., "field": ...}``, never a 500. PostgreSQL work runs in
worker threads so the event loop keeps accepting requests. With SQLite, reads and the validation of
publishes of small bodies run on the loop (cheaper than a thread hop) and a publish awaits the future
the writer thread resolves after its commit; bodies over 64 KiB are handled in worker threads, at
most ``decode_slots`` at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dryci import __version__
from dryci.exceptions import DryciError, ProtocolError, StoreError, StoreUnavailable
from dryci.protocol import (
    MAX_BODY_BYTES,
    PublishRequest,
    decode_v1_publish_request,
    decode_v1_query_request,
    decode_v2_publish_request,
    decode_v2_query_request,
)
from dryci.protocol.exchange import answer_body as records_answer_body
from dryci.protocol.exchange import decode_records_publish, decode_records_query
from dryci.protocol.usage import decode_run_usage
from dryci.server import schemas
from dryci.server.apidocs import API_DOCS_HTML
from dryci.server.auth import authenticate, bearer_token, require_write
from dryci.server.backends.base import Backend, Principal
from dryci.server.bodies import INLINE_BYTES, decode_body
from dryci.server.config import Settings
from dryci.server.dashboard import dashboard_router
from dryci.server.errors import ApiError, AuthError
from dryci.server.metrics import Metrics, MetricsMiddleware
from dryci.server.ratelimit import RateLimiter, client_address, refuse_if_over
from dryci.server.recorder import UsageRecorder, day_of
from dryci.server.state import ServerState

log = logging.getLogger("dryci.server")
BODY_TIMEOUT = 60.0


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


async def read_body(request: Request) -> bytearray:
    """The body, or 413 as soon as Content-Length or the streamed bytes pass MAX_BODY_BYTES."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"body of {int(declared)} bytes is larger than the limit of {MAX_BODY_BYTES}")
    # One growing buffer, not a list of chunks joined at the end: a large body is held once, not twice.
    body = bytearray()

    async def receive() -> None:
        async for chunk in request.stream():
            if len(body) + len(chunk) > MAX_BODY_BYTES:
                raise ApiError(413, f"body larger than the limit of {MAX_BODY_BYTES} bytes")
            body.extend(chunk)

    try:
        # A body that trickles in must not hold its connection (and its buffer) for ever.
        await asyncio.wait_for(receive(), BODY_TIMEOUT)
    except asyncio.TimeoutError:
        raise ApiError(408, f"body not received within {BODY_TIMEOUT:g} s") from None
    return body  # the decoders read it in place


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
    state = ServerState(
        backend,
        settings,
        Metrics(),
        RateLimiter(settings.rate_limit, settings.rate_burst),
        RateLimiter(settings.auth_rate_limit, settings.auth_rate_burst),
        UsageRecorder(backend, settings.flush_seconds),
    )

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
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    _install_error_handlers(app)

    def authenticated(token: str | None, now: float, address: str) -> Principal:
        """The token's principal; a failure counts against the address (429 once it failed too often).

        A valid token is never refused for its address: it has its own per-token limit.
        """
        try:
            return authenticate(backend, token, now)
        except AuthError:
            refuse_if_over(state.failures, address, now)
            raise

    def bearer(header: str | None, now: float, address: str) -> str | None:
        """The token of an Authorization header; a malformed one counts as a failed authentication."""
        try:
            return bearer_token(header)
        except AuthError:
            refuse_if_over(state.failures, address, now)
            raise

    def from_header(header: str | None, now: float, address: str) -> Principal:
        return authenticated(bearer(header, now, address), now, address)

    def authorize(token: str, now: float, address: str, *, write: bool) -> Principal:
        principal = authenticated(token, now, address)
        retry = state.limiter.retry_after(principal.token_id, now)
        if retry is not None:
            raise ApiError(
                429,
                f"rate limit of {settings.rate_limit:g} requests/s per token exceeded",
                headers={"Retry-After": str(retry)},
            )
        if write:
            require_write(principal)
        return principal

    async def received(request: Request) -> tuple[str, bytearray, float, str]:
        """The bearer token (401 before the body is read), the body, the request time and address."""
        address, now = client_address(request), time.time()
        token = bearer(request.headers.get("authorization"), now, address)
        if token is None:
            refuse_if_over(state.failures, address, now)
            raise AuthError("missing Authorization: Bearer token")
        return token, await read_body(request), time.time(), address

    # Large bodies are decoded (and handled) in worker threads, at most decode_slots at once: however
    # many arrive, their memory is bounded and the event loop keeps serving everyone else.
    slots = threading.BoundedSemaphore(settings.decode_slots)

    def slot(raw: bytearray) -> AbstractContextManager[Any]:
        return slots if len(raw) > INLINE_BYTES else nullcontext()

    async def call(
        request: Request, route: str, work: Callable[[Principal, Any, float], Any], *, write: bool
    ) -> Any:
        token, raw, now, address = await received(request)

        def run() -> Any:
            with slot(raw):  # taken before a pooled connection: a waiting body holds none
                if write:  # a publish takes its own connection for the transaction: pin nothing meanwhile
                    return checked()
                with backend.pinned():
                    return checked()

        def checked() -> Any:
            principal = authorize(token, now, address, write=write)
            return work(principal, decode_body(route, raw), now)

        if backend.local_reads and not write and len(raw) <= INLINE_BYTES:
            return run()  # a local SQLite read costs less than the hop to a worker thread
        return await run_in_threadpool(run)

    def count(principal: Principal, now: float, keys: int, hits: int, stale: list[tuple[str, str]]) -> None:
        state.metrics.count_query(hits, keys - hits)
        state.recorder.query(principal.project_id, now, hits, keys - hits, stale)

    def recorded(principal: Principal, request: PublishRequest, api: str, now: float, stored: int) -> int:
        state.metrics.count_publish(stored)
        # A v2 client reports its run's counters through POST /api/v2/runs, the one source of them;
        # only 0.1.x clients (v1) report them with their publish.
        stats = request.stats if api == "v1" else None
        state.recorder.publish(
            principal.project_id,
            now,
            stored,
            stats.skipped_by_cache if stats is not None else 0,
            stats.seconds_saved if stats is not None else 0.0,
        )
        return stored

    def publish(principal: Principal, request: PublishRequest, api: str, now: float) -> int:
        return recorded(principal, request, api, now, backend.publish(principal, request, api, now))

    async def store(request: Request, decode: Callable[[Any], PublishRequest], api: str) -> int:
        """Validate and publish; with SQLite on the event loop, awaiting the writer's commit."""
        route = f"{api}_publish"
        submit = getattr(backend, "submit_publish", None)
        if submit is None:  # PostgreSQL: auth, validation and the transaction in one worker thread
            stored: int = await call(
                request, route, lambda p, data, now: publish(p, decode(data), api, now), write=True
            )
            return stored
        token, raw, now, address = await received(request)
        principal = authorize(token, now, address, write=True)

        def validated() -> PublishRequest:
            with slot(raw):
                return decode(decode_body(route, raw))

        if len(raw) <= INLINE_BYTES:
            publish_request = validated()
        else:
            publish_request = await run_in_threadpool(validated)
        stored = await asyncio.wrap_future(submit(principal, publish_request, api, now))
        return recorded(principal, publish_request, api, now, stored)

    @app.post(
        "/api/v1/query-passed",
        tags=["v1"],
        summary="Passed test ids per key (0.1.x format)",
        openapi_extra=schemas.body(schemas.V1_QUERY),
        responses=schemas.responses(schemas.V1_QUERY_RESPONSE, 401, 413, 422, 429, 503),
    )
    async def v1_query(request: Request) -> Response:
        def work(principal: Principal, data: Any, now: float) -> Any:
            keys = decode_v1_query_request(data).keys
            answer = backend.query_v1(principal.project_id, principal.read_namespaces, keys, now)
            count(principal, now, len(keys), answer.hits, answer.stale_keys)
            return Response(answer.body, media_type="application/json")

        response: Response = await call(request, "v1_query", work, write=False)
        return response

    @app.post(
        "/api/v1/publish",
        tags=["v1"],
        summary="Add passed test ids (0.1.x format)",
        openapi_extra=schemas.body(schemas.V1_PUBLISH),
        responses=schemas.responses(schemas.EMPTY, 401, 403, 413, 422, 429, 503),
    )
    async def v1_publish(request: Request) -> Response:
        await store(request, decode_v1_publish_request, "v1")
        return _json({})

    @app.post(
        "/api/v2/query",
        tags=["v2"],
        summary="Passed tests with durations, and test counts, per key",
        openapi_extra=schemas.body(schemas.V2_QUERY),
        responses=schemas.responses(schemas.V2_QUERY_RESPONSE, 401, 413, 422, 429, 503),
    )
    async def v2_query(request: Request) -> Response:
        def work(principal: Principal, data: Any, now: float) -> Any:
            keys = decode_v2_query_request(data).keys
            result = backend.query(principal.project_id, principal.read_namespaces, keys, now)
            hits = sum(1 for e in result.entries if e.tests or e.skipped)
            count(principal, now, len(keys), hits, result.stale_keys)
            return {"entries": [entry.to_json() for entry in result.entries]}

        return _json(await call(request, "v2_query", work, write=False))

    @app.post(
        "/api/v2/publish",
        tags=["v2"],
        summary="Store passed tests with durations and provenance",
        openapi_extra=schemas.body(schemas.V2_PUBLISH),
        responses=schemas.responses(schemas.V2_PUBLISH_RESPONSE, 401, 403, 413, 422, 429, 503),
    )
    async def v2_publish(request: Request) -> Response:
        return _json({"stored": await store(request, decode_v2_publish_request, "v2")})

    @app.post(
        "/api/v2/records/query",
        tags=["v2"],
        summary="Function-level records, snapshots and facts by name (absent ones omitted)",
        openapi_extra=schemas.body(schemas.RECORDS_QUERY),
        responses=schemas.responses(schemas.RECORDS_QUERY_RESPONSE, 401, 413, 422, 429, 503),
    )
    async def records_query(request: Request) -> Response:
        def work(principal: Principal, data: Any, now: float) -> Any:
            wanted = decode_records_query(data).wanted
            found = {}
            for kind, names in wanted.items():
                if names:
                    answer = backend.query_records(
                        principal.project_id, principal.read_namespaces, kind, names, now
                    )
                    state.recorder.records_read(principal.project_id, kind, answer.stale_keys)
                    found[kind] = answer.found
            return Response(records_answer_body(found), media_type="application/json")

        response: Response = await call(request, "records_query", work, write=False)
        return response

    @app.post(
        "/api/v2/records/publish",
        tags=["v2"],
        summary="Store function-level records (each replaces the one under its key), snapshots and facts",
        openapi_extra=schemas.body(schemas.RECORDS_PUBLISH),
        responses=schemas.responses(schemas.V2_PUBLISH_RESPONSE, 401, 403, 413, 422, 429, 503),
    )
    async def records_publish(request: Request) -> Response:
        def work(principal: Principal, data: Any, now: float) -> Any:
            return {"stored": backend.publish_records(principal, decode_records_publish(data), now)}

        return _json(await call(request, "records_publish", work, write=True))

    @app.post(
        "/api/v2/runs",
        tags=["v2"],
        summary="Report one run's usage (any token, read-only ones included; once per run)",
        openapi_extra=schemas.body(schemas.RUNS),
        responses=schemas.responses(schemas.RUNS_RESPONSE, 401, 413, 422, 429, 503),
    )
    async def v2_runs(request: Request) -> Response:
        def work(principal: Principal, data: Any, now: float) -> Any:
            state.recorder.run(principal, now, decode_run_usage(data))
            # The client then publishes only when it may: a read token's run says nothing about it.
            return {"may_publish": principal.can_write}

        return _json(await call(request, "v2_runs", work, write=False))

    @app.get(
        "/api/v2/usage",
        tags=["v2"],
        summary="Usage per day of the token's project",
        responses=schemas.responses({"type": "object"}, 401, 422, 429, 503),
    )
    async def v2_usage(request: Request, days: int = Query(30, ge=1, le=366)) -> Response:
        address = client_address(request)

        def run() -> Any:
            now = time.time()
            principal = from_header(request.headers.get("authorization"), now, address)
            rows = backend.usage(principal.project_id, day_of(now - (days - 1) * 86400.0))
            return {
                "project": principal.project,
                "days": [
                    {
                        "day": r.day,
                        "queries": r.queries,
                        "hits": r.hits,
                        "misses": r.misses,
                        "tests_published": r.tests_published,
                        "tests_skipped": r.tests_skipped,
                        "seconds_saved": r.seconds_saved,
                        "runs": r.runs,
                        "tests_total": r.tests_total,
                        "tests_run": r.tests_run,
                        "seconds_run": r.seconds_run,
                        "shadow_runs": r.shadow_runs,
                        "shadow_would_skip": r.shadow_would_skip,
                        "shadow_missed": r.shadow_missed,
                    }
                    for r in rows
                ],
            }

        return _json(await run_in_threadpool(run))

    @app.get(
        "/api/v2/whoami",
        tags=["v2"],
        summary="What the token may do",
        responses=schemas.responses({"type": "object"}, 401, 429, 503),
    )
    async def whoami(request: Request) -> Response:
        address = client_address(request)

        def run() -> Any:
            now = time.time()
            p = from_header(request.headers.get("authorization"), now, address)
            return {
                "token_id": p.token_id,
                "project": p.project,
                "user": p.user,
                "scope": p.scope,
                "namespace": p.namespace,
            }

        return _json(await run_in_threadpool(run))

    @app.get("/healthz", tags=["operations"], summary="Liveness: the database answers")
    async def healthz() -> Response:
        await run_in_threadpool(backend.check)
        return _json({"status": "ok", "schema_version": backend.schema_version})

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus text metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def metrics() -> Response:
        try:
            size: int | None = await run_in_threadpool(backend.size_bytes)
        except DryciError:
            size = None
        return Response(state.metrics.render(size), media_type="text/plain; version=0.0.4")

    @app.get(
        "/api", tags=["operations"], summary="Human-readable API documentation", response_class=HTMLResponse
    )
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(API_DOCS_HTML)

    app.include_router(dashboard_router(state))
    return app


def _install_error_handlers(app: FastAPI) -> None:
    def error(
        status: int, detail: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        return _json({"detail": detail, "field": field}, status, headers)

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
