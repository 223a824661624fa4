from __future__ import annotations

import time

import pytest
from example_service.catalog import load_catalog
from example_service.models import LineItem

# A real suite's tests are slow where they reach a database, a browser or a service. The sleep
# stands in for that cost, so the demo's runs show what skipping a test saves.
SLOW_SETUP_SECONDS = 0.75


@pytest.fixture
def catalog():
    time.sleep(SLOW_SETUP_SECONDS)
    return load_catalog()


@pytest.fixture
def basket(catalog):
    return [LineItem(catalog["TEA-01"], 2), LineItem(catalog["MUG-01"], 1)]
