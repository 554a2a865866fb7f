"""The event journal of a response: every item its events change, as the client saw it.

The SDK persists an item when its ``thread.item.done``, ``.replaced`` or ``.removed``
event passes, and keeps the items still streaming in memory for a cancellation. What it
does not keep are changes streamed as ``thread.item.updated`` to an item that is already
stored (a widget an action updates in place), and it shares objects with the events it
applies: the journal keeps its own copy of everything, built from copies of what the
events carry, so the state it saves is exactly what the client was sent.

A :class:`Journal` is fed every event of one response (:meth:`Journal.observe`), in
order, before the SDK sees it. At any moment it can tell:

- :meth:`Journal.pending`: the items added but not done yet (an answer being written);
- :meth:`Journal.take_changes`: the items changed since the last call and not settled
  by the SDK since: what a checkpoint saves.

Every kind of ``thread.item.updated`` update the SDK defines is applied:

============================================  ==============================================
update                                        applied to
============================================  ==============================================
``assistant_message.content_part.added``      the message's content part (set)
``assistant_message.content_part.text_delta`` the content part's text (appended)
``assistant_message.content_part.annotation_added``  the content part's annotations (inserted)
``assistant_message.content_part.done``       the message's content part (set)
``widget.root.updated``                       the widget item's whole widget (replaced)
``widget.component.updated``                  the component with that id (replaced)
``widget.streaming_text.value_delta``         the ``value`` of the text component (appended)
``workflow.task.added``                       the workflow's tasks (appended)
``workflow.task.updated``                     the task at that index (replaced)
``generated_image.updated``                   the generated image item's image (replaced)
============================================  ==============================================
"""

from __future__ import annotations

from typing import Any, get_args

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    GeneratedImageItem,
    GeneratedImageUpdated,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdate,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    WidgetComponentUpdated,
    WidgetItem,
    WidgetRootUpdated,
    WidgetStreamingTextValueDelta,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)
from pydantic import BaseModel

__all__ = [
    "INTERRUPTED_NOTE",
    "STOPPED_NOTE",
    "UPDATE_KINDS",
    "Journal",
    "apply_update",
    "interruption_marker",
    "is_interruption_marker",
    "with_marker",
]

#: Every ``thread.item.updated`` update type the installed SDK defines (the journal
#: applies each one; a test fails when the SDK adds a kind this module does not know).
UPDATE_KINDS: tuple[str, ...] = tuple(model.model_fields["type"].default for model in get_args(ThreadItemUpdate))

#: The interruption marker: the last content part of an answer that did not finish.
#: It comes after the text the server produced (which is kept exactly), is the same in
#: every language, and the built-in client shows it as a notice, not as answer text.
STOPPED_NOTE = "*(Response stopped.)*"
INTERRUPTED_NOTE = "*(Response interrupted: the server stopped before it finished.)*"
_MARKERS = frozenset({STOPPED_NOTE, INTERRUPTED_NOTE})


def interruption_marker(interrupted: bool) -> AssistantMessageContent:
    """The marker content part: ``interrupted`` for a server that stopped (crash,
    drain timeout), else for a stop or a disconnect."""
    return AssistantMessageContent(text=INTERRUPTED_NOTE if interrupted else STOPPED_NOTE)


def is_interruption_marker(part: Any) -> bool:
    """Whether a content part (model or JSON) is the interruption marker."""
    text = part.get("text") if isinstance(part, dict) else getattr(part, "text", None)
    return text in _MARKERS


def with_marker(item: AssistantMessageItem, interrupted: bool) -> AssistantMessageItem:
    """A copy of ``item`` that ends with exactly one interruption marker."""
    content = [part for part in item.content if not is_interruption_marker(part)]
    return item.model_copy(update={"content": [*content, interruption_marker(interrupted)]})


def apply_update(item: ThreadItem, update: BaseModel) -> bool:
    """Apply one ``thread.item.updated`` update to ``item`` in place, from a copy of
    whatever the update carries. False when the update does not fit the item."""
    if isinstance(item, AssistantMessageItem):
        return _apply_to_message(item, update)
    if isinstance(item, WidgetItem):
        return _apply_to_widget(item, update)
    if isinstance(item, WorkflowItem):
        if isinstance(update, WorkflowTaskAdded):
            item.workflow.tasks.append(update.task.model_copy(deep=True))
            return True
        if isinstance(update, WorkflowTaskUpdated):
            tasks = item.workflow.tasks
            if 0 <= update.task_index < len(tasks):
                tasks[update.task_index] = update.task.model_copy(deep=True)
            elif update.task_index == len(tasks):
                tasks.append(update.task.model_copy(deep=True))
            else:
                return False
            return True
        return False
    if isinstance(item, GeneratedImageItem) and isinstance(update, GeneratedImageUpdated):
        item.image = update.image.model_copy(deep=True)
        return True
    return False


