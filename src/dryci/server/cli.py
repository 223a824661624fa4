"""``dryci server``: run the shared cache server (uvicorn, one or more worker processes)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from dryci.exceptions import ConfigError
from dryci.server.config import DEFAULT_DB, DEFAULT_LISTEN, SETTINGS_ENV, Settings, parse_listen


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
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=Settings.rate_limit,
        help="requests per second per token, 0 for none (default %(default)s)",
    )
    parser.add_argument(
        "--rate-burst",
        type=int,
        default=Settings.rate_burst,
        help="burst allowance per token (default %(default)s: 200 CI shards starting at once)",
    )
    parser.add_argument(
        "--auth-rate-limit",
        type=float,
        default=Settings.auth_rate_limit,
        help="failed authentications per second per client address, 0 for none (default %(default)s)",
    )
    parser.add_argument(
        "--auth-rate-burst",
        type=int,
        default=Settings.auth_rate_burst,
        help="burst allowance of failed authentications per client address (default %(default)s)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=Settings.max_connections,
        help="connections served at once; beyond, requests get 503 (default %(default)s)",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=Settings.header_timeout,
        help="seconds a request may take to send its headers (default %(default)s)",
    )
    parser.add_argument(
        "--retention-days",
        type=float,
        default=30.0,
        help="evict entries not read for this many days (default %(default)s)",
    )
    parser.add_argument(
        "--max-entries",
        type=int,
        default=None,
        help="default cap on cached keys per project (a project's own cap wins)",
    )
    parser.add_argument("--dashboard-public", action="store_true", help="show the dashboard without login")
    parser.add_argument(
        "--session-hours",
        type=float,
        default=Settings.session_hours,
        help="a dashboard login lasts this many hours at most (default %(default)s)",
    )
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
    for name, value, low in (
        ("--workers", args.workers, 1),
        ("--rate-burst", args.rate_burst, 1),
        ("--auth-rate-burst", args.auth_rate_burst, 1),
        ("--max-connections", args.max_connections, 1),
    ):
        if value < low:
            raise ConfigError(f"expected at least {low}, got {value}", key=name)
    if args.header_timeout <= 0:
        raise ConfigError("expected a positive number of seconds", key="--header-timeout")
    if args.rate_limit < 0 or args.retention_days <= 0:
        raise ConfigError(
            "expected a positive number", key="--rate-limit" if args.rate_limit < 0 else "--retention-days"
        )
    if args.auth_rate_limit < 0:
        raise ConfigError("expected a positive number", key="--auth-rate-limit")
    if args.session_hours <= 0:
        raise ConfigError("expected a positive number of hours", key="--session-hours")
    if args.max_entries is not None and args.max_entries < 1:
        raise ConfigError(f"expected at least 1, got {args.max_entries}", key="--max-entries")
    return Settings(
        db=args.db,
        host=host,
        port=port,
        workers=args.workers,
        rate_limit=args.rate_limit,
        rate_burst=args.rate_burst,
        auth_rate_limit=args.auth_rate_limit,
        auth_rate_burst=args.auth_rate_burst,
        retention_days=args.retention_days,
        max_entries=args.max_entries,
        dashboard_public=args.dashboard_public,
        session_hours=args.session_hours,
        trusted_proxies=",".join(a.strip() for a in args.trusted_proxy if a.strip()),
        max_connections=args.max_connections,
        header_timeout=args.header_timeout,
    )


def main(argv: list[str], prog: str = "dryci server") -> int:
    args = build_parser(prog).parse_args(argv)
    settings = settings_from(args)

    import uvicorn

    from dryci.server.app import create_app
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
