"""Servers for the journal tests: an answer in several content parts with an annotation,
streamed at a pace, and updates of every kind to items that are already stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit.types import (
    Action,
    Annotation,
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    CustomTask,
    GeneratedImage,
    GeneratedImageItem,
    GeneratedImageUpdated,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    URLSource,
    UserMessageItem,
    WidgetComponentUpdated,
    WidgetItem,
    WidgetRootUpdated,
    WidgetStreamingTextValueDelta,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)
from chatkit.widgets import Button, Card, Markdown, Text

from django_chatkit.offline import message_text
from django_chatkit.server import DjangoChatKitServer

#: The answer of :class:`PartsServer`: two content parts, one delta per word.
PARTS = (tuple(f"a{i} " for i in range(30)), tuple(f"b{i} " for i in range(30)))
ANNOTATION = Annotation(source=URLSource(url="https://example.com/a", title="A"), index=3)
PACE = 0.01


class PartsServer(DjangoChatKitServer):
    """Answers with :data:`PARTS`: part 0 word by word, an annotation on it, part 0 done,
    then part 1 word by word, one delta every :data:`PACE` seconds."""

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        item = AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        yield ThreadItemAddedEvent(item=item)
        for index, words in enumerate(PARTS):
            # The part the event carries starts empty: a journal that kept this very object
            # would see every later delta twice.
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartAdded(content_index=index, content=AssistantMessageContent(text="")),
            )
            for word in words:
                await asyncio.sleep(PACE)
                yield ThreadItemUpdatedEvent(
                    item_id=item.id,
                    update=AssistantMessageContentPartTextDelta(content_index=index, delta=word),
                )
            if index == 0:
                yield ThreadItemUpdatedEvent(
                    item_id=item.id,
                    update=AssistantMessageContentPartAnnotationAdded(
                        content_index=0, annotation_index=0, annotation=ANNOTATION
                    ),
                )
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartDone(
                    content_index=index,
                    content=AssistantMessageContent(
                        text="".join(words), annotations=[ANNOTATION] if index == 0 else []
                    ),
                ),
            )
        item.content = [
            AssistantMessageContent(text="".join(PARTS[0]), annotations=[ANNOTATION]),
            AssistantMessageContent(text="".join(PARTS[1])),
        ]
        yield ThreadItemDoneEvent(item=item)


def first_card() -> Card:
    return Card(
        children=[
            Text(id="status", value="Pick a meal"),
            Markdown(id="notes", value="Notes:"),
            Button(id="pick", label="Vegetarian", onClickAction={"type": "meal.pick", "payload": {}}),
        ]
    )


class UpdatesServer(DjangoChatKitServer):
    """``respond``: shows the card, a workflow and a generated image, each done (stored).
    ``action``: the payload's ``kind`` names the update streamed to the stored item."""

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        now = datetime.now()
        new_id = lambda kind: self.store.generate_item_id(kind, thread, context)  # noqa: E731
        yield ThreadItemDoneEvent(
            item=WidgetItem(id=new_id("message"), thread_id=thread.id, created_at=now, widget=first_card())
        )
        workflow = Workflow(type="custom", tasks=[CustomTask(title="Look up meals", status_indicator="loading")])
        yield ThreadItemDoneEvent(
            item=WorkflowItem(id=new_id("workflow"), thread_id=thread.id, created_at=now, workflow=workflow)
        )
        yield ThreadItemDoneEvent(
            item=GeneratedImageItem(id=new_id("message"), thread_id=thread.id, created_at=now, image=None)
        )
        if message_text(input_user_message) == "pending widget":
            # A widget added, updated while pending, never done: what the user saw is kept.
            item = WidgetItem(id=new_id("message"), thread_id=thread.id, created_at=now, widget=first_card())
            yield ThreadItemAddedEvent(item=item)
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=WidgetStreamingTextValueDelta(component_id="notes", delta=" pending", done=False),
            )

    async def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        for update in UPDATES[action.payload["kind"]]:
            target = action.payload.get("item_id") or (sender.id if sender else None)
            yield ThreadItemUpdatedEvent(item_id=target, update=update)


#: Each update kind the SDK defines for a stored item, as a short sequence.
UPDATES: dict[str, list[Any]] = {
    "widget.root.updated": [
        WidgetRootUpdated(widget=Card(children=[Text(id="status", value="Vegetarian it is")])),
    ],
    "widget.component.updated": [
        WidgetComponentUpdated(component_id="status", component=Text(id="status", value="Saved: vegetarian")),
        WidgetComponentUpdated(
            component_id="pick",
            component=Button(id="pick", label="Change", onClickAction={"type": "meal.change", "payload": {}}),
        ),
    ],
    "widget.streaming_text.value_delta": [
        WidgetStreamingTextValueDelta(component_id="notes", delta=" no nuts", done=False),
        WidgetStreamingTextValueDelta(component_id="notes", delta=", no dairy", done=True),
    ],
    "workflow.task.added": [
        WorkflowTaskAdded(task_index=1, task=CustomTask(title="Book a table", status_indicator="none")),
    ],
    "workflow.task.updated": [
        WorkflowTaskUpdated(task_index=0, task=CustomTask(title="Look up meals", status_indicator="complete")),
    ],
    "generated_image.updated": [
        GeneratedImageUpdated(image=GeneratedImage(id="img_1", url="https://example.com/partial.png"), progress=0.5),
        GeneratedImageUpdated(image=GeneratedImage(id="img_1", url="https://example.com/final.png"), progress=1.0),
    ],
}
