"""Durable runs: one response at a time per thread, checkpointed, stoppable, recoverable.

A *run* is the response to one streaming request (``threads.create``,
``threads.add_user_message``, a custom action, ...). While it runs:

- it holds the thread's :class:`~django_chatkit.models.ThreadRun` row. The row is the
  lock: its primary key is the thread id, so the database refuses a second run in the
  same thread, on PostgreSQL and SQLite alike. A second message waits for the first
  response (``CHATKIT["RUN_WAIT_TIMEOUT"]`` seconds at most, then a 409 ``thread_busy``),
  so two tabs never interleave their items;
- the thread's metadata carries ``chatkit_run`` (run id, start, disconnect mode) for
  ``respond()`` and whoever loads the thread meanwhile; it is read from the lease row,
  never stored with the thread;
- the assistant message being written is saved every ``CHATKIT["RUN_CHECKPOINT_INTERVAL"]``
  seconds, so ``threads.get_by_id`` and ``items.list`` show it growing;
- its stream events go, in batches, to the Channels group of the thread, for the live
  subscribers of :mod:`django_chatkit.transport.live`;
- a heartbeat keeps the row fresh and picks up stop requests made in other processes.

``CHATKIT["DISCONNECT"]`` says what a client disconnect does: ``"cancel"`` stops the
run (the SDK keeps the partial answer), ``"continue"`` lets it finish and persist in full.

A run whose process died (a restart mid-run) is recovered the next time its thread is
loaded or written to: the checkpointed text is kept, marked as interrupted, and the lock
is released.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ItemsListReq,
    SDKHiddenContextItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadsGetByIdReq,
    ThreadStreamEvent,
)
from django.db import connections, router
from django.utils import timezone

from . import models
from .conf import chatkit_settings
from .exceptions import ChatKitRequestError
from .ids import new_id
from .store import RUN_MARKER_KEY, insert_unless_taken, run_marker, to_microseconds

__all__ = [
    "INTERRUPTED_NOTE",
    "METADATA_KEY",
    "Run",
    "ThreadBusy",
    "active_run",
    "before_request",
    "describe",
    "group_name",
    "owner_of",
    "recover",
    "request_stop",
    "running_here",
    "supervise",
]

logger = logging.getLogger("django_chatkit")

#: Key of the run marker in the thread's metadata (from the lease row; never stored).
METADATA_KEY = RUN_MARKER_KEY
#: Appended (as its own content part) to an answer whose run died with its process.
INTERRUPTED_NOTE = "*(Response interrupted: the server stopped before it finished.)*"
_INTERRUPTED_CONTEXT = (
    "The previous assistant response was interrupted by a server restart before it finished. "
    "Do not continue it unless the user asks."
)
_ASSISTANT_UPDATES = (
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartDone,
)
_WAIT_STEPS = (0.02, 0.05, 0.1, 0.2)

_current: contextvars.ContextVar[Run | None] = contextvars.ContextVar("chatkit_run", default=None)
_process: tuple[int, str, dict[str, Run]] | None = None


class ThreadBusy(ChatKitRequestError):
    """Another response is still running in the thread."""

    status = 409
    code = "thread_busy"


def group_name(thread_id: str) -> str:
    """The Channels group that receives a thread's live events."""
    # Group names allow only ASCII letters, digits, hyphens, underscores and periods.
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in thread_id)
    return f"chatkit.thread.{safe}"[:99]


def _this_process() -> tuple[str, dict[str, Run]]:
    """``host:pid:token`` of this process and its registry of runs (both reset after a fork)."""
    global _process
    pid = os.getpid()
    if _process is None or _process[0] != pid:
        _process = (pid, f"{socket.gethostname()}:{pid}:{new_id('p')[2:]}", {})
    return _process[1], _process[2]


def running_here() -> dict[str, Run]:
    """The runs of this process, by thread id."""
    return _this_process()[1]


def active_run() -> Run | None:
    """The run of the current request, inside its stream (for ``respond()`` code)."""
    return _current.get()


def owner_of(context: Any) -> str:
    """The owner string of a request context, as the configured server's store sees it."""
    from .server import get_chatkit_server

    resolve = getattr(get_chatkit_server(), "owner_of", None)
    return resolve(context) if resolve else chatkit_settings.OWNER_RESOLVER(context)