def _apply_to_message(item: AssistantMessageItem, update: BaseModel) -> bool:
    if not isinstance(
        update,
        (
            AssistantMessageContentPartAdded,
            AssistantMessageContentPartTextDelta,
            AssistantMessageContentPartAnnotationAdded,
            AssistantMessageContentPartDone,
        ),
    ):
        return False
    index = update.content_index
    if index < 0:
        return False
    while len(item.content) <= index:
        item.content.append(AssistantMessageContent(text=""))
    if isinstance(update, (AssistantMessageContentPartAdded, AssistantMessageContentPartDone)):
        item.content[index] = update.content.model_copy(deep=True)
    elif isinstance(update, AssistantMessageContentPartTextDelta):
        item.content[index].text += update.delta
    else:
        annotations = item.content[index].annotations
        position = min(max(update.annotation_index, 0), len(annotations))
        annotations.insert(position, update.annotation.model_copy(deep=True))
    return True


def _apply_to_widget(item: WidgetItem, update: BaseModel) -> bool:
    if isinstance(update, WidgetRootUpdated):
        item.widget = update.widget.model_copy(deep=True)
        return True
    if isinstance(update, WidgetComponentUpdated):
        replacement = update.component.model_copy(deep=True)
        return _replace_component(item.widget, update.component_id, lambda _old: replacement)
    if isinstance(update, WidgetStreamingTextValueDelta):

        def extended(old: Any) -> Any:
            value = getattr(old, "value", None)
            return old.model_copy(update={"value": (value if isinstance(value, str) else "") + update.delta})

        return _replace_component(item.widget, update.component_id, extended)
    return False


def _replace_component(node: Any, component_id: str, make: Any) -> bool:
    """Replace the component with ``id == component_id`` below ``node``, in place."""
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            if _is_component(value, component_id):
                setattr(node, name, make(value))
                return True
            if _replace_component(value, component_id, make):
                return True
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if _is_component(value, component_id):
                node[index] = make(value)
                return True
            if _replace_component(value, component_id, make):
                return True
    return False


def _is_component(value: Any, component_id: str) -> bool:
    return isinstance(value, BaseModel) and getattr(value, "id", None) == component_id


class Journal:
    """The items one response changes (see the module docstring)."""

    def __init__(self) -> None:
        self._pending: dict[str, ThreadItem] = {}  # added, not done: the SDK has not stored them
        self._stored: dict[str, ThreadItem] = {}  # stored items the response changed since
        self._changed: set[str] = set()  # changed since the last take_changes()
        self._unknown: set[str] = set()  # updated items that are not stored anywhere
        self.answered = False  # an answer of the response is done (stored whole)

    def needs(self, event: ThreadStreamEvent) -> str | None:
        """The id of a stored item that ``event`` updates and the journal has no copy
        of yet: load it and pass it to :meth:`observe` with the event."""
        if isinstance(event, ThreadItemUpdatedEvent):
            item_id = event.item_id
            if item_id not in self._pending and item_id not in self._stored and item_id not in self._unknown:
                return item_id
        return None

    def observe(self, event: ThreadStreamEvent, stored: ThreadItem | None = None) -> None:
        """Follow one event, in stream order; ``stored`` is the item :meth:`needs` asked
        for (None when it does not exist: its updates are then not the journal's)."""
        if isinstance(event, ThreadItemUpdatedEvent):
            item_id = event.item_id
            item = self._pending.get(item_id) or self._stored.get(item_id)
            if item is None:
                if stored is None or stored.id != item_id:
                    self._unknown.add(item_id)
                    return
                item = self._stored[item_id] = stored.model_copy(deep=True)
            if apply_update(item, event.update):
                self._changed.add(item_id)
        elif isinstance(event, ThreadItemAddedEvent):
            self._pending[event.item.id] = event.item.model_copy(deep=True)
            self._changed.add(event.item.id)
        elif isinstance(event, (ThreadItemDoneEvent, ThreadItemReplacedEvent)):
            if isinstance(event.item, AssistantMessageItem):
                self.answered = True
            self.settle(event.item.id)
        elif isinstance(event, ThreadItemRemovedEvent):
            self.settle(event.item_id)

    def settle(self, item_id: str) -> None:
        """The SDK stores (or deletes) the item now: the journal's copy is no longer news."""
        self._pending.pop(item_id, None)
        self._stored.pop(item_id, None)
        self._changed.discard(item_id)
        self._unknown.discard(item_id)

    def pending(self) -> list[ThreadItem]:
        """Copies of the items added and not done, in the order they were added."""
        return [item.model_copy(deep=True) for item in self._pending.values()]

    def take_changes(self) -> list[ThreadItem]:
        """Copies of the items changed since the last call (worth saving: pending items
        with something to show, stored items the response updated)."""
        return [item.model_copy(deep=True) for item in self.take_changed()]

    def take_changed(self) -> list[ThreadItem]:
        """:meth:`take_changes` without the copies: the journal's own items, which the
        next event changes. Read them at once (a checkpoint serializes them before it
        awaits anything), never keep them."""
        changed = []
        for item_id in self._changed:
            item = self._pending.get(item_id) or self._stored.get(item_id)
            if item is not None and (item_id in self._stored or _worth_saving(item)):
                changed.append(item)
        self._changed.clear()
        return changed


def _worth_saving(item: ThreadItem) -> bool:
    """A pending item shown to a user who reloads: an answer with text, any widget,
    workflow or image (an empty answer is what the SDK would drop too)."""
    if isinstance(item, AssistantMessageItem):
        return any(part.text.strip() for part in item.content)
    return isinstance(item, (WidgetItem, WorkflowItem, GeneratedImageItem))
