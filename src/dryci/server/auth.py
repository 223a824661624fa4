"""Bearer tokens: ``dryci_<id>_<secret>``, stored only as a SHA-256 hash, compared in constant time.

The id part lets the server find the row without searching by secret; the secret never leaves the
token holder, and the database holds only its hash. Nothing here logs a token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from dryci.server.backends.base import Backend, Principal, TokenRow
from dryci.server.errors import ApiError, AuthError

PREFIX = "dryci_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> tuple[str, str, str]:
    """A fresh (token id, token, hash of token)."""
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_hex(24)}"
    return token_id, token, hash_token(token)


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization`` header; None without one; AuthError if it is not a DryCI bearer."""
    if header is None or not header.strip():
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("expected an Authorization header of the form 'Bearer dryci_...'")
    return token


def token_id_of(token: str) -> str:
    if not token.startswith(PREFIX) or token.count("_") != 2:
        raise AuthError("unknown token (DryCI tokens look like dryci_<id>_<secret>)")
    return token.split("_")[1]


def check_row(row: TokenRow | None, token: str, now: float) -> Principal:
    """Pure decision: does ``token`` match ``row`` and may it be used at ``now``?"""
    if row is None or not hmac.compare_digest(row.token_hash, hash_token(token)):
        raise AuthError("unknown token")
    return usable(row, now)


def usable(row: TokenRow, now: float) -> Principal:
    """Pure decision: may the token of ``row`` (already proven, or behind a session) be used at ``now``?"""
    if row.revoked_at is not None and row.revoked_at <= now:
        raise AuthError("token revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise AuthError("token expired")
    return Principal(
        token_id=row.id,
        project_id=row.project_id,
        project=row.project,
        user=row.user,
        scope=row.scope,
        namespace=row.namespace,
    )


def authenticate(backend: Backend, token: str | None, now: float) -> Principal:
    if token is None:
        raise AuthError("missing Authorization: Bearer token")
    return check_row(backend.lookup_token(token_id_of(token)), token, now)


def require_write(principal: Principal) -> None:
    if not principal.can_write:
        raise ApiError(403, f"token scope {principal.scope!r} cannot publish; a 'write' token is needed")
