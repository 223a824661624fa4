"""The remote result store: an HTTP client of a DryCI server (wire protocol v2, falling back to v1).

All network code of the plugin lives here, and every way it can fail (DNS, TLS, refused or reset
connections, timeouts, 401/403, 429, 5xx, bodies that are not JSON, that answer other questions
than the one asked, that are huge or that trickle in forever) becomes ``StoreUnavailable``.

Time is bounded per operation: one ``query``, ``publish`` or record call (all its batches, retries
and backoff together) never takes much longer than ``timeout`` seconds. After repeated failures the
circuit breaker opens and the store answers ``StoreUnavailable`` at once for the rest of the session;
it opens at once when a call spent its whole budget waiting (a server that accepts and never answers
costs one timeout per run, not one per call) or when the server cannot be reached at all (a refused
connection is not retried).

A 429 (rate limited) is an answer, not a failure: the store waits the ``Retry-After`` the server
asks for and tries once more if that fits in what is left of the call's budget. When it does not
fit, the call fails at once and later calls do not ask before that time has passed (a publish at the
end of the run usually can); when the server says 429 again after the wait, the breaker opens.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from dryci.exceptions import ConfigError, ProtocolError, StoreUnavailable
from dryci.protocol import (
    MAX_BODY_BYTES,
    FileEntry,
    Provenance,
    PublishStats,
    decode_v1_query_response,
    decode_v2_query_response,
)
from dryci.protocol.exchange import decode_records_answer, publish_bodies
from dryci.protocol.usage import RunUsage

__all__ = ["RemoteStore", "check_server_url"]

RETRY_STATUSES = frozenset({408, 425, 500, 502, 503, 504})
FIRST_BACKOFF = 0.1
_NOT_FOUND = object()


def check_server_url(url: str) -> str:
    """The server URL without a trailing slash; ``ConfigError`` (key DRYCI_SERVER) if it is not one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"expected an http:// or https:// URL, got {url!r}", key="DRYCI_SERVER")
    return url.strip().rstrip("/")


def _verify_setting() -> bool | ssl.SSLContext:
    """httpx reads SSL_CERT_FILE/SSL_CERT_DIR itself; also honor the bundles requests and curl users set."""
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return True
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        bundle = os.environ.get(name)
        if bundle and os.path.isfile(bundle):
            return ssl.create_default_context(cafile=bundle)
    return True


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()


