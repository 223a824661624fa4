"""Fuzz the API from its own OpenAPI document (schemathesis): no input may cause a 5xx.

Valid (positive) and invalid (negative) requests are generated for every operation of the served
document, with a bounded number of examples so that the module runs well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from tests.live_server import LiveServer, ProjectTokens, start_server

MAX_EXAMPLES = 30


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    server = start_server(f"sqlite:///{directory / 'fuzz.db'}", ["--rate-limit", "0"], log_dir=directory)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzz_tokens(fuzz_server: LiveServer) -> ProjectTokens:
    return fuzz_server.project("fuzz")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_generated_request_makes_the_server_fail(
    fuzz_server: LiveServer, fuzz_tokens: ProjectTokens, mode: GenerationMode
) -> None:
    api = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 8
    statuses: set[int] = set()
    fuzzed: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def call(case: schemathesis.Case) -> None:
            response = case.call(base_url=fuzz_server.url, headers=fuzz_tokens.auth("write"), timeout=30)
            statuses.add(response.status_code)
            assert response.status_code < 500, (
                f"{case.method} {case.path}: {response.status_code} {response.text}"
            )

        try:
            call()
        except Unsatisfiable:
            # Nothing can be invalid about an operation without inputs (GET /healthz): no negative case.
            assert mode is GenerationMode.NEGATIVE and not operation.body and not operation.query
            continue
        fuzzed.append(operation.label)
    assert {
        "POST /api/v1/query-passed",
        "POST /api/v1/publish",
        "POST /api/v2/query",
        "POST /api/v2/publish",
    } <= set(fuzzed)
    assert 200 in statuses
    if mode is GenerationMode.NEGATIVE:
        assert 422 in statuses
