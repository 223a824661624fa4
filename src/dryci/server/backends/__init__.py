"""Storage backends of the server, chosen by database URL."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from dryci.exceptions import ConfigError
from dryci.server.backends.base import Backend


def sqlite_path(url: str) -> str | None:
    """``sqlite:///relative/path`` or ``sqlite:////absolute/path`` -> the file path; None if not SQLite."""
    if not url.startswith("sqlite:"):
        return None
    if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
        raise ConfigError("expected sqlite:///path/to/file.db (three slashes, then the path)", key="--db")
    return unquote(url[len("sqlite:///") :])


def open_backend(url: str) -> Backend:
    """Open (and migrate) the database at ``url``; ConfigError names a URL this server cannot use."""
    path = sqlite_path(url)
    if path is not None:
        from dryci.server.backends.sqlite import SqliteBackend

        return SqliteBackend(path)
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        from dryci.server.backends.postgres import PostgresBackend

        return PostgresBackend(url)
    raise ConfigError(
        f"unsupported database URL {url.split('://')[0] + '://...'!r}; "
        "expected sqlite:///path/to/dryci.db or postgresql://user@host/dbname",
        key="--db",
    )
