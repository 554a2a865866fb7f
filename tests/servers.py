"""The server the test site runs: the offline echo server plus scripted behaviours,
chosen by the first word of the user's message."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from chatkit.errors import CustomStreamError
from chatkit.types import (
    Action,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    StructuredInputFreeform,
    StructuredInputItem,
    SyncCustomActionResponse,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
)
from chatkit.widgets import Button, Card, Text

from django_chatkit.offline import OfflineChatKitServer, message_text


class StatusCodeError(Exception):
    """Shaped like FastAPI's / Starlette's ``HTTPException``: ``status_code`` and ``detail``."""

    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail


def widget_card(label: str) -> Card:
    return Card(
        children=[
            Text(id="label", value=label),
            Button(label="Pick", onClickAction={"type": "test.pick", "payload": {"label": label}}),
        ]
    )


_serials = itertools.count(1)
_this_thread = threading.local()


def thread_serial() -> int:
    """A number of the calling thread that no other thread ever gets (a thread's ident
    may be reused once it ends)."""
    if not hasattr(_this_thread, "serial"):
        _this_thread.serial = next(_serials)
    return _this_thread.serial


_connections: list[Any] = []  # every DB-API connection seen, kept so that no id is reused


def connection_serial() -> int:
    """A number of the default database's DB-API connection as this thread has it now (a
    connection closed and opened again gets a new number)."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    for serial, seen in enumerate(_connections, 1):
        if seen is raw:
            return serial
    _connections.append(raw)
    return len(_connections)


class ScriptedServer(OfflineChatKitServer):
    """``slow …`` streams slowly; ``fail`` breaks mid-stream; ``tool`` asks the client for
    a tool call; ``ask`` asks a structured question; ``widget`` shows a card; ``whereis``
    answers the :func:`thread_serial` of the request's database work, asked twice;
    ``connection`` the :func:`connection_serial` of its database connection; anything
    else is echoed. Actions named ``test.*`` are answered here, others go to the app."""

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        text = message_text(input_user_message)
        command = text.split(" ", 1)[0] if text else ""
        now = datetime.now()
        if command == "slow":
            item = AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=now,
                content=[],
            )
            yield ThreadItemAddedEvent(item=item)
            from chatkit.types import AssistantMessageContentPartTextDelta, ThreadItemUpdatedEvent

            for index in range(400):
                await asyncio.sleep(0.02)
                yield ThreadItemUpdatedEvent(
                    item_id=item.id,
                    update=AssistantMessageContentPartTextDelta(content_index=0, delta=f"w{index} "),
                )
            item.content = [AssistantMessageContent(text="finished")]
            yield ThreadItemDoneEvent(item=item)
        elif command == "fail":
            async for event in self._say(thread, context, "about to fail"):
                yield event
            raise CustomStreamError("The scripted failure happened.", allow_retry=False)
        elif command == "crash":
            async for event in self._say(thread, context, "about to crash"):
                yield event
            raise RuntimeError("unexpected bug")
        elif command == "tool":
            yield ThreadItemDoneEvent(
                item=ClientToolCallItem(
                    id=self.store.generate_item_id("tool_call", thread, context),
                    thread_id=thread.id,
                    created_at=now,
                    call_id="call_1",
                    name="get_location",
                    arguments={"precision": "city"},
                )
            )
        elif command == "ask":
            yield ThreadItemDoneEvent(
                item=StructuredInputItem(
                    id=self.store.generate_item_id("message", thread, context),
                    thread_id=thread.id,
                    created_at=now,
                    inputs=[StructuredInputFreeform(id="q1", question="Which city?")],
                )
            )
        elif command == "widget":
            yield ThreadItemDoneEvent(
                item=WidgetItem(
                    id=self.store.generate_item_id("message", thread, context),
                    thread_id=thread.id,
                    created_at=now,
                    widget=widget_card("first"),
                    copy_text="a card",
                )
            )
        elif command == "meta":
            async for event in self._say(thread, context, json.dumps(context.metadata, sort_keys=True)):
                yield event
        elif command == "whereis":
            # The thread the request's database work (thread-sensitive calls) runs on, at
            # its start and after the next call.
            first = await sync_to_async(thread_serial)()
            second = await sync_to_async(thread_serial)()
            async for event in self._say(thread, context, f"{first} {second}"):
                yield event
        elif command == "connection":
            serial = await sync_to_async(connection_serial)()
            async for event in self._say(thread, context, str(serial)):
                yield event
        elif input_user_message is None:
            # After a client tool output or a structured answer: say what came back.
            items = await self.store.load_thread_items(thread.id, None, 2, "desc", context)
            latest = items.data[0] if items.data else None
            summary = getattr(latest, "output", None) or getattr(latest, "status", "")
            async for event in self._say(thread, context, f"Got {summary}"):
                yield event
        else:
            async for event in super().respond(thread, input_user_message, context):
                yield event

    async def _say(self, thread: ThreadMetadata, context: Any, text: str) -> AsyncIterator[ThreadStreamEvent]:
        yield ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[AssistantMessageContent(text=text)],
            )
        )

    async def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        if not action.type.startswith("test."):
            async for event in super().action(thread, action, sender, context):
                yield event
            return
        async for event in self._say(thread, context, f"Action {action.type} with {action.payload}"):
            yield event

    async def sync_action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: Any
    ) -> SyncCustomActionResponse:
        if action.type == "test.refuse":
            # What a backend written for FastAPI raises to refuse a request.
            raise StatusCodeError(409, "That card was already picked.")
        if action.type == "test.bug":
            raise ValueError("bug with secret internals: token=abc123")
        if not action.type.startswith("test.") or sender is None:
            return await super().sync_action(thread, action, sender, context)
        updated = sender.model_copy(update={"widget": widget_card(str(action.payload.get("label")))})
        await self.store.save_item(thread.id, updated, context)
        return SyncCustomActionResponse(updated_item=updated)
