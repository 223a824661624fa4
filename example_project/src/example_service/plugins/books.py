"""Tax rate of the books category."""

from decimal import Decimal

RATE = Decimal("0.00")
