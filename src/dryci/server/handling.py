"""What every API handler does, written once: read the body, authenticate, take a slot, run, record.

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
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dryci.protocol import MAX_BODY_BYTES, PublishRequest
from dryci.server.auth import authenticate, bearer_token, require_write
from dryci.server.backends.base import Principal
from dryci.server.bodies import INLINE_BYTES, decode_body
from dryci.server.errors import ApiError, AuthError
from dryci.server.ratelimit import client_address, refuse_if_over
from dryci.server.state import ServerState

BODY_TIMEOUT = 60.0
T = TypeVar("T")
Work = Callable[[Principal, Any, float], T]  # (who asks, the decoded body, the request time) -> answer


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.dryci
    return state


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
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


# --- authentication ---------------------------------------------------------------------------------


@contextmanager
def failures_counted(state: ServerState, address: str, now: float) -> Iterator[None]:
    """An AuthError inside counts against the client address: 429 once it failed too often.

    A valid token is never refused for its address: it has its own per-token limit.
    """
    try:
        yield
    except AuthError:
        refuse_if_over(state.failures, address, now)
        raise


def principal_of(state: ServerState, request: Request, now: float) -> Principal:
    """The principal of the request's Authorization header (no per-token limit: GET routes)."""
    with failures_counted(state, client_address(request), now):
        return authenticate(state.backend, bearer_token(request.headers.get("authorization")), now)


def authorize(state: ServerState, token: str, now: float, address: str, *, write: bool) -> Principal:
    """The token's principal, within its per-token rate limit, with the write scope if ``write``."""
    with failures_counted(state, address, now):
        principal = authenticate(state.backend, token, now)
    retry = state.limiter.retry_after(principal.token_id, now)
    if retry is not None:
        raise ApiError(
            429,
            f"rate limit of {state.settings.rate_limit:g} requests/s per token exceeded",
            headers={"Retry-After": str(retry)},
        )
    if write:
        require_write(principal)
    return principal


@dataclass(frozen=True)
class Received:
    token: str
    body: bytearray
    now: float  # when the body was in
    address: str


async def receive(state: ServerState, request: Request) -> Received:
    """The bearer token (401 before the body is read), then the body."""
    address, now = client_address(request), time.time()
    with failures_counted(state, address, now):
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise AuthError("missing Authorization: Bearer token")
    return Received(token, await read_body(request), time.time(), address)


# --- running a handler --------------------------------------------------------------------------------


def slot(state: ServerState, raw: bytearray) -> AbstractContextManager[Any]:
    # However many large bodies arrive, their memory is bounded and the event loop serves everyone else.
    return state.decode_slots if len(raw) > INLINE_BYTES else nullcontext()


async def answer(request: Request, route: str, work: Work[T], *, write: bool) -> T:
    """Receive, authorize, decode and run ``work`` where it costs least (see the module docstring)."""
    state = state_of(request)
    got = await receive(state, request)
    backend = state.backend

    def checked() -> T:
        principal = authorize(state, got.token, got.now, got.address, write=write)
        return work(principal, decode_body(route, got.body), got.now)

    def run() -> T:
        with slot(state, got.body):  # taken before a pooled connection: a waiting body holds none
            if write:  # a publish takes its own connection for the transaction: pin nothing meanwhile
                return checked()
            with backend.pinned():
                return checked()

    if backend.local_reads and not write and len(got.body) <= INLINE_BYTES:
        return run()  # a local SQLite read costs less than the hop to a worker thread
    return await run_in_threadpool(run)


async def publish(request: Request, decode: Callable[[Any], PublishRequest], api: str) -> int:
    """Validate and publish a v1 or v2 body; the number of tests stored.

    With a publish queue (SQLite) the body is validated on the event loop when small and the
    handler awaits the writer's commit; otherwise (PostgreSQL) auth, validation and the transaction
    run in one worker thread.
    """
    state = state_of(request)
    route = f"{api}_publish"
    queue = state.queue
    if queue is None:

        def stored(principal: Principal, data: Any, now: float) -> int:
            publish_request = decode(data)
            n = state.backend.publish(principal, publish_request, api, now)
            return recorded(state, principal, publish_request, api, now, n)

        return await answer(request, route, stored, write=True)
    got = await receive(state, request)
    principal = authorize(state, got.token, got.now, got.address, write=True)

    def validated() -> PublishRequest:
        with slot(state, got.body):
            return decode(decode_body(route, got.body))

    if len(got.body) <= INLINE_BYTES:
        publish_request = validated()
    else:
        publish_request = await run_in_threadpool(validated)
    n = await asyncio.wrap_future(queue.submit_publish(principal, publish_request, api, got.now))
    return recorded(state, principal, publish_request, api, got.now, n)


# --- recording ----------------------------------------------------------------------------------------


def counted_query(
    state: ServerState, principal: Principal, now: float, keys: int, hits: int, stale: list[tuple[str, str]]
) -> None:
    state.metrics.count_query(principal, hits, keys - hits)
    state.recorder.query(principal.project_id, now, hits, keys - hits, stale)


def recorded(
    state: ServerState, principal: Principal, request: PublishRequest, api: str, now: float, stored: int
) -> int:
    # A v2 client reports its run's counters through POST /api/v2/runs, the one source of them;
    # only 0.1.x clients (v1) report them with their publish.
    stats = request.stats if api == "v1" else None
    skipped = stats.skipped_by_cache if stats is not None else 0
    saved = stats.seconds_saved if stats is not None else 0.0
    state.metrics.count_publish(principal, stored)
    state.metrics.count_saved(principal, saved)
    state.recorder.publish(principal.project_id, now, stored, skipped, saved)
    return stored
