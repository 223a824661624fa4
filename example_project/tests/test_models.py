from decimal import Decimal

from example_service import LineItem, Product


def test_line_item_subtotal_multiplies_the_unit_price():
    item = LineItem(Product("X", "x", Decimal("2.50"), "food"), 4)
    assert item.subtotal == Decimal("10.00")
