"""Action handlers of the test site, found by autodiscovery (``tests`` is an installed app).

``line.select`` is the seed's server action written with the helpers; the others cover
the handler shapes and options the dispatch tests need (sync, permission, coroutine,
title and hidden context).
"""

from __future__ import annotations

from datetime import datetime

from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadItemDoneEvent
from pydantic import BaseModel

from django_chatkit.actions import chatkit_action


class LineSelection(BaseModel):
    id: str


@chatkit_action("line.select", payload=LineSelection)
async def select_line(thread, action, sender, context, act):
    line_id = action.payload["id"]  # .payload, never .arguments; act.payload.id is the parsed model
    # 1. Re-render the sender from its template, with the selection marked.
    yield await act.replace_sender(update={"selected": line_id})
    # 2. Tell the user.
    yield act.assistant_message(f"Selected {line_id}")
    # 3. Let the page react (the browser's onEffect handler).
    yield act.client_effect("selection_changed", {"lineId": line_id})


@chatkit_action("line.select_sync", payload=LineSelection, sync=True)
async def select_line_sync(thread, action, sender, context, act):
    event = await act.replace_sender(update={"selected": act.payload.id})
    act.set_title(f"Line {act.payload.id}")
    return event.item


@chatkit_action("line.delete", permission="django_chatkit.delete_thread")
async def delete_line(thread, action, sender, context):
    yield ThreadItemDoneEvent(
        item=AssistantMessageItem(
            id=f"msg_deleted_{action.payload['id']}",
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[AssistantMessageContent(text=f"Deleted {action.payload['id']}")],
        )
    )


@chatkit_action("staff.only", permission=lambda act: getattr(act.context.user, "is_staff", False))
async def staff_only(thread, action, sender, context, act):
    return act.assistant_message("staff only")


@chatkit_action("thread.rename")
async def rename_thread(thread, action, sender, context, act):
    act.set_title(action.payload["title"])
    return [act.hidden_context(f"renamed to {action.payload['title']}"), act.assistant_message("Renamed")]


@chatkit_action("line.explode")
async def explode(thread, action, sender, context, act):
    yield await act.replace_sender(update={"selected": 42})
