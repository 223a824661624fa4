"""The product catalog, read from the JSON file shipped next to this module."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from .models import Product

DATA = Path(__file__).parent / "data" / "catalog.json"


def load_catalog(path: Path = DATA) -> dict[str, Product]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    return {
        row["sku"]: Product(row["sku"], row["name"], Decimal(row["unit_price"]), row["category"])
        for row in rows
    }
