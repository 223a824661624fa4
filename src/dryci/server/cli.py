"""``dryci server``: run the shared cache server (uvicorn, one or more worker processes)."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dryci.exceptions import ConfigError
from dryci.server.config import DEFAULT_DB, DEFAULT_LISTEN, SETTINGS_ENV, Settings, parse_listen

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client (see metrics.py)


@dataclass(frozen=True)
class Number:
    """A numeric flag: named after the Settings field it sets, which also gives its default."""

    field: str
    kind: type[int] | type[float]
    least: float
    help: str
    strictly: bool = False  # the value must be above ``least``, not merely reach it

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")

    def value(self, args: argparse.Namespace) -> float:
        """The parsed value, or ConfigError naming the flag when it is out of range."""
        value: float = getattr(args, self.field)
        if not math.isfinite(value):
            raise ConfigError(f"expected a finite number, got {value}", key=self.flag)
        if value < self.least or (self.strictly and value == self.least):
            wanted = "a positive number" if self.strictly and self.least == 0 else f"at least {self.least:g}"
            raise ConfigError(f"expected {wanted}, got {value:g}", key=self.flag)
        return value


NUMBERS = (
    Number("workers", int, 1, "worker processes"),
    Number("rate_limit", float, 0, "requests per second per token, 0 for none"),
    Number("rate_burst", int, 1, "burst allowance per token; the default lets 200 CI shards start at once"),
    Number("auth_rate_limit", float, 0, "failed authentications per second per client address, 0 for none"),
    Number("auth_rate_burst", int, 1, "burst allowance of failed authentications per client address"),
    Number("max_connections", int, 1, "connections served at once; beyond, requests get 503"),
    Number("header_timeout", float, 0, "seconds a request may take to send its headers", strictly=True),
    Number("retention_days", float, 0, "evict entries not read for this many days", strictly=True),
    Number("session_hours", float, 0, "a dashboard login lasts this many hours at most", strictly=True),
)


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Run the DryCI shared test-result cache server.")
    parser.add_argument(
        "--db",
        default=os.environ.get("DRYCI_DB", DEFAULT_DB),
        help="sqlite:///path.db or postgresql://user@host/dbname (env DRYCI_DB; default %(default)s)",
    )
    parser.add_argument(
        "--listen",
        default=os.environ.get("DRYCI_LISTEN", DEFAULT_LISTEN),
        help="HOST:PORT to listen on (env DRYCI_LISTEN; default %(default)s)",
    )
    for number in NUMBERS:
        parser.add_argument(
            number.flag,
            type=number.kind,
            default=getattr(Settings, number.field),
            help=f"{number.help} (default %(default)s)",
        )
    parser.add_argument(
        "--max-entries",
        type=int,
        default=None,
        help="default cap on cached keys per project (a project's own cap wins)",
    )
    parser.add_argument("--dashboard-public", action="store_true", help="show the dashboard without login")
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="believe X-Forwarded-Proto/-For from this proxy address or network (repeatable; "
        "default: from none)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request line (never headers)")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    host, port = parse_listen(args.listen)
    # Each value has its field's type: argparse converted it with ``kind``.
    numbers: dict[str, Any] = {number.field: number.value(args) for number in NUMBERS}
    if args.max_entries is not None and args.max_entries < 1:
        raise ConfigError(f"expected at least 1, got {args.max_entries}", key="--max-entries")
    return Settings(
        db=args.db,
        host=host,
        port=port,
        max_entries=args.max_entries,
        dashboard_public=args.dashboard_public,
        trusted_proxies=",".join(a.strip() for a in args.trusted_proxy if a.strip()),
        **numbers,
    )


def main(argv: list[str], prog: str = "dryci server") -> int:
    args = build_parser(prog).parse_args(argv)
    settings = settings_from(args)
    if settings.workers > 1:
        given_metrics_directory()  # refuse a bad one before the database is touched

    import uvicorn

    from dryci.server.backends import open_backend
    from dryci.server.bootstrap import first_admin_token

    backend = open_backend(settings.db)  # migrates, or refuses a newer schema, before anything listens
    token = first_admin_token(backend)
    if token is not None:
        print(f"{prog}: fresh database; the first admin token (shown only once):\n{token}", flush=True)
    log_level = "info"
    # Connection limits (see transport.py): headers within header_timeout, idle keep-alive 5 s, and
    # at most max_connections served at once (per worker process).
    limits: dict[str, Any] = {
        "http": "dryci.server.transport:GuardedHttpToolsProtocol",
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": 5,
        # Forwarded headers only from the proxies named: uvicorn's default trusts loopback.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
    }
    if settings.workers == 1:
        from dryci.server.app import create_app
        from dryci.server.transport import GuardedHttpToolsProtocol

        GuardedHttpToolsProtocol.header_timeout = settings.header_timeout
        uvicorn.run(
            create_app(backend, settings),
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            access_log=args.access_log,
            server_header=False,
            **limits,
        )
        return 0
    backend.close()
    os.environ[SETTINGS_ENV] = settings.to_env()
    with metrics_directory():
        uvicorn.run(
            "dryci.server.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=log_level,
            access_log=args.access_log,
            server_header=False,
            **limits,
        )
    return 0


def given_metrics_directory() -> str | None:
    """The ``PROMETHEUS_MULTIPROC_DIR`` the environment names, checked: a directory with no metric files.

    Files left by an earlier server would carry its totals on into this one's.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if not given:
        return None
    if not os.path.isdir(given):
        raise ConfigError(f"{given} is not a directory", key=MULTIPROC_ENV)
    if any(name.endswith(".db") for name in os.listdir(given)):
        raise ConfigError(f"holds metric files of an earlier run: empty {given}", key=MULTIPROC_ENV)
    return given


@contextmanager
def metrics_directory() -> Iterator[str]:
    """The directory the workers share their metrics in: the one given, else a fresh temporary one."""
    given = given_metrics_directory()
    if given is not None:
        yield given
        return
    directory = tempfile.mkdtemp(prefix="dryci-metrics-")
    os.environ[MULTIPROC_ENV] = directory  # before any worker imports prometheus_client
    try:
        yield directory
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
