"""Quantity discounts."""

from __future__ import annotations

from decimal import Decimal

from .models import LineItem

# (minimum quantity, discount rate), highest threshold first
TIERS = ((10, Decimal("0.10")), (5, Decimal("0.05")))


def discount_for(item: LineItem) -> Decimal:
    for minimum, rate in TIERS:
        if item.quantity >= minimum:
            return (item.subtotal * rate).quantize(Decimal("0.01"))
    return Decimal("0.00")
