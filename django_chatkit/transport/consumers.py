"""The ChatKit endpoint as a Channels consumer, for daphne.

Route it in the site's ASGI application, ahead of Django::

    application = ProtocolTypeRouter({
        "http": AuthMiddlewareStack(URLRouter([
            path("chatkit/", ChatKitConsumer.as_asgi()),
            re_path(r"", django_asgi_app),
        ])),
    })
"""

from __future__ import annotations

import io
from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.asgi import ASGIRequest

from ..compat import body_send
from ..context import csrf_cookie_header
from .core import ChatKitResponse, handle_chatkit_request, parse_length, refuse_size
from .errors import ResponseStream


def request_from_scope(scope: dict[str, Any], body: bytes) -> ASGIRequest:
    """A Django request for the scope, carrying the session and user Channels resolved."""
    request = ASGIRequest(scope, io.BytesIO(body))
    user = scope.get("user") or AnonymousUser()
    request.user = user
    session = scope.get("session")
    if session is not None:
        request.session = session

    async def auser() -> Any:
        return user

    request.auser = auser
    return request


class ChatKitConsumer(AsyncHttpConsumer):
    """Streams ChatKit responses: the stream's producer task sends each event's bytes
    (``http.response.body`` with ``more_body``) as the SDK yields it.

    While a response streams, Channels reads the connection: when the client
    disconnects, the SDK's processing is cancelled (its cancellation hook persists the
    partial answer) instead of running on for nobody.
    """

    # The endpoint needs no channel of its own: skip the per-request channel-layer setup.
    channel_layer_alias = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._received = 0
        self._stream: ResponseStream | None = None

    async def http_request(self, message: dict[str, Any]) -> None:
        chunk = message.get("body", b"")
        self._received += len(chunk)
        refusal = refuse_size(max(self._received, self._declared_length()))
        if refusal is not None:
            await self._send(refusal)
            raise StopConsumer()
        self.body.append(chunk)
        if message.get("more_body"):
            return
        body = b"".join(self.body)
        self.body.clear()
        request = request_from_scope(self.scope, body)
        response = await handle_chatkit_request(request, body)
        cookie = csrf_cookie_header(request)
        if cookie:  # the async view gets it from CsrfViewMiddleware
            response.headers["Set-Cookie"] = cookie
        await self._send(response)
        if response.stream is None:
            raise StopConsumer()
        # Streaming: the stream's own task writes the rest and ends the response. Return,
        # so that Channels reads the connection again: its http.disconnect (the client
        # left, or daphne finished the response) comes to disconnect().

    async def disconnect(self) -> None:
        """The connection is gone: a stream still running is stopped (``DISCONNECT``)."""
        if self._stream is not None:
            await self._stream.stop()

    def _declared_length(self) -> int:
        return parse_length(dict(self.scope.get("headers", [])).get(b"content-length")) or 0

    async def _send(self, response: ChatKitResponse) -> None:
        await self.send_headers(
            status=response.status, headers=[(k.encode(), v.encode()) for k, v in response.headers.items()]
        )
        if response.stream is None:
            await self.send_body(response.body)
            return
        self._stream = response.stream  # from now on a disconnect stops it
        send = body_send(self.base_send)

        # Called from the stream's producer task, for each event (or batch of a burst).
        async def write(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        async def finish() -> None:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        await response.stream.push_to(write, finish)
