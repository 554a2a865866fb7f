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

import asyncio
import io
from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.asgi import ASGIRequest

from ..conf import chatkit_settings
from ..exceptions import PayloadTooLarge
from .core import ChatKitResponse, EventStream, handle_chatkit_request


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
    """Streams ChatKit responses with ``send_body(..., more_body=True)``.

    The response runs in its own task so that the consumer keeps listening: when the
    client disconnects, ``http.disconnect`` arrives while the stream is running and the
    SDK's processing is cancelled (its cancellation hook persists the partial answer).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._received = 0
        self._responding: asyncio.Task[None] | None = None
        self._stream: EventStream | None = None

    async def http_request(self, message: dict[str, Any]) -> None:
        if self._responding is not None:
            return
        chunk = message.get("body", b"")
        self._received += len(chunk)
        limit = chatkit_settings.MAX_REQUEST_BYTES
        if self._received > limit or self._declared_length() > limit:
            self._responding = asyncio.create_task(
                self._send(ChatKitResponse.error(PayloadTooLarge(f"The request body is over the {limit}-byte limit.")))
            )
            return
        self.body.append(chunk)
        if not message.get("more_body"):
            self._responding = asyncio.create_task(self._respond(b"".join(self.body)))

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        if self._stream is not None:
            await self._stream.stop()
        if self._responding is not None and not self._responding.done():
            self._responding.cancel()
        raise StopConsumer()

    def _declared_length(self) -> int:
        for name, value in self.scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    async def _respond(self, body: bytes) -> None:
        response = await handle_chatkit_request(request_from_scope(self.scope, body), body)
        await self._send(response)

    async def _send(self, response: ChatKitResponse) -> None:
        headers = [(k.encode(), v.encode()) for k, v in response.headers.items()]
        await self.send_headers(status=response.status, headers=headers)
        if response.stream is None:
            await self.send_body(response.body)
            return
        self._stream = response.stream
        async for batch in response.stream.batches():
            await self.send_body(batch, more_body=True)
        await self.send_body(b"")