class Run:
    """One response: its lock, checkpoints, heartbeat and live fan-out."""

    def __init__(self, owner: str, mode: str) -> None:
        self.run_id = new_id("run")
        self.owner = owner
        self.mode = mode
        self.thread_id: str | None = None
        self.started_at = timezone.now()  # when its lock was taken, once it is
        self.task: asyncio.Task[Any] | None = None
        self.outcome = "finished"
        self._locked = False
        self._items: dict[str, AssistantMessageItem] = {}
        self._dirty: set[str] = set()
        self._checkpointed: set[str] = set()
        self._save_lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self._store: Any = None
        self._context: Any = None
        self._apply: Callable[..., Any] | None = None
        self._outbox: list[bytes] = []
        self._flusher: asyncio.Task[None] | None = None
        self._live_interval = chatkit_settings.LIVE_EVENTS_INTERVAL  # read once: publish() is per event

    # -- the lock ------------------------------------------------------------------------

    async def acquire(self, thread_id: str) -> None:
        """Take the thread's lock, waiting for a running response; :class:`ThreadBusy`
        after ``RUN_WAIT_TIMEOUT`` seconds. A thread the owner cannot see is left to the
        SDK (which answers 404)."""
        if not await models.Thread.objects.filter(thread_id=thread_id, owner=self.owner).aexists():
            return
        deadline = time.monotonic() + chatkit_settings.RUN_WAIT_TIMEOUT
        attempt = 0
        while not await self._try_lock(thread_id):
            if await recover(thread_id) is None:
                continue  # the holder was dead and is cleared: try again at once
            if time.monotonic() >= deadline:
                raise ThreadBusy(
                    "A response is already being written in this thread; wait for it to finish or stop it."
                )
            await asyncio.sleep(_WAIT_STEPS[min(attempt, len(_WAIT_STEPS) - 1)])
            attempt += 1
        self.thread_id = thread_id
        self._locked = True
        running_here()[thread_id] = self
        self._ticker = asyncio.create_task(self._tick())
        self._notify("started")

    async def _try_lock(self, thread_id: str) -> bool:
        now = self.started_at = timezone.now()
        process, _ = _this_process()
        return await _insert_lease(
            thread_id=thread_id,
            run_id=self.run_id,
            owner=self.owner,
            process=process,
            mode=self.mode,
            started_at=now,
            heartbeat_at=now,
        )

    # -- watching the SDK's events -------------------------------------------------------

    async def begin(self, server: Any, thread: ThreadMetadata, context: Any, stream: Callable[[], AsyncIterator[ThreadStreamEvent]]):
        """Called by the server as its event loop starts: lock a new thread, mark the
        thread as running (for ``respond()``; not stored), and return the handler's
        stream wrapped for checkpoints."""
        if self.thread_id is None:
            await self.acquire(thread.id)
        if not self._locked:
            return stream
        self._store, self._context = server.store, context
        # The SDK's own (pure) update logic keeps our copy identical to what it persists.
        self._apply = server._apply_assistant_message_update
        thread.metadata[METADATA_KEY] = run_marker(self.run_id, self.started_at, self.mode)

        async def watched() -> AsyncIterator[ThreadStreamEvent]:
            try:
                async for event in stream():
                    await self._observe(event)
                    yield event
            finally:
                # Ended, failed or cancelled: whatever the SDK saves next must land last.
                self._items.clear()
                self._dirty.clear()
                async with self._save_lock:
                    pass

        return watched

    async def _observe(self, event: ThreadStreamEvent) -> None:
        if isinstance(event, ThreadItemUpdatedEvent):
            item = self._items.get(event.item_id)
            if item is not None and isinstance(event.update, _ASSISTANT_UPDATES):
                self._apply(item, event.update)
                self._dirty.add(item.id)
        elif isinstance(event, ThreadItemAddedEvent):
            if isinstance(event.item, AssistantMessageItem):
                self._items[event.item.id] = event.item.model_copy(deep=True)
        elif isinstance(event, (ThreadItemDoneEvent, ThreadItemReplacedEvent)):
            await self._settle(event.item.id)
        elif isinstance(event, ThreadItemRemovedEvent):
            await self._settle(event.item_id)

    async def _settle(self, item_id: str) -> None:
        """The SDK is about to save (or delete) the item: no checkpoint may land after it."""
        if self._items.pop(item_id, None) is not None:
            self._dirty.discard(item_id)
            async with self._save_lock:
                pass

    # -- checkpoints and heartbeat -------------------------------------------------------

    async def _tick(self) -> None:
        heartbeat_every = min(1.0, chatkit_settings.RUN_STALE_AFTER / 3)
        last_beat = time.monotonic()
        while True:
            interval = chatkit_settings.RUN_CHECKPOINT_INTERVAL
            await asyncio.sleep(min(interval or heartbeat_every, heartbeat_every))
            try:
                if interval and self._dirty:
                    await self.checkpoint()
                if time.monotonic() - last_beat >= heartbeat_every:
                    last_beat = time.monotonic()
                    if not await self._heartbeat():
                        logger.info("Run %s in %s: stop requested", self.run_id, self.thread_id)
                        self.stop()
                        return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Run %s: checkpoint failed", self.run_id)

    async def checkpoint(self) -> None:
        """Save the in-progress assistant messages as they are now."""
        async with self._save_lock:
            for item_id in list(self._dirty):
                item = self._items.get(item_id)
                self._dirty.discard(item_id)
                if item is None or not any(part.text for part in item.content):
                    continue
                await self._store.save_item(self.thread_id, item.model_copy(deep=True), self._context)
                if item_id not in self._checkpointed:
                    self._checkpointed.add(item_id)
                    await models.ThreadRun.objects.filter(run_id=self.run_id).aupdate(item_id=item_id)

    async def _heartbeat(self) -> bool:
        """Refresh the lock; False when someone asked this run to stop."""
        updated = await models.ThreadRun.objects.filter(run_id=self.run_id, stop_requested=False).aupdate(
            heartbeat_at=timezone.now()
        )
        return bool(updated)

    # -- stop and finish -----------------------------------------------------------------

    def stop(self) -> None:
        """Cancel the response (the SDK keeps its partial answer)."""
        self.outcome = "stopped"
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def finish(self) -> None:
        """Release everything the run holds; runs during cancellation too."""
        if self._ticker is not None:
            self._ticker.cancel()
            async with self._save_lock:  # a checkpoint in flight lands before the release
                pass
        if not self._locked:
            return
        try:
            await _delete_lease(self.run_id)
        finally:
            self._locked = False
            if running_here().get(self.thread_id) is self:
                del running_here()[self.thread_id]
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        await self._flush()
        self._notify(self.outcome)

    # -- live fan-out ----------------------------------------------------------------------

    def publish(self, chunk: bytes) -> None:
        """Queue an SSE chunk for the thread's live subscribers (sent in batches)."""
        if not self._locked or self._live_interval is None:
            return
        self._outbox.append(chunk)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._live_interval or 0)
        self._flusher = None
        await self._flush()

    async def _flush(self) -> None:
        if not self._outbox:
            return
        # Each chunk is ``data: {json}\n\n``: join the JSON texts into an array, unparsed.
        events = b"[" + b",".join(chunk[6:].rstrip() for chunk in self._outbox) + b"]"
        self._outbox = []
        await _group_send(
            self.thread_id,
            {"type": "chatkit.events", "thread_id": self.thread_id, "run_id": self.run_id, "events": events.decode()},
        )

    def _notify(self, state: str) -> None:
        if self._live_interval is None:
            return
        message = {"type": "chatkit.run", "thread_id": self.thread_id, "run_id": self.run_id, "state": state}
        task = asyncio.ensure_future(_group_send(self.thread_id, message))
        _background.add(task)
        task.add_done_callback(_background.discard)


