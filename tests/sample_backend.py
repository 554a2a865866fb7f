"""A ChatKit backend written the way OpenAI's published samples write theirs, for a
FastAPI app: nothing here knows about Django. It builds its own in-memory stores in
``__init__``, has its own ``AgentContext`` subclass and converter, mentions with raw ids,
refuses with Starlette's ``HTTPException`` and calls ``Runner.run_streamed`` / ``Runner.run``
plainly. ``tests/test_adopt.py`` runs it on this app by configuration alone:
``CHATKIT = {"SERVER_CLASS": "tests.sample_backend.FrontDeskServer"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from agents import Agent, RunContextWrapper, Runner, StopAtTools, function_tool
from chatkit.agents import AgentContext, ClientToolCall, ThreadItemConverter, stream_agent_response
from chatkit.server import ChatKitServer
from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    Action,
    AssistantMessageContent,
    AssistantMessageItem,
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FeedbackKind,
    FileAttachment,
    HiddenContextItem,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTagContent,
    WidgetItem,
)
from chatkit.widgets import Button, Card, Text
from openai.types.responses import ResponseInputTextParam
from openai.types.responses.response_input_item_param import Message
from starlette.exceptions import HTTPException

from bench.memory_store import MemoryStore

# -- stores: the process's memory (the threads in bench's MemoryStore, as the samples keep them) --


class MemoryAttachmentStore(AttachmentStore[Any]):
    """Uploads kept in memory; the FastAPI app's upload route calls ``write``."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.files: dict[str, bytes] = {}

    async def create_attachment(self, input: AttachmentCreateParams, context: Any) -> Attachment:
        attachment_id = self.generate_attachment_id(input.mime_type, context)
        attachment = FileAttachment(
            id=attachment_id,
            name=input.name,
            mime_type=input.mime_type,
            upload_descriptor=AttachmentUploadDescriptor(
                url=f"http://localhost:8000/files/{attachment_id}", method="POST"
            ),
        )
        await self.store.save_attachment(attachment, context)
        return attachment

    async def write(self, attachment_id: str, data: bytes) -> None:
        self.files[attachment_id] = data

    async def read_bytes(self, attachment_id: str, context: Any) -> bytes:
        if attachment_id not in self.files:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return self.files[attachment_id]

    async def delete_attachment(self, attachment_id: str, context: Any) -> None:
        self.files.pop(attachment_id, None)


# -- agents ------------------------------------------------------------------------------


class FrontDeskContext(AgentContext):
    """What the desk's tools need besides the thread: which desk this is."""

    desk_name: str


@function_tool
async def desk_hours(ctx: RunContextWrapper[FrontDeskContext]) -> str:
    """When the desk opens."""
    return f"The {ctx.context.desk_name} opens at 9."


@function_tool
async def pick_room(ctx: RunContextWrapper[FrontDeskContext]) -> str:
    """Show the guest the rooms to pick from."""
    await ctx.context.stream_widget(room_card(None), copy_text="Rooms")
    return "The guest sees the rooms."


@function_tool
async def locate_guest(ctx: RunContextWrapper[FrontDeskContext]) -> str:
    """Ask the guest's browser where the guest is."""
    ctx.context.client_tool_call = ClientToolCall(name="get_location", arguments={"precision": "city"})
    return "Asked the browser."


desk_agent = Agent[FrontDeskContext](
    name="Front Desk",
    instructions="You run a hotel's front desk.",
    tools=[desk_hours, pick_room, locate_guest],
    tool_use_behavior=StopAtTools(stop_at_tool_names=["locate_guest"]),
)

title_agent = Agent(name="Title", instructions="Write a title for the conversation.")


def room_card(picked: str | None) -> Card:
    if picked:
        return Card(children=[Text(id="rooms", value=f"Room {picked} picked")])
    return Card(
        children=[
            Text(id="rooms", value="Pick a room"),
            Button(label="Blue room", onClickAction={"type": "room.pick", "payload": {"room": "blue"}}),
        ]
    )


# -- history -> agent input ----------------------------------------------------------------


class FrontDeskConverter(ThreadItemConverter):
    """Mentions are rooms (raw ids such as ``room-12``); attached notes are read back."""

    def __init__(self, attachments: MemoryAttachmentStore, context: Any) -> None:
        self.attachments = attachments
        self.context = context

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputTextParam:
        return ResponseInputTextParam(type="input_text", text=f"Room {tag.id} ({tag.text})")

    async def attachment_to_message_content(self, attachment: Attachment) -> ResponseInputTextParam:
        data = await self.attachments.read_bytes(attachment.id, self.context)
        return ResponseInputTextParam(type="input_text", text=f"Guest note: {data.decode()}")

    async def hidden_context_to_input(self, item: HiddenContextItem) -> Message:
        return Message(
            type="message", role="user", content=[ResponseInputTextParam(type="input_text", text=item.content)]
        )


# -- the server ----------------------------------------------------------------------------


class FrontDeskServer(ChatKitServer[Any]):
    """The front desk assistant."""

    def __init__(self) -> None:
        self.store: MemoryStore = MemoryStore()
        self.attachments = MemoryAttachmentStore(self.store)
        super().__init__(self.store, self.attachments)
        self.desk_name = "north desk"

    async def respond(
        self, thread: ThreadMetadata, item: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        titling = asyncio.create_task(self._maybe_update_thread_title(thread, item))
        page = await self.store.load_thread_items(thread.id, after=None, limit=20, order="desc", context=context)
        converter = FrontDeskConverter(self.attachments, context)
        agent_input = await converter.to_agent_input(list(reversed(page.data)))
        agent_context = FrontDeskContext(
            thread=thread, store=self.store, request_context=context, desk_name=self.desk_name
        )
        result = Runner.run_streamed(desk_agent, agent_input, context=agent_context)
        async for event in stream_agent_response(agent_context, result):
            yield event
        await titling

    async def _maybe_update_thread_title(self, thread: ThreadMetadata, item: UserMessageItem | None) -> None:
        if item is None or thread.title is not None:
            return
        text = " ".join(part.text for part in item.content if part.type == "input_text")
        result = await Runner.run(title_agent, input=text)
        thread.title = str(result.final_output)

    async def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        if action.type != "room.pick" or sender is None:
            return
        room = action.payload["room"]
        yield ThreadItemReplacedEvent(item=sender.model_copy(update={"widget": room_card(room)}))
        await self.store.add_thread_item(
            thread.id,
            HiddenContextItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=f"<ROOM_PICKED>{room}</ROOM_PICKED>",
            ),
            context=context,
        )
        yield ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[AssistantMessageContent(text=f"Room {room} is yours.")],
            )
        )

    async def add_feedback(self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: Any) -> None:
        if feedback == "negative":
            raise HTTPException(status_code=400, detail="Please tell the desk what went wrong instead.")
