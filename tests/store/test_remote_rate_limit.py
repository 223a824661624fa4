"""The remote store against a real ``dryci server`` with a tiny rate limit: 429 within the budget."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dryci.exceptions import StoreUnavailable
from dryci.protocol import FileEntry, Provenance, PublishStats, hash_node_id, key_for
from dryci.store.remote import RemoteStore
from tests.live_server import LiveServer, live_server

KEY = key_for("c" * 64)
ID = hash_node_id("c" * 64, "tests/test_c.py::test_one")


@pytest.fixture
def limited(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A server allowing one request per token, then ``request.param`` requests per second."""
    args = ["--rate-limit", str(request.param), "--rate-burst", "1"]
    with live_server(f"sqlite:///{tmp_path / 'rl.db'}", args, log_dir=tmp_path) as server:
        yield server


@pytest.mark.parametrize("limited", [1.0], indirect=True)
def test_a_429_whose_retry_after_fits_the_budget_is_waited_for_once(limited: LiveServer) -> None:
    tokens = limited.project()
    with RemoteStore(limited.url, token=tokens.write, timeout=3.0) as store:
        store.publish(
            {KEY: FileEntry({ID: 0.5}, test_count=1)}, Provenance(), PublishStats(total=1, passed=1)
        )
        started = time.monotonic()
        assert store.query([KEY]) == [FileEntry({ID: 0.5}, test_count=1)]  # 429, Retry-After 1, then 200
        assert 0.9 <= time.monotonic() - started < 3.0


@pytest.mark.parametrize("limited", [0.2], indirect=True)
def test_a_429_whose_retry_after_exceeds_the_budget_fails_at_once_with_one_clear_reason(
    limited: LiveServer,
) -> None:
    tokens = limited.project()
    with RemoteStore(limited.url, token=tokens.read, timeout=2.0) as store:
        assert store.query([KEY]) == [FileEntry()]
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.query([KEY])  # the server asks for 5 s: more than the 2 s budget
        assert time.monotonic() - started < 1.0  # no waiting for what cannot fit
    assert re.fullmatch(
        re.escape(f"{limited.url}: rate limited (HTTP 429, Retry-After 5 s), longer than the ")
        + r"[12]\.\d s left of the 2 s budget \(DRYCI_TIMEOUT\)",
        caught.value.reason,
    ), caught.value.reason
