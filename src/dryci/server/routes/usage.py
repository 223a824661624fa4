"""What a token did and may do: a run's usage report, the project's usage per day, whoami."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dryci.protocol.usage import decode_run_usage
from dryci.server import schemas
from dryci.server.backends.base import Principal, UsageDay
from dryci.server.handling import answer, json_response, principal_of, state_of
from dryci.server.recorder import day_of

router = APIRouter()


@router.post(
    "/api/v2/runs",
    tags=["v2"],
    summary="Report one run's usage (any token, read-only ones included; once per run)",
    openapi_extra=schemas.body(schemas.RUNS),
    responses=schemas.responses(schemas.RUNS_RESPONSE, 401, 413, 422, 429, 503),
)
async def v2_runs(request: Request) -> Response:
    state = state_of(request)

    def work(principal: Principal, data: Any, now: float) -> dict[str, Any]:
        usage = decode_run_usage(data)
        state.recorder.run(principal, now, usage)
        state.metrics.count_saved(principal, usage.seconds_saved)
        # The client then publishes only when it may: a read token's run says nothing about it.
        return {"may_publish": principal.can_write}

    return json_response(await answer(request, "v2_runs", work, write=False))


async def _as_principal(request: Request, work: Callable[[Principal, float], Any]) -> Response:
    """``work`` of the header's principal, in a worker thread (it reads the database)."""
    state = state_of(request)

    def run() -> Any:
        now = time.time()
        return work(principal_of(state, request, now), now)

    return json_response(await run_in_threadpool(run))


def _day(r: UsageDay) -> dict[str, Any]:
    return {
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


@router.get(
    "/api/v2/usage",
    tags=["v2"],
    summary="Usage per day of the token's project",
    responses=schemas.responses({"type": "object"}, 401, 422, 429, 503),
)
async def v2_usage(request: Request, days: int = Query(30, ge=1, le=366)) -> Response:
    backend = state_of(request).backend

    def work(principal: Principal, now: float) -> dict[str, Any]:
        rows = backend.usage(principal.project_id, day_of(now - (days - 1) * 86400.0))
        return {"project": principal.project, "days": [_day(r) for r in rows]}

    return await _as_principal(request, work)


@router.get(
    "/api/v2/whoami",
    tags=["v2"],
    summary="What the token may do",
    responses=schemas.responses({"type": "object"}, 401, 429, 503),
)
async def whoami(request: Request) -> Response:
    def work(p: Principal, now: float) -> dict[str, Any]:
        return {
            "token_id": p.token_id,
            "project": p.project,
            "user": p.user,
            "scope": p.scope,
            "namespace": p.namespace,
        }

    return await _as_principal(request, work)
