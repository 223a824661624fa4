"""Small builders for request bodies in the server tests."""

from __future__ import annotations

import hashlib


def key(n: object) -> str:
    return hashlib.sha256(f"key-{n}".encode()).hexdigest()


def tid(n: object) -> str:
    return hashlib.sha256(f"id-{n}".encode()).hexdigest()[:32]
