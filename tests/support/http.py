"""Speaking to the test site over real HTTP: logged-in cookies, the CSRF secret, SSE parsing
and a small ChatKit client for a live daphne server (see :mod:`tests.support.daphne`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from channels.testing import HttpCommunicator
from django.conf import settings
from django.test import Client

from django_chatkit.testing import sse_payloads

#: The two ways a chat request arrives: the Channels consumer and the async view.
PATHS = {"consumer": "/consumer/chatkit/", "view": "/chatkit/"}

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


def login_cookie(user) -> str:
    """A Cookie header of a logged-in browser (session and CSRF secret)."""
    client = Client()
    client.force_login(user)
    return (
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}; csrftoken={CSRF_SECRET}"
    )


async def post(
    path: str,
    body: bytes,
    cookie: str | None = None,
    csrf: str | None = CSRF_SECRET,
    method: str = "POST",
    extra_headers: tuple[tuple[bytes, bytes], ...] = (),
):
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra_headers]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if csrf:
        headers.append((b"x-csrftoken", csrf.encode()))
    from tests.asgi import application

    communicator = HttpCommunicator(application, method, path, body=body, headers=headers)
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(10)
    received = b""
    while True:
        message = await communicator.receive_output(10)
        received += message.get("body", b"")  # Django's last message may carry no body key
        if not message.get("more_body"):
            break
    await communicator.wait(10)
    return start["status"], received
