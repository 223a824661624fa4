"""Precise manifests on the shared DryCI server, with the local copy as the fallback.

The HTTP work goes through the ``RemoteStore`` of the ``--dryci`` session (``post_each``): one client,
one timeout budget per call, the same retries, answer byte cap, circuit breaker and TLS settings as the
results. Whatever goes wrong with the server (unreachable, 5xx, timeout, 401/403, or 404 from a server
older than the manifest endpoints) makes this run use the local manifests, said once; a run never fails
or waits longer than DRYCI_TIMEOUT for it. Every manifest saved is also written locally, so a later
offline run still has it.

When the server answers, its answer is the truth: a key it does not know has no manifest, even if an
older local copy exists, so that a manifest an administrator purged does not come back from a cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Callable, NoReturn, Optional, Protocol

from dryci.exceptions import ProtocolError, StoreUnavailable
from dryci.precise.manifest import PreciseManifest, decode_manifest
from dryci.precise.store import ManifestStore
from dryci.protocol import MAX_BODY_BYTES, MAX_KEYS_PER_REQUEST, Provenance

__all__ = ["RemoteManifestStore"]

QUERY_PATH = "/api/v2/manifests/query"
PUBLISH_PATH = "/api/v2/manifests/publish"
# Manifests are far larger than result entries: small query batches keep each answer well under the
# byte cap both sides enforce (the server leaves out what would not fit; those tests simply run).
QUERY_BATCH = 64
PUBLISH_BYTES = MAX_BODY_BYTES * 3 // 4


class Poster(Protocol):
    """What this store needs of ``dryci.store.remote.RemoteStore``."""

    server: str

    def calls(self) -> AbstractContextManager[Callable[[str, object], Optional[object]]]: ...

    def post_each(self, path: str, payloads: Iterable[object]) -> Optional[list[object]]: ...


class RemoteManifestStore:
    """``ManifestStore`` of a DryCI server; see the module docstring."""

    def __init__(
        self,
        remote: Poster,
        local: ManifestStore,
        notify: Callable[[str], None],
        provenance: Provenance = Provenance(),  # noqa: B008 (frozen, so one shared default is safe)
        *,
        query_batch: int = QUERY_BATCH,
        publish_bytes: int = PUBLISH_BYTES,
    ) -> None:
        self.remote = remote
        self.local = local
        self.notify = notify
        self.provenance = provenance
        self.query_batch = query_batch
        self.publish_bytes = publish_bytes
        self.unavailable: Optional[str] = None  # why this run uses only the local manifests

    # -- ManifestStore ---------------------------------------------------------------------

    def get(self, key: str) -> Optional[PreciseManifest]:
        return self.get_many([key]).get(key)

    def put(self, key: str, manifest: PreciseManifest) -> None:
        self.put_many({key: manifest})

    def get_many(self, keys: Iterable[str]) -> dict[str, PreciseManifest]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        if self.unavailable is None:
            try:
                return self._query(wanted)
            except StoreUnavailable as exc:
                self._fall_back(exc.reason)
        return self.local.get_many(wanted)

    def put_many(self, manifests: Mapping[str, PreciseManifest]) -> None:
        self.local.put_many(manifests)  # first: the local copy must not depend on the server
        if self.unavailable is not None or not manifests:
            return
        try:
            if self.remote.post_each(PUBLISH_PATH, self._publish_bodies(manifests)) is None:
                self._too_old()
        except StoreUnavailable as exc:
            self.unavailable = exc.reason
            self.notify(f"dryci: could not share the precise manifests on the server: {exc.reason}")

    # -- protocol --------------------------------------------------------------------------

    def _query(self, keys: list[str]) -> dict[str, PreciseManifest]:
        todo = [keys[i : i + self.query_batch] for i in range(0, len(keys), self.query_batch)]
        found: dict[str, PreciseManifest] = {}
        with self.remote.calls() as call:
            while todo:
                batch = todo.pop(0)
                answer = call(QUERY_PATH, {"keys": batch})
                if answer is None:
                    self._too_old()
                manifests, more = self._answer(answer, batch)
                for key, raw in manifests.items():
                    try:
                        found[key] = decode_manifest(raw)
                    except ProtocolError:
                        continue  # this one manifest is unusable: its tests run, which publishes it again
                if more and manifests:  # what did not fit under the answer size cap: ask again
                    todo.append(more)
        return found

    def _answer(self, answer: object, batch: list[str]) -> tuple[dict[str, Any], list[str]]:
        manifests = answer.get("manifests") if isinstance(answer, dict) else None
        more = answer.get("more", []) if isinstance(answer, dict) else None
        if (
            not isinstance(manifests, dict)
            or not isinstance(more, list)
            or not set(manifests) | set(more) <= set(batch)
            or set(manifests) & set(more)
        ):
            raise StoreUnavailable(
                f"{self.remote.server} sent an invalid answer to {QUERY_PATH}: "
                "expected an object mapping the keys asked for to manifests"
            )
        return manifests, more

    def _too_old(self) -> NoReturn:
        raise StoreUnavailable(
            f"{self.remote.server} does not offer precise manifests (HTTP 404 from {QUERY_PATH}: "
            "a server older than this client)"
        )

    def _publish_bodies(self, manifests: Mapping[str, PreciseManifest]) -> Iterator[bytes]:
        """JSON bodies of at most ``publish_bytes`` and MAX_KEYS_PER_REQUEST manifests, each encoded once."""
        prov = self.provenance.to_json()
        tail = (',"provenance":' + json.dumps(prov) if prov else "") + "}"
        parts: list[str] = []
        size = 0
        for key, manifest in sorted(manifests.items()):
            part = f'"{key}":' + json.dumps(manifest.to_json(), separators=(",", ":"))
            if len(part) + 20 + len(tail) > self.publish_bytes:
                continue  # larger than any request may be: it stays local only
            if parts and (
                size + len(part) + 20 + len(tail) > self.publish_bytes or len(parts) >= MAX_KEYS_PER_REQUEST
            ):
                yield ('{"manifests":{' + ",".join(parts) + "}" + tail).encode()
                parts, size = [], 0
            parts.append(part)
            size += len(part) + 1
        if parts:
            yield ('{"manifests":{' + ",".join(parts) + "}" + tail).encode()

    def _fall_back(self, reason: str) -> None:
        self.unavailable = reason
        self.notify(f"dryci: precise mode uses the local manifests for this run: {reason}")
