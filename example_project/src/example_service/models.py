"""Plain value objects of the service."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    unit_price: Decimal
    category: str


@dataclass(frozen=True)
class LineItem:
    product: Product
    quantity: int

    @property
    def subtotal(self) -> Decimal:
        return self.product.unit_price * self.quantity