_background: set[asyncio.Future[Any]] = set()


async def _group_send(thread_id: str | None, message: dict[str, Any]) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None or thread_id is None:
        return
    try:
        await layer.group_send(group_name(thread_id), message)
    except Exception:  # live followers are a convenience; the run goes on without them
        logger.warning("Could not send live events of thread %s", thread_id, exc_info=True)


async def _insert_lease(**fields: Any) -> bool:
    """Take the lock row; False when another run holds it."""
    return await insert_unless_taken(models.ThreadRun, **fields)


@sync_to_async
def _delete_lease(run_id: str) -> bool:
    """Release the lock row; False when it was gone already.

    One DELETE statement: ``QuerySet.delete()`` would wrap it in BEGIN/COMMIT to collect
    cascades, and nothing refers to a lease.
    """
    table = models.ThreadRun._meta.db_table
    column = models.ThreadRun._meta.get_field("run_id").column
    connection = connections[router.db_for_write(models.ThreadRun)]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(table)} WHERE {quote(column)} = %s", [run_id])
        return cursor.rowcount > 0


# -- the request side -----------------------------------------------------------------------


async def supervise(request: Any, context: Any, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Run one streaming request as a durable run (see the module docstring)."""
    run = Run(owner=owner_of(context), mode=chatkit_settings.DISCONNECT)
    run.task = asyncio.current_task()
    thread_id = getattr(getattr(request, "params", None), "thread_id", None)
    _current.set(run)
    try:
        if thread_id is not None:
            await run.acquire(thread_id)
        async for chunk in chunks:
            run.publish(chunk)
            yield chunk
    except asyncio.CancelledError:
        if run.outcome == "finished":
            run.outcome = "cancelled"
        raise
    finally:
        _current.set(None)
        await _finish(run)


async def _finish(run: Run) -> None:
    """Release the run, even when this task is cancelled again meanwhile (a stop and a
    disconnect at once): the release must end before the request's context does."""
    finishing = asyncio.ensure_future(run.finish())
    interrupted = False
    while not finishing.done():
        try:
            await asyncio.shield(finishing)
        except asyncio.CancelledError:
            interrupted = True
    if interrupted:
        raise asyncio.CancelledError
    finishing.result()


async def before_request(request: Any) -> None:
    """Loading a thread first recovers a run that died with its process."""
    if isinstance(request, (ThreadsGetByIdReq, ItemsListReq)):
        await recover(request.params.thread_id)


def _is_alive(lease: models.ThreadRun) -> bool:
    host_pid, _, _token = lease.process.rpartition(":")
    host, _, pid_text = host_pid.rpartition(":")
    process, runs = _this_process()
    if lease.process == process:
        run = runs.get(lease.thread_id)
        return run is not None and run.run_id == lease.run_id
    stale = timezone.now() - lease.heartbeat_at > timedelta(seconds=chatkit_settings.RUN_STALE_AFTER)
    if stale:
        return False
    if host == socket.gethostname():
        try:
            pid = int(pid_text)
            if pid == os.getpid():
                return False  # an earlier life of this pid (the token differs)
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except (ValueError, PermissionError):
            pass
    return True


async def recover(thread_id: str) -> models.ThreadRun | None:
    """The thread's running response, or None; a run whose process died is closed here:
    its checkpointed answer is kept and marked as interrupted."""
    lease = await models.ThreadRun.objects.filter(thread_id=thread_id).afirst()
    if lease is None or _is_alive(lease):
        return lease
    # Only one recoverer wins the delete; the others see the lock already gone.
    if await _delete_lease(lease.run_id):
        logger.warning("Run %s in thread %s died with its process; marking it interrupted", lease.run_id, thread_id)
        await _mark_interrupted(lease)
        await _group_send(
            thread_id, {"type": "chatkit.run", "thread_id": thread_id, "run_id": lease.run_id, "state": "interrupted"}
        )
    return None


async def _mark_interrupted(lease: models.ThreadRun) -> None:
    rows = models.ThreadItem.objects.filter(thread_id=lease.thread_id, owner=lease.owner)
    if lease.item_id:
        data = await rows.filter(item_id=lease.item_id).values_list("data", flat=True).afirst()
        if data and data.get("type") == "assistant_message":
            content = data.setdefault("content", [])
            content.append(AssistantMessageContent(text=INTERRUPTED_NOTE).model_dump(mode="json"))
            await rows.filter(item_id=lease.item_id).aupdate(data=data)
    now = datetime.now()
    hidden = SDKHiddenContextItem(
        id=new_id("shcx"), thread_id=lease.thread_id, created_at=now, content=_INTERRUPTED_CONTEXT
    )
    await models.ThreadItem.objects.acreate(
        thread_id=lease.thread_id,
        item_id=hidden.id,
        owner=lease.owner,
        type=hidden.type,
        created_at_us=to_microseconds(now),
        data=hidden.model_dump(mode="json"),
    )


async def request_stop(thread_id: str, owner: str) -> bool:
    """Stop the owner's running response in the thread, wherever it runs; False if none."""
    lease = await models.ThreadRun.objects.filter(thread_id=thread_id, owner=owner).afirst()
    if lease is None:
        return False
    run = running_here().get(thread_id)
    if run is not None and run.run_id == lease.run_id:
        run.stop()
        return True
    if not _is_alive(lease):
        await recover(thread_id)
        return False
    # Another process runs it: its heartbeat sees the flag within a second.
    return bool(await models.ThreadRun.objects.filter(run_id=lease.run_id).aupdate(stop_requested=True))


def describe(lease: models.ThreadRun | None) -> dict[str, Any] | None:
    """A running response as JSON for clients."""
    if lease is None:
        return None
    return {
        "run_id": lease.run_id,
        "item_id": lease.item_id or None,
        "mode": lease.mode,
        "started_at": lease.started_at.isoformat(),
    }
