"""Writes: passed tests (v1 and v2) and function-level records; each answers after its commit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dryci.protocol import decode_v1_publish_request, decode_v2_publish_request
from dryci.protocol.exchange import decode_records_publish
from dryci.server import schemas
from dryci.server.backends.base import Principal
from dryci.server.handling import answer, json_response, publish, state_of

router = APIRouter()


@router.post(
    "/api/v1/publish",
    tags=["v1"],
    summary="Add passed test ids (0.1.x format)",
    openapi_extra=schemas.body(schemas.V1_PUBLISH),
    responses=schemas.responses(schemas.EMPTY, 401, 403, 413, 422, 429, 503),
)
async def v1_publish(request: Request) -> Response:
    await publish(request, decode_v1_publish_request, "v1")
    return json_response({})


@router.post(
    "/api/v2/publish",
    tags=["v2"],
    summary="Store passed tests with durations and provenance",
    openapi_extra=schemas.body(schemas.V2_PUBLISH),
    responses=schemas.responses(schemas.V2_PUBLISH_RESPONSE, 401, 403, 413, 422, 429, 503),
)
async def v2_publish(request: Request) -> Response:
    return json_response({"stored": await publish(request, decode_v2_publish_request, "v2")})


@router.post(
    "/api/v2/records/publish",
    tags=["v2"],
    summary="Store function-level records (each replaces the one under its key), snapshots and facts",
    openapi_extra=schemas.body(schemas.RECORDS_PUBLISH),
    responses=schemas.responses(schemas.V2_PUBLISH_RESPONSE, 401, 403, 413, 422, 429, 503),
)
async def records_publish(request: Request) -> Response:
    state = state_of(request)

    def work(principal: Principal, data: Any, now: float) -> int:
        return state.backend.publish_records(principal, decode_records_publish(data), now)

    return json_response({"stored": await answer(request, "records_publish", work, write=True)})
