"""conftest of the SDK suite run: the SDK's tests are plain async tests that know nothing
of Django, so every test is given database access, on a database emptied after it."""

import pytest


@pytest.fixture(autouse=True)
def _fresh_database(transactional_db):
    yield
