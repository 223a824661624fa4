"""Dashboard sessions: a random id in the cookie, only its SHA-256 in the database, and an expiry.

The cookie never holds the bearer token, so a stolen cookie is worth one session, which logout,
expiry or revoking the token ends. Every page view checks the session and then its token again:
revoking a token (or its user or project) ends its sessions at once.
"""

from __future__ import annotations

import hashlib
import secrets

from starlette.requests import Request
from starlette.responses import Response

from dryci.server.auth import usable
from dryci.server.backends.base import Backend, Principal
from dryci.server.errors import AuthError

COOKIE = "dryci_session"


def hash_session(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def open_session(backend: Backend, principal: Principal, now: float, lifetime: float) -> tuple[str, float]:
    """A new session for an authenticated token: (the cookie value, seconds it lasts)."""
    row = backend.lookup_token(principal.token_id)
    ends = now + lifetime
    if row is not None and row.expires_at is not None:
        ends = min(ends, row.expires_at)  # a session never outlives its token
    session_id = secrets.token_urlsafe(32)
    backend.create_session(hash_session(session_id), principal.token_id, now, ends)
    return session_id, ends - now


def session_principal(backend: Backend, session_id: str, now: float) -> Principal:
    """Who the session is; AuthError when it is unknown, ended or expired, or its token is not usable."""
    id_hash = hash_session(session_id)
    session = backend.lookup_session(id_hash)
    if session is None:
        raise AuthError("session ended")
    if session.expires_at <= now:
        backend.end_session(id_hash)
        raise AuthError("session expired")
    row = backend.lookup_token(session.token_id)
    if row is None:
        raise AuthError("session ended")
    return usable(row, now)


def is_https(request: Request) -> bool:
    # uvicorn rewrites the scheme from X-Forwarded-Proto only for the addresses given to
    # --trusted-proxy (see cli.py); otherwise a client could claim HTTPS for itself.
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, session_id: str, max_age: float) -> None:
    # Lax, not Strict: a link to the dashboard from elsewhere opens it logged in, while a POST
    # (login, logout) from another site carries no cookie.
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=max(1, int(max_age)),
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="lax", secure=is_https(request))
