"""A server action the browser tests click: it replaces the widget that sent it and tells
the page through a client effect. Imported by tests/browser/urls.py, so the live
server registers it."""

from __future__ import annotations

from chatkit.types import ThreadItemReplacedEvent
from chatkit.widgets import Card, Text

from django_chatkit.actions import chatkit_action, registry


def _register() -> None:
    if registry.get("browser.replace") is not None:
        return

    @chatkit_action("browser.replace")
    async def replace_widget(thread, action, sender, context, act):
        label = action.payload["label"]
        card = Card(children=[Text(id="label", value=f"Replaced with {label}")])
        yield ThreadItemReplacedEvent(item=sender.model_copy(update={"widget": card}))
        yield act.client_effect("replaced", {"label": label})


_register()
