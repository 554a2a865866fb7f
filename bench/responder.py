"""The synthetic responder every contender runs: one assistant message of N text deltas.

No model: by default the stream is produced as fast as the serving path takes it, so
what is measured is the cost of serving, persisting and transporting the events. The
number of deltas travels in the user's message (``"bench:5000"``), so every contender
gets the same request body and does the same work. ``"bench:200@20"`` asks for a human
pace instead: 200 deltas, 20 a second, with ``asyncio.sleep(1 / 20)`` between them, as a
model streaming tokens would.
"""

from __future__ import annotations

import asyncio
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

_DELTAS = re.compile(r"bench:(\d+)(?:@(\d+(?:\.\d+)?))?")
MAX_DELTAS = 1_000_000
MAX_RATE = 10_000.0


def answer_requested(item: UserMessageItem | None) -> tuple[int, float | None]:
    """The deltas and the pace (deltas a second, None: no pause) of a ``bench:N[@R]`` message."""
    if item is not None:
        for part in item.content:
            if isinstance(part, UserMessageTextContent):
                found = _DELTAS.search(part.text)
                if found:
                    count = max(1, min(int(found.group(1)), MAX_DELTAS))
                    rate = float(found.group(2)) if found.group(2) else None
                    return count, (min(rate, MAX_RATE) if rate else None)
    return 1, None


def deltas_requested(item: UserMessageItem | None) -> int:
    """How many deltas the user's ``bench:N`` message asks for (1 when it names none)."""
    return answer_requested(item)[0]


def delta_text(index: int) -> str:
    return f"w{index} "


async def synthetic_events(
    thread: ThreadMetadata,
    item: UserMessageItem | None,
    new_item_id: Callable[[], str],
) -> AsyncIterator[ThreadStreamEvent]:
    """Added, N text deltas (paced when the message says ``@R``), done: a streamed model answer."""
    count, rate = answer_requested(item)
    pause = 1 / rate if rate else None
    message = AssistantMessageItem(id=new_item_id(), thread_id=thread.id, created_at=datetime.now(), content=[])
    yield ThreadItemAddedEvent(item=message)
    parts = []
    for index in range(count):
        if pause is not None and index:
            await asyncio.sleep(pause)
        text = delta_text(index)
        parts.append(text)
        yield ThreadItemUpdatedEvent(
            item_id=message.id,
            update=AssistantMessageContentPartTextDelta(content_index=0, delta=text),
        )
    message.content = [AssistantMessageContent(text="".join(parts))]
    yield ThreadItemDoneEvent(item=message)
