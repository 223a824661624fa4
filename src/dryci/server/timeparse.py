"""Times and durations on the admin command line: ``30d``, ``12h``, ``2026-11-26T01:00:00Z``."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from dryci.exceptions import ConfigError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str, option: str) -> float:
    match = DURATION.fullmatch(text.strip())
    if not match:
        raise ConfigError(f"expected a duration such as 90s, 15m, 12h, 30d or 2w, got {text!r}", key=option)
    return float(match.group(1)) * UNITS[match.group(2)]


def parse_time(text: str, option: str, now: float) -> float:
    """An ISO 8601 time (UTC unless it says otherwise) or a duration meaning that long ago."""
    if DURATION.fullmatch(text.strip()):
        return now - parse_duration(text, option)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"expected an ISO time such as 2026-11-26T01:00:00Z or a duration ago such as 2h, got {text!r}",
            key=option,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def format_time(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
