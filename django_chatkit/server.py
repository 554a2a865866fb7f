"""The ChatKit server a Django site subclasses.

``DjangoChatKitServer`` is the SDK's ``ChatKitServer`` with the Django stores plugged
in, feedback persisted, and dictation routed to a configurable transcriber. Subclass it
and implement ``respond()`` (or use :class:`django_chatkit.offline.OfflineChatKitServer`
or the agents server), then name the class in ``CHATKIT["SERVER_CLASS"]``.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.store import AttachmentStore, NotFoundError, Store
from chatkit.types import (
    Action,
    AudioInput,
    FeedbackKind,
    ItemsListReq,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    TranscriptionResult,
    WidgetItem,
)

from . import models, runs
from .actions import ActionContext, run_action, run_sync_action
from .compat import SDKServerSeams
from .conf import chatkit_settings
from .context import RequestContext
from .exceptions import NotConfigured
from .journal import Journal
from .store import DjangoAttachmentStore, DjangoStore

__all__ = ["DjangoChatKitServer"]

_journal: contextvars.ContextVar[Journal | None] = contextvars.ContextVar("chatkit_journal", default=None)


class DjangoChatKitServer(SDKServerSeams[RequestContext]):
    """``ChatKitServer`` wired to Django: models, feedback, transcription, ``@chatkit_action`` dispatch."""

    def __init__(
        self,
        store: Store[Any] | None = None,
        attachment_store: AttachmentStore[Any] | None = None,
    ) -> None:
        super().__init__(
            store=store if store is not None else DjangoStore(),
            attachment_store=attachment_store if attachment_store is not None else DjangoAttachmentStore(),
        )

    def owner_of(self, context: RequestContext) -> str:
        owner_of = getattr(self.store, "owner_of", None)
        return owner_of(context) if owner_of else chatkit_settings.OWNER_RESOLVER(context)

    async def process_parsed(self, parsed: Any, context: RequestContext) -> StreamingResult | NonStreamingResult:
        if isinstance(parsed, ItemsListReq):
            # The store answers an empty page for a thread that is not the requester's
            # (the SDK's Store contract); over HTTP it is a 404, like every other op.
            await self.store.load_thread(parsed.params.thread_id, context)
        return await super().process_parsed(parsed, context)

    async def begin_events(
        self, thread: ThreadMetadata, context: RequestContext, stream: Callable[[], AsyncIterator[ThreadStreamEvent]]
    ) -> Callable[[], AsyncIterator[ThreadStreamEvent]]:
        """Every response's events pass through a :class:`~django_chatkit.journal.Journal`
        before the SDK sees them; the request's durable run checkpoints what it records
        (see :mod:`django_chatkit.runs`)."""
        journal = Journal()
        _journal.set(journal)
        run = runs.active_run()
        if run is not None:
            await run.begin(self.store, thread, context, journal)

        async def journaled() -> AsyncIterator[ThreadStreamEvent]:
            async for event in stream():
                wanted = journal.needs(event)
                stored = await self._stored_item(thread.id, wanted, context) if wanted else None
                journal.observe(event, stored)
                settled = _settled_item_id(event)
                if settled is not None and run is not None:
                    await run.settled(settled)
                yield event
            # The SDK stores items when they are done; what changed otherwise is saved here.
            await runs.save_changes(self.store, thread, journal, context)

        return journaled

    async def _stored_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem | None:
        try:
            return await self.store.load_item(thread_id, item_id, context)
        except NotFoundError:
            return None

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        """Keep exactly what the cancelled response had produced, plus one interruption
        marker (see :func:`django_chatkit.runs.save_unfinished`)."""
        journal = _journal.get()
        await asyncio.shield(runs.save_unfinished(self.store, thread, journal, pending_items, context))

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        """Persist ``items.feedback`` (the SDK's default drops it); unknown items are a 404."""
        owner = self.owner_of(context)
        await self.store.load_thread(thread_id, context)  # NotFoundError for foreign threads
        wanted = set(item_ids)
        found = {
            item_id
            async for item_id in models.ThreadItem.objects.filter(
                thread_id=thread_id, owner=owner, item_id__in=wanted
            ).values_list("item_id", flat=True)
        }
        missing = sorted(wanted - found)
        if missing:
            raise NotFoundError(f"Item {missing[0]} not found in thread {thread_id}")
        await models.Feedback.objects.abulk_create(
            [models.Feedback(thread_id=thread_id, item_id=i, owner=owner, kind=feedback) for i in sorted(wanted)],
            update_conflicts=True,
            unique_fields=["thread", "item_id", "owner"],
            update_fields=["kind", "updated_at"],
        )

    def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Run the ``@chatkit_action`` handler registered for ``action.type`` (an ``error`` event if none)."""
        return run_action(ActionContext(self, thread, action, sender, context, action.payload))

    async def sync_action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: RequestContext
    ) -> SyncCustomActionResponse:
        """Run the ``sync=True`` handler for ``action.type`` and save the item it updated."""
        return await run_sync_action(ActionContext(self, thread, action, sender, context, action.payload))

    async def transcribe(self, audio_input: AudioInput, context: RequestContext) -> TranscriptionResult:
        """Dictation through ``CHATKIT["TRANSCRIBER"]``; a clear 501 when none is configured."""
        transcriber = chatkit_settings.TRANSCRIBER
        if transcriber is None:
            raise NotConfigured(
                "Dictation is not configured: set CHATKIT['TRANSCRIBER'] to a function "
                "(audio_input, context) -> TranscriptionResult."
            )
        result = transcriber(audio_input, context)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, str):
            result = TranscriptionResult(text=result)
        return result


def _settled_item_id(event: ThreadStreamEvent) -> str | None:
    """The item the SDK stores (or deletes) when this event passes."""
    if event.type in ("thread.item.done", "thread.item.replaced"):
        return event.item.id
    if event.type == "thread.item.removed":
        return event.item_id
    return None
