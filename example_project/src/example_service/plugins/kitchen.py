"""Tax rate of the kitchen category."""

from decimal import Decimal

RATE = Decimal("0.19")
