from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from dryci.exceptions import ConfigError, StoreUnavailable
from dryci.protocol import FileEntry, Provenance, PublishStats, hash_node_id, key_for
from dryci.protocol.exchange import KINDS, answer_body
from dryci.protocol.records import encode_snapshot, snapshot_id
from dryci.protocol.usage import RunUsage
from dryci.store.remote import RemoteStore, check_server_url
from tests.store.fake_servers import MemoryCache, Reply, refused_url, serve, silent

KEY_A = key_for("a" * 64)
KEY_B = key_for("b" * 64)
ID_1 = hash_node_id("a" * 64, "tests/test_a.py::test_one")
ID_2 = hash_node_id("a" * 64, "tests/test_a.py::test_two")
STATS = PublishStats(total=2, passed=2)


Remote = Callable[..., RemoteStore]


@pytest.fixture
def remote() -> Iterator[Remote]:
    """Makes RemoteStores and closes them after the test (open sockets would warn)."""
    made: list[RemoteStore] = []

    def make(*args: Any, **kwargs: Any) -> RemoteStore:
        made.append(RemoteStore(*args, **kwargs))
        return made[-1]

    yield make
    for store in made:
        store.close()


def always(reply: Reply) -> Any:
    return lambda path, body: reply


def test_publish_then_query_round_trips_over_v2_with_token_and_provenance(remote: Remote) -> None:
    cache = MemoryCache()
    with serve(cache) as server:
        store = remote(server.url, token="tok_secret")
        store.publish({KEY_A: FileEntry({ID_1: 1.5}, test_count=2)}, Provenance(branch="main"), STATS)
        assert store.query([KEY_B, KEY_A]) == [FileEntry(), FileEntry({ID_1: 1.5}, test_count=2)]
    publish = server.requests[0]
    assert publish.path == "/api/v2/publish"
    assert publish.headers["Authorization"] == "Bearer tok_secret"
    assert publish.body["provenance"] == {"branch": "main"}
    assert publish.body["stats"]["passed"] == 2
    assert not store.uses_v1


def test_a_server_without_v2_is_spoken_to_in_the_exact_v1_format(remote: Remote) -> None:
    cache = MemoryCache(v1_only=True)
    with serve(cache) as server:
        store = remote(server.url, token="t")
        store.publish({KEY_A: FileEntry({ID_2: 1.0, ID_1: 2.0}, test_count=2)}, Provenance(), STATS)
        assert store.query([KEY_A]) == [FileEntry({ID_1: 0.0, ID_2: 0.0})]
    paths = [r.path for r in server.requests]
    # After the first 404 the client stays on v1 instead of asking v2 every time.
    assert paths == ["/api/v2/publish", "/api/v1/publish", "/api/v1/query-passed"]
    assert server.requests[1].body == {
        "passed_node_ids_per_test_file": {KEY_A: sorted([ID_1, ID_2])},
        "total_test_count": 2,
        "passed_test_count": 2,
        "failed_test_count": 0,
        "skipped_test_count": 0,
        "skipped_by_cache_test_count": 0,
    }
    assert server.requests[2].body == {"test_file_hashes": [KEY_A]}
    assert store.uses_v1


def test_large_queries_are_sent_in_batches_and_answered_in_order(remote: Remote) -> None:
    cache = MemoryCache()
    keys = [key_for(f"{i:064d}") for i in range(25)]
    cache.data[keys[24]] = {"test_count": 1, "tests": {ID_1: 0.1}}
    with serve(cache) as server:
        entries = remote(server.url, query_batch=10).query(keys)
    assert [len(r.body["keys"]) for r in server.requests] == [10, 10, 5]
    assert entries[24] == FileEntry({ID_1: 0.1}, test_count=1)
    assert entries[:24] == [FileEntry()] * 24


def test_large_publishes_are_split_and_stats_are_sent_once(remote: Remote) -> None:
    cache = MemoryCache()
    entries = {key_for(f"{i:064d}"): FileEntry({hash_node_id(str(i), "t"): 0.1}) for i in range(5)}
    with serve(cache) as server:
        remote(server.url, publish_batch_ids=2).publish(entries, Provenance(), STATS)
    assert [len(r.body["entries"]) for r in server.requests] == [2, 2, 1]
    assert ["stats" in r.body for r in server.requests] == [True, False, False]
    assert set(cache.data) == set(entries)


def test_a_transient_server_error_is_retried(remote: Remote) -> None:
    answers = itertools.chain([Reply(status=503), Reply(status=500)], itertools.repeat(None))
    cache = MemoryCache()

    def respond(path: str, body: Any) -> Reply:
        return next(answers) or cache(path, body)

    with serve(respond) as server:
        assert remote(server.url, timeout=5).query([KEY_A]) == [FileEntry()]
    assert len(server.requests) == 3


