"""Order totals: subtotal, discounts, taxes."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from . import discounts
from .plugins import tax_for

if TYPE_CHECKING:
    from .models import LineItem


def order_total(items: list[LineItem]) -> Decimal:
    total = Decimal("0.00")
    for item in items:
        net = item.subtotal - discounts.discount_for(item)
        total += net + tax_for(item.product.category, net)
    return total.quantize(Decimal("0.01"))
