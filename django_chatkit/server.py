"""The ChatKit server a Django site subclasses.

``DjangoChatKitServer`` is the SDK's ``ChatKitServer`` with the Django stores plugged
in, feedback persisted, and dictation routed to a configurable transcriber. Subclass it
and implement ``respond()`` (or use :class:`django_chatkit.offline.OfflineChatKitServer`
or the agents server), then name the class in ``CHATKIT["SERVER_CLASS"]``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import AttachmentStore, NotFoundError, Store
from chatkit.types import ChatKitReq, ItemsListReq, is_streaming_req
from pydantic import TypeAdapter
from chatkit.types import (
    Action,
    AudioInput,
    FeedbackKind,
    SyncCustomActionResponse,
    ThreadMetadata,
    ThreadStreamEvent,
    TranscriptionResult,
    WidgetItem,
)

from . import models, runs
from .actions import run_action, run_sync_action
from .conf import chatkit_settings
from .context import RequestContext
from .exceptions import NotConfigured
from .store import DjangoAttachmentStore, DjangoStore

__all__ = ["DjangoChatKitServer", "get_chatkit_server"]

# Built once: the SDK's ``process`` builds this adapter on every request (~2.5 ms).
_REQUEST_ADAPTER: TypeAdapter[Any] = TypeAdapter(ChatKitReq)


class DjangoChatKitServer(ChatKitServer[RequestContext]):
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

    def owner_of(self, context: Any) -> str:
        owner_of = getattr(self.store, "owner_of", None)
        return owner_of(context) if owner_of else chatkit_settings.OWNER_RESOLVER(context)

    async def process(self, request: str | bytes | bytearray, context: Any) -> StreamingResult | NonStreamingResult:
        """The SDK's ``process``, parsing with a request schema built once instead of per
        request (the rebuild was the largest fixed cost of a turn in bench/)."""
        parsed = _REQUEST_ADAPTER.validate_json(request)
        if is_streaming_req(parsed):
            return StreamingResult(self._process_streaming(parsed, context))
        if isinstance(parsed, ItemsListReq):
            # The store answers an empty page for a thread that is not the requester's
            # (the SDK's Store contract); over HTTP it is a 404, like every other op.
            await self.store.load_thread(parsed.params.thread_id, context)
        return NonStreamingResult(await self._process_non_streaming(parsed, context))

    async def _process_events(self, thread: Any, context: Any, stream: Any) -> AsyncIterator[Any]:
        """The SDK's event loop, watched by this request's durable run (checkpoints, the
        thread's run marker): see :mod:`django_chatkit.runs`."""
        run = runs.active_run()
        if run is not None:
            stream = await run.begin(self, thread, context, stream)
        async for event in super()._process_events(thread, context, stream):
            yield event

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: Any
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
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Run the ``@chatkit_action`` handler registered for ``action.type`` (an ``error`` event if none)."""
        return run_action(self, thread, action, sender, context)

    async def sync_action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: Any
    ) -> SyncCustomActionResponse:
        """Run the ``sync=True`` handler for ``action.type`` and save the item it updated."""
        return await run_sync_action(self, thread, action, sender, context)

    async def transcribe(self, audio_input: AudioInput, context: Any) -> TranscriptionResult:
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


_servers: dict[type, ChatKitServer[Any]] = {}


def get_chatkit_server() -> ChatKitServer[Any]:
    """The instance of ``CHATKIT["SERVER_CLASS"]`` (one per class, built on first use).
    A plain ``ChatKitServer`` subclass runs on the Django stores (:mod:`django_chatkit.compat`)."""
    from .compat import adopt

    server_class = adopt(chatkit_settings.SERVER_CLASS)
    server = _servers.get(server_class)
    if server is None:
        server = _servers[server_class] = server_class()
    return server
