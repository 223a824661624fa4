from decimal import Decimal


def test_catalog_reads_every_product_from_the_data_file(catalog):
    assert sorted(catalog) == ["BOOK-01", "MUG-01", "TEA-01"]


def test_prices_are_decimals(catalog):
    assert catalog["TEA-01"].unit_price == Decimal("4.50")
