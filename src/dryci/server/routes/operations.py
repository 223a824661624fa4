"""For operators: liveness, Prometheus metrics and the human-readable API page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from dryci.exceptions import DryciError
from dryci.server.apidocs import API_DOCS_HTML
from dryci.server.handling import json_response, state_of

router = APIRouter()


@router.get("/healthz", tags=["operations"], summary="Liveness: the database answers")
async def healthz(request: Request) -> Response:
    backend = state_of(request).backend
    await run_in_threadpool(backend.check)
    return json_response({"status": "ok", "schema_version": backend.schema_version})


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus text metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(request: Request) -> Response:
    state = state_of(request)
    try:
        size: int | None = await run_in_threadpool(state.backend.size_bytes)
    except DryciError:
        size = None
    # Rendering reads every worker's file in multiprocess mode: off the event loop too.
    text = await run_in_threadpool(state.metrics.render, size)
    return Response(text, media_type=state.metrics.content_type)


@router.get(
    "/api", tags=["operations"], summary="Human-readable API documentation", response_class=HTMLResponse
)
async def api_docs() -> HTMLResponse:
    return HTMLResponse(API_DOCS_HTML)
