"""The demo's server actions (found by autodiscovery, like admin.py).

``line.select`` is the seed's server-handled action: the line selector widget is
replaced with the selection, an assistant message confirms it, and the browser gets a
``selection_changed`` client effect. The other actions of the shipped widgets
(``item.select``, ``open_article``, ``select_option``, ``more_suggestions``) are
client-handled: the browser's ``onAction`` answers them, so they have no handler here.
"""

from __future__ import annotations

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
