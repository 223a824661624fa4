from example_service.models import LineItem
from example_service.pricing import order_total
from helpers import money


def test_order_total_adds_category_taxes(basket):
    # tea 9.00 + 7% = 9.63; mug 12.00 + 19% = 14.28
    assert order_total(basket) == money("23.91")


def test_large_orders_get_a_quantity_discount(catalog):
    total = order_total([LineItem(catalog["BOOK-01"], 10)])
    assert total == money("180.00")
