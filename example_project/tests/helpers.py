"""Test helpers (tests/ is on sys.path because it has no __init__.py)."""

from __future__ import annotations

from decimal import Decimal


def money(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.01"))
