"""Tax plugins, one module per product category, loaded by name at run time."""

from __future__ import annotations

import importlib
from decimal import Decimal

CATEGORIES = ("food", "kitchen", "books")


def tax_for(category: str, amount: Decimal) -> Decimal:
    module = importlib.import_module(f"{__name__}.{category}")
    return (amount * module.RATE).quantize(Decimal("0.01"))
