"""RemoteManifestStore against a fake transport: batching, the server's answer as the truth, fallbacks."""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx
import pytest

from dryci.exceptions import StoreUnavailable
from dryci.precise.manifest import build_manifest, identity_key, identity_secret
from dryci.precise.remote import PUBLISH_PATH, QUERY_PATH, RemoteManifestStore
from dryci.precise.store import LocalManifestStore
from dryci.protocol import Provenance
from dryci.store.remote import RemoteStore


def key(n: int) -> str:
    return identity_key(f"tests/test_{n}.py\0cfg")


def manifest(n: int = 1, body: bytes = b"def f():\n    return 1\n") -> Any:
    secret = identity_secret(f"tests/test_{n}.py\0cfg")
    return build_manifest(secret, "salt", {"a.py": body}, [], {"t::x": [("a.py", "f")]})


class FakeServer:
    """Keeps manifests like the real server; ``status`` forces an answer for every request."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.stored: dict[str, Any] = {}
        self.requests: list[tuple[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append((request.url.path, body))
        if self.status != 200:
            return httpx.Response(self.status, json={"detail": "no"})
        if request.url.path == PUBLISH_PATH:
            self.stored.update(body["manifests"])
            return httpx.Response(200, json={"stored": len(body["manifests"])})
        found = {k: self.stored[k] for k in body["keys"] if k in self.stored}
        return httpx.Response(200, json={"manifests": found})


def make_store(
    tmp_path: Any, handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> tuple[RemoteManifestStore, list[str]]:
    said: list[str] = []
    remote = RemoteStore("http://cache.test", transport=httpx.MockTransport(handler), timeout=2.0)
    store = RemoteManifestStore(remote, LocalManifestStore(tmp_path / "precise"), said.append, **kwargs)
    return store, said


def test_published_manifests_come_back_from_the_server_and_stay_on_disk(tmp_path):
    server = FakeServer()
    store, said = make_store(tmp_path, server, provenance=Provenance(branch="main"))
    store.put_many({key(1): manifest(1), key(2): manifest(2)})
    assert store.get_many([key(1), key(2), key(3)]) == {key(1): manifest(1), key(2): manifest(2)}
    assert LocalManifestStore(tmp_path / "precise").get_many([key(1), key(2)]) == {
        key(1): manifest(1),
        key(2): manifest(2),
    }
    (path, body) = server.requests[0]
    assert path == PUBLISH_PATH and body["provenance"] == {"branch": "main"}
    assert said == []


def test_the_server_answer_is_the_truth_even_when_a_local_copy_exists(tmp_path):
    LocalManifestStore(tmp_path / "precise").put(key(1), manifest(1))
    store, said = make_store(tmp_path, FakeServer())
    # Purged on the server (or never shared): the stale local copy must not come back.
    assert store.get_many([key(1)]) == {}
    assert said == []


def test_queries_are_batched_and_publishes_split_by_size(tmp_path):
    server = FakeServer()
    size = len(json.dumps(manifest(1).to_json()))
    store, _ = make_store(tmp_path, server, query_batch=2, publish_bytes=2 * size + 200)
    store.put_many({key(n): manifest(n) for n in range(5)})
    assert store.get_many([key(n) for n in range(5)]) == {key(n): manifest(n) for n in range(5)}
    publishes = [len(b["manifests"]) for p, b in server.requests if p == PUBLISH_PATH]
    queries = [len(b["keys"]) for p, b in server.requests if p == QUERY_PATH]
    assert publishes == [2, 2, 1]
    assert queries == [2, 2, 1]


def test_a_manifest_larger_than_any_request_stays_local_only(tmp_path):
    server = FakeServer()
    store, said = make_store(tmp_path, server, publish_bytes=100)
    store.put_many({key(1): manifest(1)})
    assert server.requests == []
    assert LocalManifestStore(tmp_path / "precise").get(key(1)) == manifest(1)
    assert said == []


@pytest.mark.parametrize(
    "status, why",
    [
        (404, "does not offer precise manifests (HTTP 404"),
        (503, "HTTP 503 from /api/v2/manifests/query"),
        (401, "rejected the token"),
    ],
)
def test_a_server_that_cannot_answer_means_local_manifests_said_once(tmp_path, status, why):
    LocalManifestStore(tmp_path / "precise").put(key(1), manifest(1))
    server = FakeServer(status)
    store, said = make_store(tmp_path, server)
    assert store.get_many([key(1), key(2)]) == {key(1): manifest(1)}
    assert store.get_many([key(1)]) == {key(1): manifest(1)}
    store.put_many({key(2): manifest(2)})
    assert len(said) == 1, said
    assert (
        said[0].startswith("dryci: precise mode uses the local manifests for this run: ") and why in said[0]
    )
    # After the fallback the server is not asked again this run; the local copy is still written.
    assert {path for path, _ in server.requests} == {QUERY_PATH}
    assert LocalManifestStore(tmp_path / "precise").get(key(2)) == manifest(2)


def test_manifests_the_server_could_not_fit_in_one_answer_are_asked_for_again(tmp_path):
    server = FakeServer()
    store, said = make_store(tmp_path, server)
    store.put_many({key(n): manifest(n) for n in range(3)})
    real = server.__call__

    def one_per_answer(request: httpx.Request) -> httpx.Response:
        answer = real(request)
        if request.url.path != QUERY_PATH:
            return answer
        found = json.loads(answer.content)["manifests"]
        first = sorted(found)[:1]
        return httpx.Response(
            200, json={"manifests": {k: found[k] for k in first}, "more": sorted(found)[1:]}
        )

    store.remote._client._transport = httpx.MockTransport(one_per_answer)  # type: ignore[attr-defined]
    assert store.get_many([key(n) for n in range(4)]) == {key(n): manifest(n) for n in range(3)}
    assert [len(b["keys"]) for p, b in server.requests if p == QUERY_PATH] == [4, 2, 1]
    assert said == []


def test_an_answer_to_another_question_is_refused(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"manifests": {key(9): manifest(9).to_json()}})

    store, said = make_store(tmp_path, handler)
    assert store.get_many([key(1)]) == {}
    assert len(said) == 1 and "invalid answer to /api/v2/manifests/query" in said[0]


def test_one_invalid_manifest_in_an_answer_reads_as_absent(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        good = manifest(1).to_json()
        return httpx.Response(200, json={"manifests": {key(1): good, key(2): {**good, "salt": "x"}}})

    store, said = make_store(tmp_path, handler)
    assert store.get_many([key(1), key(2)]) == {key(1): manifest(1)}
    assert said == []


def test_a_failed_publish_is_said_once_and_keeps_the_local_copy(tmp_path):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(403, json={"detail": "read-only token"})

    store, said = make_store(tmp_path, handler)
    store.put_many({key(1): manifest(1)})
    store.put_many({key(2): manifest(2)})
    assert calls == [PUBLISH_PATH]
    assert len(said) == 1 and said[0].startswith(
        "dryci: could not share the precise manifests on the server: "
    )
    assert LocalManifestStore(tmp_path / "precise").get_many([key(1), key(2)]).keys() == {key(1), key(2)}


def test_an_unwritable_local_directory_still_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    remote = RemoteStore("http://cache.test", transport=httpx.MockTransport(FakeServer()), timeout=2.0)
    store = RemoteManifestStore(remote, LocalManifestStore(blocker / "precise"), print)
    with pytest.raises(StoreUnavailable, match="cannot write precise manifest"):
        store.put_many({key(1): manifest(1)})
