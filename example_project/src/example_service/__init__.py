"""example_service: prices products from a catalog, with discounts and pluggable taxes."""

from __future__ import annotations

import os

from example_service.models import LineItem, Product

__all__ = ["CURRENCY", "LineItem", "Product", "__version__"]
__version__ = "0.1.0"

CURRENCY = os.environ.get("EXAMPLE_SERVICE_CURRENCY", "EUR")
