"""Shared fixtures: users, request contexts, a real daphne server and the transport
parameter. Helpers live in :mod:`tests.support`; no test imports from here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_chatkit.context import RequestContext
from tests.support.daphne import daphne_server
from tests.support.http import LiveServer

#: Fixture modules shared by several test modules.
pytest_plugins = ["tests.support.admin_data", "tests.support.runs"]


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="pw-alice")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="pw-bob")


@pytest.fixture
def ctx() -> RequestContext:
    return RequestContext(user_id="user:1")


@pytest.fixture
def other_ctx() -> RequestContext:
    return RequestContext(user_id="user:2")


@pytest.fixture(scope="session")
def live_daphne(django_db_setup, django_db_blocker) -> Iterator[LiveServer]:
    """A real daphne process serving tests.asgi on the test database."""
    with daphne_server(django_db_blocker) as server:
        yield server


@pytest.fixture(params=["consumer", "view"])
def transport(request) -> str:
    """Run a live test through the Channels consumer and through the async view."""
    return request.param
