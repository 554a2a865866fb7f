"""The synthetic responder every contender runs: one assistant message of N text deltas.

No sleeps and no model: the stream is produced as fast as the serving path takes it,
so what is measured is the cost of serving, persisting and transporting the events.
The number of deltas travels in the user's message (``"bench:5000"``), so every
contender gets the same request body and does the same work.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
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

_DELTAS = re.compile(r"bench:(\d+)")
MAX_DELTAS = 1_000_000


def deltas_requested(item: UserMessageItem | None) -> int:
    """How many deltas the user's ``bench:N`` message asks for (1 when it names none)."""
    if item is not None:
        for part in item.content:
            if isinstance(part, UserMessageTextContent):
                found = _DELTAS.search(part.text)
                if found:
                    return max(1, min(int(found.group(1)), MAX_DELTAS))
    return 1


def delta_text(index: int) -> str:
    return f"w{index} "


async def synthetic_events(
    thread: ThreadMetadata,
    item: UserMessageItem | None,
    new_item_id: Callable[[], str],
) -> AsyncIterator[ThreadStreamEvent]:
    """Added, N text deltas, done: the shape of a streamed model answer."""
    count = deltas_requested(item)
    message = AssistantMessageItem(id=new_item_id(), thread_id=thread.id, created_at=datetime.now(), content=[])
    yield ThreadItemAddedEvent(item=message)
    parts = []
    for index in range(count):
        text = delta_text(index)
        parts.append(text)
        yield ThreadItemUpdatedEvent(
            item_id=message.id,
            update=AssistantMessageContentPartTextDelta(content_index=0, delta=text),
        )
    message.content = [AssistantMessageContent(text="".join(parts))]
    yield ThreadItemDoneEvent(item=message)
