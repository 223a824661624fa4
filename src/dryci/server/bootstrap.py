"""First start: a fresh database gets a ``default`` project and an admin token, shown once."""

from __future__ import annotations

import time

from dryci.server.auth import new_token
from dryci.server.backends.base import Backend

DEFAULT_PROJECT = "default"
ADMIN_USER = "admin"


def first_admin_token(backend: Backend) -> str | None:
    """Create the first admin token if the database has no token at all; returns it (or None)."""
    if backend.has_any_token():
        return None
    now = time.time()
    if not any(p.name == DEFAULT_PROJECT for p in backend.list_projects()):
        backend.create_project(DEFAULT_PROJECT, None, now)
    token_id, token, token_hash = new_token()
    backend.create_token(DEFAULT_PROJECT, ADMIN_USER, token_id, token_hash, "admin", "", None, now)
    return token
