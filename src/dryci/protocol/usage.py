"""The usage one run reports, whatever its token may do: ``POST /api/v2/runs``.

::

    POST /api/v2/runs   {"level": "file" | "function",
                         "tests_total": n, "tests_run": n, "tests_skipped": n,
                         "seconds_run": x, "seconds_saved": x,
                         "shadow": bool, "would_skip": n, "missed_failures": n,   (optional)
                         "provenance": {"branch": s, "commit": s, "run_url": s}}  (optional)
                     -> {"may_publish": bool}             (whether the token may publish results)

A read token may send it (it stores no result), once per run, fully cached runs included: it is the
one source of the server's per-run counters (runs, tests skipped as cached, time saved, shadow runs),
so v2 publishes no longer add their ``stats`` to them (see docs/api.md). The server also keeps each
report as a row, with its provenance, for the dashboard's recent runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dryci.exceptions import ProtocolError
from dryci.protocol import Provenance, _count, _duration, check_object, decode_provenance

__all__ = ["LEVELS", "RunUsage", "decode_run_usage"]

LEVELS = ("file", "function")
_COUNTS = ("tests_total", "tests_run", "tests_skipped", "would_skip", "missed_failures")
_SECONDS = ("seconds_run", "seconds_saved")
_REQUIRED = {"level", "tests_total", "tests_run", "tests_skipped", "seconds_run", "seconds_saved"}
_OPTIONAL = {"shadow", "would_skip", "missed_failures", "provenance"}


@dataclass(frozen=True)
class RunUsage:
    """``tests_skipped``: skipped as cached; ``would_skip`` and ``missed_failures``: shadow runs only
    (the tests the cache would have skipped, and those of them that failed)."""

    level: str
    tests_total: int = 0
    tests_run: int = 0
    tests_skipped: int = 0
    seconds_run: float = 0.0
    seconds_saved: float = 0.0
    shadow: bool = False
    would_skip: int = 0
    missed_failures: int = 0
    provenance: Provenance = field(default_factory=Provenance)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "level": self.level,
            "tests_total": self.tests_total,
            "tests_run": self.tests_run,
            "tests_skipped": self.tests_skipped,
            "seconds_run": self.seconds_run,
            "seconds_saved": self.seconds_saved,
            "shadow": self.shadow,
            "would_skip": self.would_skip,
            "missed_failures": self.missed_failures,
        }
        if self.provenance.to_json():
            body["provenance"] = self.provenance.to_json()
        return body


def decode_run_usage(body: object) -> RunUsage:
    """Validate a run's usage; a ProtocolError names the field."""
    data = check_object(body, _REQUIRED | _OPTIONAL, _REQUIRED)
    if data["level"] not in LEVELS:
        raise ProtocolError("expected file or function", field="level")
    shadow = data.get("shadow", False)
    if not isinstance(shadow, bool):
        raise ProtocolError("expected true or false", field="shadow")
    counts: dict[str, Any] = {name: _count(data[name], name) for name in _COUNTS if name in data}
    counts.update((name, _duration(data[name], name)) for name in _SECONDS)
    provenance = decode_provenance(data.get("provenance"))
    usage = RunUsage(level=data["level"], shadow=shadow, provenance=provenance, **counts)
    if usage.tests_run + usage.tests_skipped > usage.tests_total:
        raise ProtocolError("tests_run + tests_skipped is more than tests_total", field="tests_total")
    for name in ("would_skip", "missed_failures"):
        if not shadow and getattr(usage, name):
            raise ProtocolError("must be 0 unless shadow is true", field=name)
    if usage.would_skip > usage.tests_total:
        raise ProtocolError("more than tests_total", field="would_skip")
    if usage.missed_failures > usage.would_skip:
        raise ProtocolError("more than would_skip", field="missed_failures")
    return usage
