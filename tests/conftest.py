"""Shared fixtures: users, a logged-in HTTP client, and a real daphne server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from django_chatkit.context import RequestContext
from django_chatkit.testing import sse_payloads


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


CSRF_SECRET = "A" * 32


def session_cookies(user) -> dict[str, str]:
    """Cookies of a logged-in browser: the session and a CSRF secret."""
    client = Client()
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value, "csrftoken": CSRF_SECRET}


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(payload) for payload in sse_payloads(raw)]


@dataclass
class ChatKitHTTP:
    """Speaks the ChatKit protocol to a live server over real HTTP."""

    http: httpx.Client
    path: str

    def post(self, op: str, params: dict[str, Any] | None = None, **extra: Any) -> httpx.Response:
        body = {"type": op, "params": params or {}, **extra}
        return self.http.post(self.path, content=json.dumps(body), headers={"Content-Type": "application/json"})

    def call(self, op: str, params: dict[str, Any] | None = None) -> Any:
        response = self.post(op, params)
        assert response.status_code == 200, response.text
        return response.json()

    def stream(self, op: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        response = self.post(op, params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.content)


@dataclass
class LiveServer:
    url: str
    pid: int | None = None  # the server process (its memory use can be read in /proc)

    def client(self, user=None, *, transport: str = "consumer", csrf: bool = True) -> ChatKitHTTP:
        cookies = session_cookies(user) if user is not None else {}
        headers = {"X-CSRFToken": CSRF_SECRET} if csrf and user is not None else {}
        http = httpx.Client(base_url=self.url, cookies=cookies, headers=headers, timeout=30)
        path = "/consumer/chatkit/" if transport == "consumer" else "/chatkit/"
        return ChatKitHTTP(http=http, path=path)


def run_daphne(django_db_blocker, setup) -> Iterator[LiveServer]:
    """A real daphne process serving tests.asgi on the test database; ``setup`` (a
    module-level function of tests.live, run in the child) configures it."""
    from daphne.testing import DaphneProcess

    from tests.live import make_application

    with django_db_blocker.unblock():
        # The forked child closes the connections it inherits: they must not be ours (on
        # PostgreSQL that would close this process's socket to the server).
        from django.db import connections

        connections.close_all()
        process = DaphneProcess("127.0.0.1", make_application, setup=setup)
        process.start()
        if not process.ready.wait(timeout=20):
            process.terminate()
            raise RuntimeError("daphne did not start")
        try:
            yield LiveServer(url=f"http://127.0.0.1:{process.port.value}", pid=process.pid)
        finally:
            process.terminate()
            process.join(timeout=10)


@pytest.fixture(scope="session")
def live_daphne(django_db_setup, django_db_blocker) -> Iterator[LiveServer]:
    """A real daphne process serving tests.asgi on the test database."""
    from tests.live import use_test_database

    yield from run_daphne(django_db_blocker, use_test_database)


@pytest.fixture(params=["consumer", "view"])
def transport(request) -> str:
    """Run a live test through the Channels consumer and through the async view."""
    return request.param


def make_user(username: str):
    return get_user_model().objects.create_user(username=username, password=f"pw-{username}")
