"""A server that answers with no model and no network: useful for demos and tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
)

from .conf import chatkit_settings
from .server import DjangoChatKitServer


def message_text(item: UserMessageItem | None) -> str:
    """The plain text a user typed (tags become their text)."""
    if item is None:
        return ""
    parts = []
    for part in item.content:
        if isinstance(part, UserMessageTextContent):
            parts.append(part.text)
        else:
            parts.append(f"@{getattr(part, 'text', '')}")
    return " ".join(p for p in parts if p).strip()


class OfflineChatKitServer(DjangoChatKitServer):
    """Streams ``You said: …`` back word by word, ``CHATKIT["OFFLINE_REPLY_DELAY"]`` apart.

    The reply is an ordinary assistant message: added, updated with text deltas, done,
    so every client behaviour (streaming, stop, reload, disconnect) can be exercised.
    """

    def reply_for(self, thread: ThreadMetadata, item: UserMessageItem | None, context: Any) -> str:
        text = message_text(item)
        return f"You said: {text}" if text else "Hello! Send me a message and I will echo it back."

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        reply = self.reply_for(thread, input_user_message, context)
        item = AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        yield ThreadItemAddedEvent(item=item)
        delay = chatkit_settings.OFFLINE_REPLY_DELAY
        words = reply.split(" ")
        for index, word in enumerate(words):
            if delay:
                await asyncio.sleep(delay)
            delta = word if index == 0 else f" {word}"
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartTextDelta(content_index=0, delta=delta),
            )
        item.content = [AssistantMessageContent(text=reply)]
        yield ThreadItemDoneEvent(item=item)
