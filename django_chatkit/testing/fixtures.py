"""pytest fixtures for testing a site's ChatKit backend. In the site's ``conftest.py``::

    pytest_plugins = ["django_chatkit.testing.fixtures"]

``chatkit_client`` makes a :class:`~django_chatkit.testing.ChatKitClient`:
``chatkit_client(user)`` sends as that user, ``chatkit_client()`` as an anonymous visitor.
``async_chatkit_client`` does the same for ``async def`` tests. Both need database access
(pytest-django's ``db`` or ``transactional_db``, or the ``django_db`` mark).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from . import AsyncChatKitClient, ChatKitClient


@pytest.fixture
def chatkit_client() -> Callable[..., ChatKitClient]:
    def make(user: Any = None, *, path: str | None = None) -> ChatKitClient:
        return ChatKitClient(user, path=path)

    return make


@pytest.fixture
def async_chatkit_client() -> Callable[..., AsyncChatKitClient]:
    def make(user: Any = None, *, path: str | None = None) -> AsyncChatKitClient:
        return AsyncChatKitClient(user, path=path)

    return make
