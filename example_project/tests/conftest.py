from __future__ import annotations

import pytest
from example_service.catalog import load_catalog
from example_service.models import LineItem


@pytest.fixture
def catalog():
    return load_catalog()


@pytest.fixture
def basket(catalog):
    return [LineItem(catalog["TEA-01"], 2), LineItem(catalog["MUG-01"], 1)]
