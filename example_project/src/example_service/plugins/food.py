"""Tax rate of the food category."""

from decimal import Decimal

RATE = Decimal("0.07")
