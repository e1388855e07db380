"""A database file of its own for every pytest-style test."""

import pytest
from handmocked import support


@pytest.fixture
def database():
    with support.temporary_database():
        yield