def test_too_many_requests_is_retried_after_the_time_the_server_asks_for(remote: Remote) -> None:
    answers = itertools.chain([Reply(status=429, headers={"Retry-After": "0"})], itertools.repeat(None))
    cache = MemoryCache()
    with serve(lambda p, b: next(answers) or cache(p, b)) as server:
        assert remote(server.url).query([KEY_A]) == [FileEntry()]
    assert len(server.requests) == 2


def test_a_second_429_is_not_waited_for(remote: Remote) -> None:
    with serve(always(Reply(status=429, headers={"Retry-After": "0.2"}))) as server:
        store = remote(server.url, timeout=3.0)
        with pytest.raises(StoreUnavailable, match=r"rate limited \(HTTP 429\) again after waiting"):
            store.query([KEY_A])
        assert len(server.requests) == 2  # waited once as asked, asked once more
        assert store.breaker_open  # limited even after waiting: not asked again this session
        with pytest.raises(StoreUnavailable, match="not asking it again this session"):
            store.publish({KEY_A: FileEntry({ID_1: 1.0})}, Provenance(), STATS)
        assert len(server.requests) == 2


def test_after_a_wait_too_long_for_one_call_a_later_call_asks_again(remote: Remote) -> None:
    answers = itertools.chain([Reply(status=429, headers={"Retry-After": "2"})], itertools.repeat(None))
    cache = MemoryCache()
    with serve(lambda p, b: next(answers) or cache(p, b)) as server:
        store = remote(server.url, timeout=1.5)
        with pytest.raises(StoreUnavailable, match="longer than the"):
            store.query([KEY_A])
        assert store.breaker_open  # for now: the plugin would say nothing more
        time.sleep(1.0)  # 1 s of the asked wait left: this call's budget of 1.5 s holds it
        assert not store.breaker_open
        store.publish({KEY_A: FileEntry({ID_1: 1.0})}, Provenance(), STATS)
    assert [r.path for r in server.requests] == ["/api/v2/query", "/api/v2/publish"]
    assert set(cache.data) == {KEY_A}


def test_a_429_asking_for_more_than_the_budget_leaves_the_server_alone_while_it_lasts(
    remote: Remote,
) -> None:
    with serve(always(Reply(status=429, headers={"Retry-After": "5"}))) as server:
        store = remote(server.url, timeout=3.0)
        with pytest.raises(StoreUnavailable, match=r"Retry-After 5 s\), longer than the 3\.0 s left"):
            store.query([KEY_A])
        assert store.breaker_open  # the plugin says nothing more and publishes nothing meanwhile
        with pytest.raises(StoreUnavailable, match=r"not asking again for the [45]\.\d s"):
            store.publish({KEY_A: FileEntry({ID_1: 1.0})}, Provenance(), STATS)
        assert len(server.requests) == 1


def test_a_429_without_retry_after_is_retried_after_a_short_backoff(remote: Remote) -> None:
    answers = itertools.chain([Reply(status=429)], itertools.repeat(None))
    cache = MemoryCache()
    with serve(lambda p, b: next(answers) or cache(p, b)) as server:
        assert remote(server.url).query([KEY_A]) == [FileEntry()]
    assert len(server.requests) == 2


def test_a_server_that_keeps_failing_makes_the_store_unavailable_within_the_deadline(remote: Remote) -> None:
    with serve(always(Reply(status=500))) as server:
        store = remote(server.url, timeout=1.0, breaker_threshold=100)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="HTTP 500"):
            store.query([KEY_A])
        # Generous bound: the point is that retries stop, not how fast they are.
        assert time.monotonic() - started < 5
    assert 2 <= len(server.requests) < 10


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_token_is_not_retried(status: int, remote: Remote) -> None:
    with (
        serve(always(Reply(status=status, body={"detail": "bad token"}))) as server,
        pytest.raises(StoreUnavailable, match=f"HTTP {status}: the server rejected the token"),
    ):
        remote(server.url, token="wrong").query([KEY_A])
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>proxy error</html>", "not valid JSON"),
        ({"entries": "nope"}, "invalid answer: entries"),
        ({"entries": [{"test_count": None, "tests": {}}] * 2}, "expected 1 entries, got 2"),
        ({"entries": [{"test_count": None, "tests": {"not-an-id": 1.0}}]}, "32 lowercase hex"),
        ({"entries": [{"test_count": -1, "tests": {}}]}, "test_count"),
    ],
    ids=["garbage", "wrong-shape", "unasked-entries", "bad-id", "bad-count"],
)
def test_answers_that_break_the_protocol_make_the_store_unavailable(
    body: Any, message: str, remote: Remote
) -> None:
    with serve(always(Reply(body=body))) as server, pytest.raises(StoreUnavailable, match=message):
        remote(server.url).query([KEY_A])


