"""Test a site's ChatKit backend the way a browser uses it: ``ChatKitClient``.

Like DRF's ``APIClient``, the client goes through the whole Django stack (URLconf,
middleware, sessions, the endpoint's context builder, your server, the stores) and
speaks the ChatKit protocol: ``send(op, params)`` posts ``{"type": op, "params": ...}``
as the given user and returns a :class:`ChatKitResult` whose ``events`` are parsed and
validated with the SDK's own types (``TypeAdapter(ThreadStreamEvent)``)::

    from django_chatkit.testing import ChatKitClient

    def test_the_bot_greets(user):
        chat = ChatKitClient(user)
        result = chat.create_thread("hello")
        assert result.status_code == 200
        assert "Hello" in result.text

``AsyncChatKitClient`` is the same for ``async def`` tests. pytest fixtures:
``pytest_plugins = ["django_chatkit.testing.fixtures"]`` (see docs/testing.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from chatkit.types import (
    AssistantMessageItem,
    ThreadCreatedEvent,
    ThreadItemDoneEvent,
    ThreadStreamEvent,
)
from django.http import HttpResponseBase, StreamingHttpResponse
from django.test import AsyncClient
from django.urls import reverse
from pydantic import TypeAdapter

__all__ = ["AsyncChatKitClient", "ChatKitClient", "ChatKitResult", "parse_events", "sse_payloads", "user_input"]

_EVENTS: TypeAdapter[ThreadStreamEvent] = TypeAdapter(ThreadStreamEvent)


def user_input(
    text: str = "",
    *,
    attachments: list[str] | None = None,
    tool_choice: str | None = None,
    model: str | None = None,
    tags: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``input`` of ``threads.create`` / ``threads.add_user_message``."""
    content: list[dict[str, Any]] = [{"type": "input_text", "text": text}] if text else []
    content += list(tags or [])
    options: dict[str, Any] = {}
    if tool_choice:
        options["tool_choice"] = {"id": tool_choice}
    if model:
        options["model"] = model
    return {"content": content, "attachments": list(attachments or []), "inference_options": options}


@dataclass
class ChatKitResult:
    """One answer of the endpoint, as a ChatKit UI receives it."""

    status_code: int
    response: HttpResponseBase = field(repr=False)
    #: The stream's events, validated SDK objects (empty for JSON answers).
    events: list[ThreadStreamEvent] = field(default_factory=list)
    #: The JSON body of a non-streaming answer (or of an error).
    data: Any = None

    @property
    def streamed(self) -> bool:
        return self.response.get("Content-Type", "").startswith("text/event-stream")

    @property
    def error(self) -> dict[str, Any] | None:
        """``{"code", "message"}`` of a refused request, else None."""
        if isinstance(self.data, dict) and isinstance(self.data.get("error"), dict):
            return self.data["error"]
        return None

    @property
    def thread_id(self) -> str | None:
        """The id of the thread a ``threads.create`` stream created."""
        created = next((e for e in self.events if isinstance(e, ThreadCreatedEvent)), None)
        return created.thread.id if created else None

    def items(self, item_type: type | None = None) -> list[Any]:
        """The items the stream finished (``thread.item.done``), optionally of one type."""
        done = [e.item for e in self.events if isinstance(e, ThreadItemDoneEvent)]
        return [i for i in done if item_type is None or isinstance(i, item_type)]

    @property
    def text(self) -> str:
        """The text of the assistant messages the stream finished, joined by newlines."""
        return "\n".join("".join(part.text for part in item.content) for item in self.items(AssistantMessageItem))

    def raise_for_status(self) -> ChatKitResult:
        """This result; ``AssertionError`` with the error message when it is not a 200."""
        if self.status_code != 200:
            raise AssertionError(f"ChatKit answered {self.status_code}: {self.error or self.data}")
        return self


class AsyncChatKitClient:
    """Sends ChatKit requests to the site's endpoint as ``user`` (a Django user), or as an
    anonymous visitor (``user=None``: the session cookie is kept between requests).

    ``path`` is the endpoint (default: the URL of ``django_chatkit:endpoint``). CSRF is
    not enforced, as with Django's test client.
    """

    def __init__(self, user: Any = None, *, path: str | None = None, client: AsyncClient | None = None) -> None:
        self.user = user
        self.path = path
        self.client = client or AsyncClient()
        self._logged_in = user is None

    async def send(self, op: str, params: dict[str, Any] | None = None, **extra: Any) -> ChatKitResult:
        """Post one request (any op) and read its whole answer."""
        if not self._logged_in:
            await self.client.aforce_login(self.user)
            self._logged_in = True
        body = json.dumps({"type": op, "params": params or {}, **extra})
        response = await self.client.post(
            self.path or reverse("django_chatkit:endpoint"), body, content_type="application/json"
        )
        if isinstance(response, StreamingHttpResponse):
            raw = b"".join([chunk async for chunk in response])
        else:
            raw = response.content
        if response.get("Content-Type", "").startswith("text/event-stream"):
            return ChatKitResult(response.status_code, response, events=parse_events(raw))
        return ChatKitResult(response.status_code, response, data=json.loads(raw) if raw else None)

    async def create_thread(self, text: str = "", **input_options: Any) -> ChatKitResult:
        return await self.send("threads.create", {"input": user_input(text, **input_options)})

    async def add_message(self, thread_id: str, text: str = "", **input_options: Any) -> ChatKitResult:
        return await self.send(
            "threads.add_user_message", {"thread_id": thread_id, "input": user_input(text, **input_options)}
        )

    async def thread_items(self, thread_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The stored items of a thread, oldest first (what a reload shows)."""
        result = await self.send("items.list", {"thread_id": thread_id, "order": "asc", "limit": limit})
        return result.raise_for_status().data["data"]


class ChatKitClient:
    """:class:`AsyncChatKitClient` for synchronous tests: the same methods, not awaited."""

    def __init__(self, user: Any = None, *, path: str | None = None) -> None:
        self._client = AsyncChatKitClient(user, path=path)

    def send(self, op: str, params: dict[str, Any] | None = None, **extra: Any) -> ChatKitResult:
        return async_to_sync(self._client.send)(op, params, **extra)

    def create_thread(self, text: str = "", **input_options: Any) -> ChatKitResult:
        return async_to_sync(self._client.create_thread)(text, **input_options)

    def add_message(self, thread_id: str, text: str = "", **input_options: Any) -> ChatKitResult:
        return async_to_sync(self._client.add_message)(thread_id, text, **input_options)

    def thread_items(self, thread_id: str, limit: int = 100) -> list[dict[str, Any]]:
        return async_to_sync(self._client.thread_items)(thread_id, limit)


def sse_payloads(raw: bytes) -> list[bytes]:
    """The ``data:`` payload of each event of an SSE body."""
    blocks = (block.strip() for block in raw.split(b"\n\n"))
    return [block[len(b"data: ") :] for block in blocks if block.startswith(b"data: ")]


def parse_events(raw: bytes) -> list[ThreadStreamEvent]:
    """The events of an SSE body, each validated as the SDK's ``ThreadStreamEvent``."""
    return [_EVENTS.validate_json(payload) for payload in sse_payloads(raw)]
