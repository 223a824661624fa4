"""Server settings: one frozen dataclass, built by the CLI from flags and environment."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from dryci.exceptions import ConfigError

DEFAULT_DB = "sqlite:///dryci.db"
DEFAULT_LISTEN = "127.0.0.1:8080"
SETTINGS_ENV = "DRYCI_SERVER_SETTINGS"  # how the CLI hands settings to uvicorn worker processes


@dataclass(frozen=True)
class Settings:
    db: str = DEFAULT_DB
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    # One CI token fanning out to 200 shards that start together: a query and a publish each, some in
    # batches, within seconds. Sustained 200/s per token still stops a runaway client.
    rate_limit: float = 200.0  # requests per second per token; 0 disables
    rate_burst: int = 1000
    # Failed authentications (wrong login, bad or missing token) per client address: enough for a
    # mistyped token, not for guessing or for flooding the token table with lookups.
    auth_rate_limit: float = 1.0  # per second; 0 disables
    auth_rate_burst: int = 20
    retention_days: float = 30.0
    max_entries: int | None = None  # default per-project cap; a project's own cap wins
    dashboard_public: bool = False
    session_hours: float = 12.0  # a dashboard login lasts this long at most (and never past its token)
    # Addresses whose X-Forwarded-Proto/-For headers are believed (uvicorn's forwarded_allow_ips);
    # empty: none, so the scheme and client address are those of the connection itself.
    trusted_proxies: str = ""
    flush_seconds: float = 1.0  # how often usage counters and read times are written
    retention_interval_seconds: float = 3600.0
    max_connections: int = 1000  # served at once per process; beyond, 503
    header_timeout: float = 10.0  # seconds for a request's headers (slowloris)
    decode_slots: int = 2  # large request bodies decoded at once (memory: about 40 MB each at most)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(SETTINGS_ENV)
        if not raw:
            raise ConfigError("not set; start the server with `dryci server`", key=SETTINGS_ENV)
        return cls(**json.loads(raw))


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6) -> (host, port); ConfigError names --listen."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"expected HOST:PORT such as 127.0.0.1:8080, got {value!r}", key="--listen")
    return host.strip("[]"), int(port)