def test_v1_answers_with_more_lists_than_keys_asked_are_rejected(remote: Remote) -> None:
    def respond(path: str, body: Any) -> Reply:
        if path.startswith("/api/v2"):
            return Reply(status=404)
        return Reply(body={"node_ids": [[ID_1], [ID_2]]})

    with serve(respond) as server, pytest.raises(StoreUnavailable, match="expected 1 lists, got 2"):
        remote(server.url).query([KEY_A])


def test_a_huge_answer_is_cut_off(remote: Remote) -> None:
    with (
        serve(always(Reply(body=b" " * 200_000))) as server,
        pytest.raises(StoreUnavailable, match="larger than 100000 bytes"),
    ):
        remote(server.url, max_response_bytes=100_000).query([KEY_A])


def test_a_huge_answer_without_a_length_is_cut_off_while_reading(remote: Remote) -> None:
    chunks = [b" " * 10_000] * 50
    with (
        serve(always(Reply(body=chunks))) as server,
        pytest.raises(StoreUnavailable, match="larger than 100000 bytes"),
    ):
        remote(server.url, max_response_bytes=100_000).query([KEY_A])


def test_an_endlessly_slow_answer_is_abandoned_at_the_deadline(remote: Remote) -> None:
    def trickle() -> Iterator[bytes]:
        yield b'{"entries": '
        while True:
            yield b" "

    with serve(always(Reply(body=trickle(), delay_between_chunks=0.05))) as server:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"within 0\.5 s"):
            remote(server.url, timeout=0.5).query([KEY_A])
        assert time.monotonic() - started < 5


def test_a_refused_connection_makes_the_store_unavailable(remote: Remote) -> None:
    with pytest.raises(StoreUnavailable, match="cannot reach the server"):
        remote(refused_url(), timeout=1.0).query([KEY_A])


def test_after_repeated_failures_the_breaker_stops_asking(remote: Remote) -> None:
    with serve(always(Reply(status=502))) as server:
        store = remote(server.url, timeout=2.0, breaker_threshold=2)
        with pytest.raises(StoreUnavailable, match="HTTP 502"):
            store.query([KEY_A])
        asked = len(server.requests)
        with pytest.raises(StoreUnavailable, match="not asking it again"):
            store.publish({KEY_A: FileEntry({ID_1: 1.0})}, Provenance(), STATS)
    assert asked == 2
    assert len(server.requests) == asked


def test_the_system_proxy_setting_is_honored(monkeypatch: pytest.MonkeyPatch, remote: Remote) -> None:
    cache = MemoryCache()
    with serve(cache) as proxy:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        store = remote("http://cache.example.invalid:8080")
        assert store.query([KEY_A]) == [FileEntry()]
    # A proxy receives the absolute URL of the real server in the request line.
    assert proxy.requests[0].path == "http://cache.example.invalid:8080/api/v2/query"


@pytest.mark.parametrize("url", ["cache.example.com", "ftp://cache.example.com", "https://"])
def test_a_server_setting_that_is_not_a_url_names_the_variable(url: str) -> None:
    with pytest.raises(ConfigError, match="DRYCI_SERVER: expected an http:// or https:// URL"):
        check_server_url(url)


def test_a_server_that_accepts_and_never_answers_costs_one_timeout_for_query_and_publish(
    remote: Remote,
) -> None:
    with silent() as server:
        store = remote(server.url, timeout=0.5)
        with pytest.raises(StoreUnavailable, match=r"no answer within 0\.5 s"):
            store.query([KEY_A])
        assert store.breaker_open
        with pytest.raises(StoreUnavailable, match="not asking it again"):
            store.publish({KEY_A: FileEntry({ID_1: 1.0})}, Provenance(), STATS)
        with pytest.raises(StoreUnavailable, match="not asking it again"):
            store.records([KEY_A])
        time.sleep(0.2)  # let the accepting thread see every connection that was made
    assert len(server.connections) == 1


def test_a_refused_connection_is_not_retried(remote: Remote) -> None:
    store = remote(refused_url(), timeout=2.0, breaker_threshold=100)
    with pytest.raises(StoreUnavailable, match=r"cannot reach the server \(ConnectError"):
        store.query([KEY_A])
    assert store.breaker_open  # and the publish after it is not tried either


SNAPSHOT = encode_snapshot({b"f" * 16: b"c" * 16})
SID = snapshot_id(SNAPSHOT).hex()


