"""Reads: passed tests per key (v1 and v2) and function-level records by name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dryci.protocol import decode_v1_query_request, decode_v2_query_request
from dryci.protocol.exchange import answer_body as records_answer_body
from dryci.protocol.exchange import decode_records_query
from dryci.server import schemas
from dryci.server.backends.base import Principal
from dryci.server.handling import answer, counted_query, json_response, state_of

router = APIRouter()


@router.post(
    "/api/v1/query-passed",
    tags=["v1"],
    summary="Passed test ids per key (0.1.x format)",
    openapi_extra=schemas.body(schemas.V1_QUERY),
    responses=schemas.responses(schemas.V1_QUERY_RESPONSE, 401, 413, 422, 429, 503),
)
async def v1_query(request: Request) -> Response:
    state = state_of(request)

    def work(principal: Principal, data: Any, now: float) -> Response:
        keys = decode_v1_query_request(data).keys
        found = state.backend.query_v1(principal.project_id, principal.read_namespaces, keys, now)
        counted_query(state, principal, now, len(keys), found.hits, found.stale_keys)
        return Response(found.body, media_type="application/json")

    return await answer(request, "v1_query", work, write=False)


@router.post(
    "/api/v2/query",
    tags=["v2"],
    summary="Passed tests with durations, and test counts, per key",
    openapi_extra=schemas.body(schemas.V2_QUERY),
    responses=schemas.responses(schemas.V2_QUERY_RESPONSE, 401, 413, 422, 429, 503),
)
async def v2_query(request: Request) -> Response:
    state = state_of(request)

    def work(principal: Principal, data: Any, now: float) -> Response:
        keys = decode_v2_query_request(data).keys
        result = state.backend.query(principal.project_id, principal.read_namespaces, keys, now)
        hits = sum(1 for e in result.entries if e.tests or e.skipped)
        counted_query(state, principal, now, len(keys), hits, result.stale_keys)
        return json_response({"entries": [entry.to_json() for entry in result.entries]})

    return await answer(request, "v2_query", work, write=False)


@router.post(
    "/api/v2/records/query",
    tags=["v2"],
    summary="Function-level records, snapshots and facts by name (absent ones omitted)",
    openapi_extra=schemas.body(schemas.RECORDS_QUERY),
    responses=schemas.responses(schemas.RECORDS_QUERY_RESPONSE, 401, 413, 422, 429, 503),
)
async def records_query(request: Request) -> Response:
    state = state_of(request)

    def work(principal: Principal, data: Any, now: float) -> Response:
        found = {}
        for kind, names in decode_records_query(data).wanted.items():
            if names:
                got = state.backend.query_records(
                    principal.project_id, principal.read_namespaces, kind, names, now
                )
                state.recorder.records_read(principal.project_id, kind, got.stale_keys)
                found[kind] = got.found
        return Response(records_answer_body(found), media_type="application/json")

    return await answer(request, "records_query", work, write=False)