class _Retry(Exception):
    def __init__(self, reason: str, wait: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class _RateLimited(Exception):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__("HTTP 429")
        self.retry_after = retry_after  # None: the server did not say


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _retry_after(value: str | None) -> float:
    seconds = _seconds(value)
    return 0.0 if seconds is None else seconds


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date or garbage: fall back to our own backoff


class RemoteStore:
    """``Store`` of a DryCI server (results and function-level records); see the module docstring."""

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        timeout: float = 3.0,
        transport: httpx.BaseTransport | None = None,
        max_response_bytes: int = MAX_BODY_BYTES,
        query_batch: int = 1000,
        publish_batch_ids: int = 50_000,
        breaker_threshold: int = 3,
    ) -> None:
        from dryci import __version__

        self.server = check_server_url(server)
        self.timeout = timeout
        self._max_bytes = max_response_bytes
        self._query_batch = query_batch
        self._publish_batch_ids = publish_batch_ids
        self._breaker_threshold = breaker_threshold
        self._failures = 0
        self._open_reason: str | None = None
        self._quiet_until = 0.0  # monotonic time before which a 429 asked us not to come back
        self._v1 = False
        headers = {"User-Agent": f"pytest-dryci/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # trust_env: the system proxy variables (HTTP(S)_PROXY, NO_PROXY) and CA bundle apply.
        self._client = httpx.Client(
            headers=headers,
            transport=transport,
            trust_env=True,
            verify=_verify_setting(),
            follow_redirects=False,
        )

    @property
    def uses_v1(self) -> bool:
        return self._v1

    @property
    def breaker_open(self) -> bool:
        """True while every call fails at once: for the session once the server failed repeatedly,
        and for as long as a 429 asked to wait longer than a call's budget."""
        resting = self._quiet_until - time.monotonic() >= self.timeout
        return self._failures >= self._breaker_threshold or resting

    # -- ResultStore -------------------------------------------------------------------------

    def query(self, keys: Sequence[str]) -> list[FileEntry]:
        deadline = _Deadline(self.timeout)
        found: list[FileEntry] = []
        for batch in _batches(list(keys), self._query_batch):
            found.extend(self._query_one(list(batch), deadline))
        return found

    def publish(
        self,
        entries: Mapping[str, FileEntry],
        provenance: Provenance,
        stats: PublishStats,
    ) -> None:
        deadline = _Deadline(self.timeout)
        for number, batch in enumerate(self._publish_batches(entries)):
            # Stats describe the whole run: send them once, with the first batch.
            self._publish_one(batch, provenance, stats if number == 0 else None, deadline)

    def report_run(self, usage: RunUsage) -> bool | None:
        """POST /api/v2/runs (any token may). None from a server from before it, or when it fails
        past its breaker (already said once: nothing is waited for again)."""
        if self.breaker_open or self._v1:
            return None
        body = self._post("/api/v2/runs", usage.to_json(), _Deadline(self.timeout), fallback_on_404=True)
        if body is _NOT_FOUND:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("may_publish"), bool):
            raise StoreUnavailable(f"{self.server} sent an invalid answer to its run's report")
        return bool(body["may_publish"])

    # -- RecordStore ---------------------------------------------------------------------------

    def records(self, keys: Sequence[str]) -> dict[str, bytes]:
        return self._fetch("records", list(keys))

    def snapshots(self, ids: Sequence[bytes]) -> dict[bytes, bytes]:
        return {bytes.fromhex(k): v for k, v in self._fetch("snapshots", [i.hex() for i in ids]).items()}

    def facts(self, ids: Sequence[bytes]) -> dict[bytes, bytes]:
        return {bytes.fromhex(k): v for k, v in self._fetch("facts", [i.hex() for i in ids]).items()}

    def save_records(
        self,
        records: Mapping[str, bytes],
        snapshots: Mapping[bytes, bytes],
        facts: Mapping[bytes, bytes],
    ) -> None:
        """Publish records, snapshots and facts in bodies under the server's limit, in one budget.

        A record too large for the server to keep (see ``MAX_OBJECT_BYTES``) is simply not shared.
        """
        deadline = _Deadline(self.timeout)
        objects: dict[str, Mapping[Any, bytes]] = {"records": records, "snapshots": snapshots, "facts": facts}
        for body in publish_bodies(objects, Provenance()):
            if self._post("/api/v2/records/publish", body, deadline, fallback_on_404=True) is _NOT_FOUND:
                raise StoreUnavailable(f"{self.server} keeps no function-level records (upgrade the server)")

    def _fetch(self, kind: str, names: list[str]) -> dict[str, bytes]:
        """Objects of one kind, asked in batches and again for what an answer left out for its size."""
        deadline = _Deadline(self.timeout)
        found: dict[str, bytes] = {}
        for batch in _batches(names, self._query_batch):
            asked = list(batch)
            while asked:
                body = self._post("/api/v2/records/query", {kind: asked}, deadline, fallback_on_404=True)
                if body is _NOT_FOUND:
                    return {}  # a server from before records has none: every test file runs as recorded
                try:
                    answer = decode_records_answer(body, kind, asked)
                except ProtocolError as exc:
                    self._give_up()
                    raise StoreUnavailable(f"{self.server} sent an invalid answer: {exc}") from None
                if answer.more and not answer.found:
                    self._give_up("records answer without progress")
                    raise StoreUnavailable(f"{self.server} left out every {kind} object it was asked for")
                found.update(answer.found)
                asked = list(answer.more)
        return found

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- protocol ------------------------------------------------------------------------------

    def _query_one(self, keys: list[str], deadline: _Deadline) -> list[FileEntry]:
        if not self._v1:
            body = self._post("/api/v2/query", {"keys": keys}, deadline, fallback_on_404=True)
            if body is not _NOT_FOUND:
                return self._decode(decode_v2_query_response, body, keys)
            self._v1 = True
        body = self._post("/api/v1/query-passed", {"test_file_hashes": keys}, deadline)
        return self._decode(decode_v1_query_response, body, keys)

    def _publish_one(
        self,
        entries: Mapping[str, FileEntry],
        provenance: Provenance,
        stats: PublishStats | None,
        deadline: _Deadline,
    ) -> None:
        if not self._v1:
            payload: dict[str, Any] = {"entries": {key: e.to_json() for key, e in entries.items()}}
            if provenance.to_json():
                payload["provenance"] = provenance.to_json()
            if stats is not None:
                payload["stats"] = stats.to_json()
            if self._post("/api/v2/publish", payload, deadline, fallback_on_404=True) is not _NOT_FOUND:
                return
            self._v1 = True
        v1: dict[str, Any] = {
            "passed_node_ids_per_test_file": {key: sorted(e.tests) for key, e in entries.items()}
        }
        if stats is not None:
            v1.update(stats.to_v1_counts())
        self._post("/api/v1/publish", v1, deadline)

    def _publish_batches(self, entries: Mapping[str, FileEntry]) -> Iterator[dict[str, FileEntry]]:
        batch: dict[str, FileEntry] = {}
        ids = 0
        for key, entry in entries.items():
            if batch and (
                ids + len(entry.tests) > self._publish_batch_ids or len(batch) >= self._query_batch
            ):
                yield batch
                batch, ids = {}, 0
            batch[key] = entry
            ids += len(entry.tests)
        if batch:
            yield batch

    def _decode(self, decoder: Any, body: object, keys: list[str]) -> list[FileEntry]:
        try:
            entries: list[FileEntry] = decoder(body, keys)
        except ProtocolError as exc:
            self._give_up()
            raise StoreUnavailable(f"{self.server} sent an invalid answer: {exc}") from None
        return entries

    # -- transport -----------------------------------------------------------------------------

    def _give_up(self, reason: str | None = None) -> None:
        """Open the breaker: the server is broken in a way retrying will not fix."""
        self._failures = self._breaker_threshold
        self._open_reason = reason or self._open_reason

    def _post(
        self, path: str, payload: object, deadline: _Deadline, *, fallback_on_404: bool = False
    ) -> object:
        content = json.dumps(payload, separators=(",", ":")).encode()
        attempt = 0
        limited = False
        while True:
            if self._failures >= self._breaker_threshold:
                raise StoreUnavailable(
                    f"{self.server} failed; not asking it again this session"
                    + (f" (last error: {self._open_reason})" if self._open_reason else "")
                )
            quiet = self._quiet_until - time.monotonic()
            if quiet >= deadline.remaining():
                raise StoreUnavailable(
                    f"{self.server}: rate limited (HTTP 429); not asking again for the {quiet:.1f} s "
                    "the server asked to wait"
                )
            if quiet > 0:
                time.sleep(quiet)  # the rest of an earlier Retry-After fits in this call's budget
            attempt += 1
            remaining = deadline.remaining()
            if remaining <= 0:
                raise StoreUnavailable(f"{self.server} did not answer within {deadline.seconds:g} s")
            try:
                result = self._attempt(path, content, deadline, fallback_on_404)
            except _RateLimited as answer:
                wait = max(answer.retry_after or 0.0, FIRST_BACKOFF)
                left = deadline.remaining()
                if not limited and wait < left:
                    limited = True  # wait as asked, then once more: the budget holds both
                    time.sleep(wait)
                    continue
                reason = self._limited_reason(answer.retry_after, left, deadline, limited)
                if limited:
                    self._give_up(reason)  # still limited after waiting as asked: overloaded, let it be
                else:
                    self._quiet_until = time.monotonic() + wait  # later calls may fit after that
                raise StoreUnavailable(reason) from None
            except _Retry as retry:
                self._failures += 1
                self._open_reason = retry.reason
                wait = max(retry.wait, FIRST_BACKOFF * 2 ** (attempt - 1))
                if wait >= deadline.remaining() or self._failures >= self._breaker_threshold:
                    raise StoreUnavailable(
                        f"{self.server}: {retry.reason} (gave up after {attempt} attempt"
                        f"{'s' if attempt > 1 else ''})"
                    ) from None
                time.sleep(wait)
                continue
            self._failures = 0
            return result

    def _limited_reason(
        self, retry_after: float | None, left: float, deadline: _Deadline, again: bool
    ) -> str:
        if again:
            return f"{self.server}: rate limited (HTTP 429) again after waiting as the server asked"
        asked = "without Retry-After" if retry_after is None else f"Retry-After {retry_after:g} s"
        return (
            f"{self.server}: rate limited (HTTP 429, {asked}), longer than the {max(left, 0.0):.1f} s "
            f"left of the {deadline.seconds:g} s budget (DRYCI_TIMEOUT)"
        )

    def _attempt(self, path: str, content: bytes, deadline: _Deadline, fallback_on_404: bool) -> object:
        url = self.server + path
        try:
            with self._client.stream(
                "POST",
                url,
                content=content,
                headers={"Content-Type": "application/json"},
                timeout=httpx.Timeout(max(deadline.remaining(), 0.001)),
            ) as response:
                status = response.status_code
                if status == 404 and fallback_on_404:
                    return _NOT_FOUND
                if status == 429:
                    raise _RateLimited(_seconds(response.headers.get("Retry-After")))
                if status in RETRY_STATUSES:
                    raise _Retry(
                        f"HTTP {status} from {path}", _retry_after(response.headers.get("Retry-After"))
                    )
                if status in (401, 403):
                    reason = f"HTTP {status}: the server rejected the token (check DRYCI_TOKEN)"
                    self._give_up(reason)
                    raise StoreUnavailable(f"{self.server}: {reason}")
                if status >= 300:
                    reason = f"HTTP {status} from {path}"
                    self._give_up(reason)
                    raise StoreUnavailable(f"{self.server}: {reason}")
                data = self._read(response, deadline)
        except httpx.TimeoutException:
            # The attempt had the whole remaining budget: asking again (now, or for the publish after
            # this query) would only wait as long once more. One timeout per run at most.
            reason = f"no answer within {deadline.seconds:g} s"
            self._give_up(reason)
            raise StoreUnavailable(f"{self.server}: {reason}") from None
        except httpx.ConnectError as exc:
            # Refused (nothing listens), or no such host: retrying within seconds changes neither.
            reason = f"cannot reach the server ({type(exc).__name__}: {exc})"
            self._give_up(reason)
            raise StoreUnavailable(f"{self.server}: {reason}") from None
        except httpx.TransportError as exc:
            raise _Retry(f"cannot reach the server ({type(exc).__name__}: {exc})") from None
        try:
            return json.loads(data)
        except ValueError:
            self._give_up("not JSON")
            raise StoreUnavailable(f"{self.server}: the answer to {path} is not valid JSON") from None

    def _read(self, response: httpx.Response, deadline: _Deadline) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            self._give_up("answer too large")
            raise StoreUnavailable(f"{self.server}: answer larger than {self._max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                self._give_up("answer too large")
                raise StoreUnavailable(f"{self.server}: answer larger than {self._max_bytes} bytes")
            chunks.append(chunk)
            # Each read is bounded by the timeout, but a body that trickles in must stop too.
            if deadline.remaining() <= 0:
                reason = f"answer not complete within {deadline.seconds:g} s"
                self._give_up(reason)
                raise StoreUnavailable(f"{self.server}: {reason}")
        return b"".join(chunks)