def records_server(stored: dict[str, dict[str, bytes]], limit: int | None = None) -> Any:
    """The records endpoints over ``stored`` (kind -> hex name -> blob), answers cut at ``limit``."""

    def respond(path: str, body: Any) -> Reply:
        if path == "/api/v2/records/publish":
            for kind in KINDS:
                for name, blob in body.get(kind, {}).items():
                    stored.setdefault(kind, {})[name] = base64.b64decode(blob)
            return Reply(body={"stored": 1})
        if path == "/api/v2/records/query":
            found = {
                k: {n: stored.get(k, {})[n] for n in body.get(k, []) if n in stored.get(k, {})} for k in KINDS
            }
            answer = json.loads(answer_body(found, limit) if limit else answer_body(found))
            return Reply(body=answer)
        return Reply(status=404, body={"detail": "Not Found"})

    return respond


def test_records_snapshots_and_facts_round_trip_as_base64(remote: Remote) -> None:
    stored: dict[str, dict[str, bytes]] = {}
    with serve(records_server(stored)) as server:
        store = remote(server.url)
        store.save_records({KEY_A: b"record-bytes"}, {bytes.fromhex(SID): SNAPSHOT}, {b"i" * 16: b"facts"})
        assert store.records([KEY_A, KEY_B]) == {KEY_A: b"record-bytes"}
        assert store.snapshots([bytes.fromhex(SID)]) == {bytes.fromhex(SID): SNAPSHOT}
        assert store.facts([b"i" * 16, b"j" * 16]) == {b"i" * 16: b"facts"}
    publish = next(r for r in server.requests if r.path == "/api/v2/records/publish")
    # Snapshots and facts first: a server never holds a record whose snapshot has not arrived.
    assert list(publish.body) == ["snapshots", "facts", "records"]


def test_what_an_answer_leaves_out_for_its_size_is_asked_again(remote: Remote) -> None:
    stored = {"records": {KEY_A: b"a" * 3000, KEY_B: b"b" * 3000}}
    with serve(records_server(stored, limit=5000)) as server:
        assert remote(server.url).records([KEY_A, KEY_B]) == stored["records"]
    asked = [r.body["records"] for r in server.requests]
    assert asked == [[KEY_A, KEY_B], [KEY_B]]


def test_a_server_without_records_has_none_and_cannot_keep_them(remote: Remote) -> None:
    with serve(MemoryCache()) as server:
        store = remote(server.url)
        assert store.records([KEY_A]) == {}
        with pytest.raises(StoreUnavailable, match="keeps no function-level records"):
            store.save_records({KEY_A: b"x"}, {}, {})
        assert not store.breaker_open  # results still work
        assert store.query([KEY_A]) == [FileEntry()]


def test_a_records_answer_with_objects_not_asked_for_is_refused(remote: Remote) -> None:
    bad = Reply(body={"records": {KEY_B: base64.b64encode(b"x").decode()}, "snapshots": {}, "facts": {}})
    with serve(always(bad)) as server:
        store = remote(server.url)
        with pytest.raises(StoreUnavailable, match="not asked for"):
            store.records([KEY_A])
        assert store.breaker_open


RUN = RunUsage(level="file", tests_total=5, tests_run=1, tests_skipped=4, seconds_run=0.5, seconds_saved=2.0)


@pytest.mark.parametrize(("answer", "expected"), [(True, True), (False, False)])
def test_a_run_report_says_whether_the_run_may_publish(remote: Remote, answer: bool, expected: bool) -> None:
    with serve(always(Reply(body={"may_publish": answer}))) as server:
        assert remote(server.url).report_run(RUN) is expected
    (request,) = server.requests
    assert request.path == "/api/v2/runs"
    assert request.body == RUN.to_json()


def test_a_server_from_before_run_reports_says_nothing_and_costs_nothing_more(remote: Remote) -> None:
    with serve(MemoryCache()) as server:
        store = remote(server.url)
        assert store.report_run(RUN) is None
        store.publish({KEY_A: FileEntry({ID_1: 1.0})}, Provenance(), STATS)
    assert [r.path for r in server.requests] == ["/api/v2/runs", "/api/v2/publish"]


def test_a_run_report_is_not_sent_once_the_server_failed(remote: Remote) -> None:
    with serve(always(Reply(status=503))) as server:
        store = remote(server.url, timeout=5.0)
        with pytest.raises(StoreUnavailable):
            store.query([KEY_A])
        asked = len(server.requests)
        assert store.report_run(RUN) is None
    assert len(server.requests) == asked


def test_a_nonsense_answer_to_a_run_report_is_a_store_failure(remote: Remote) -> None:
    with serve(always(Reply(body={"stored": 0}))) as server, pytest.raises(StoreUnavailable, match="invalid"):
        remote(server.url).report_run(RUN)
