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
- its :class:`~django_chatkit.journal.Journal` follows every event, and what it changed
  is saved every ``CHATKIT["RUN_CHECKPOINT_INTERVAL"]`` seconds (the answer being
  written, widgets updated in place), so a reload shows it as the user saw it;
- its stream events go, in batches, to the Channels group of the thread, but only while
  a live subscriber somewhere follows the thread (:mod:`django_chatkit.transport.live`);
- a heartbeat keeps the row fresh and picks up stop requests made in other processes.

Checkpoints and heartbeats are the process's, not the run's: one task per process
(:class:`_Ticker`) saves the changes of all its runs in one statement per interval and
refreshes all their leases in another, however many answers are being written.

``CHATKIT["DISCONNECT"]`` says what a client disconnect does: ``"cancel"`` stops the
run (its partial answer is kept, see below), ``"continue"`` lets it finish in full.

An answer that does not finish keeps exactly the text the server had produced, followed
by one interruption marker (:data:`~django_chatkit.journal.STOPPED_NOTE` after a stop or
a disconnect, :data:`~django_chatkit.journal.INTERRUPTED_NOTE` when the server stopped).
A run whose process died (a restart mid-run) is recovered the next time its owner loads
or writes to the thread: the checkpointed text is kept, marked, and the lock released.

On SIGTERM (:func:`drain`) a worker refuses new responses and lets the running ones
finish for ``CHATKIT["DRAIN_TIMEOUT"]`` seconds before it saves them as interrupted.

Long because: a run's lifecycle (lock, checkpoints, heartbeat, stop, live fan-out,
recovery, drain) is one state machine over its ``ThreadRun`` row.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import time
import weakref
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from chatkit.store import Store
from chatkit.types import (
    AssistantMessageItem,
    ItemsListReq,
    SDKHiddenContextItem,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadMetadata,
    ThreadsGetByIdReq,
    is_streaming_req,
)
from django.db import connections
from django.utils import timezone

from . import models
from .conf import chatkit_settings
from .context import TContext
from .db import on_thread, pick_thread
from .exceptions import Draining, ThreadBusy
from .ids import new_id
from .journal import INTERRUPTED_NOTE, STOPPED_NOTE, Journal, with_marker
from .store import (
    RUN_MARKER_KEY,
    column_name,
    insert_unless_taken,
    item_row,
    run_marker,
    to_microseconds,
    upsert_item_rows,
    write_alias,
)

__all__ = [
    "INTERRUPTED_NOTE",
    "METADATA_KEY",
    "STOPPED_NOTE",
    "Draining",
    "Run",
    "ThreadBusy",
    "active_run",
    "before_request",
    "describe",
    "drain",
    "draining",
    "follow",
    "group_name",
    "recover",
    "request_stop",
    "running_here",
    "save_changes",
    "save_unfinished",
    "stop_draining",
    "supervise",
]

logger = logging.getLogger("django_chatkit")

#: Key of the run marker in the thread's metadata (from the lease row; never stored).
METADATA_KEY = RUN_MARKER_KEY
#: How long a run keeps its first events for a subscriber that answers its "started" message
#: (seconds); one that comes later gets the answer so far, summarized.
EARLY_REPLAY = 2.0
#: Longest a run's start waits for its process to listen for live interest (seconds).
LISTEN_TIMEOUT = 1.0
#: Pause before listening again after the channel layer failed (seconds).
LISTEN_RETRY = 1.0
#: The group every process that runs answers listens on for live interest.
INTEREST_GROUP = "chatkit.live-interest"
_INTERRUPTED_CONTEXT = (
    "The previous assistant response was interrupted by a server restart before it finished. "
    "Do not continue it unless the user asks."
)
_STOPPED_CONTEXT = "The user cancelled the stream. Stop responding to the prior request."
_WAIT_STEPS = (0.02, 0.05, 0.1, 0.2)

_current: contextvars.ContextVar[Run | None] = contextvars.ContextVar("chatkit_run", default=None)
_process: tuple[int, str, dict[str, Run]] | None = None
_draining = False
_streams_of: tuple[int, set[Run]] = (os.getpid(), set())


def _streams() -> set[Run]:
    """The streaming requests of this process, locked or not yet (reset after a fork)."""
    global _streams_of
    if _streams_of[0] != os.getpid():
        _streams_of = (os.getpid(), set())
    return _streams_of[1]


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


def draining() -> bool:
    """Whether this worker is draining (see :func:`drain`)."""
    return _draining


class Run:
    """One response: its lock, its journal, stop, and live fan-out."""

    def __init__(self, owner: str, mode: str) -> None:
        self.run_id = new_id("run")
        self.owner = owner
        self.mode = mode
        self.thread_id: str | None = None
        self.started_at = timezone.now()  # when its lock was taken, once it is
        self.task: asyncio.Task[Any] | None = None
        self.outcome = "finished"
        self.journal: Journal | None = None
        self.live = False  # a live subscriber follows the thread: publish its events
        self.checkpointed_item: str | None = None  # the answer the lease row points at
        # Done once the run has released all it holds (drain waits on it); a future, not
        # an Event, for its size: there is one for every open stream.
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._locked = False
        # The response's store and its context, from begin(): of any context type (the
        # transport makes the run before the server's context exists).
        self._store: Store[Any] | None = None
        self._context: Any = None
        self._outbox: list[bytes] = []
        # The first events of an unfollowed run, kept for EARLY_REPLAY seconds: a subscriber
        # elsewhere learns of the run from its "started" message and answers a moment later;
        # it then gets these exact events instead of a summary of the answer so far.
        self._early: list[bytes] | None = []
        self._early_until = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self._live_interval = chatkit_settings.LIVE_EVENTS_INTERVAL  # read once: publish() is per event

    # -- the lock ------------------------------------------------------------------------

    async def acquire(self, thread_id: str, context: object = None) -> None:
        """Take the thread's lock, waiting for a running response; :class:`ThreadBusy`
        after ``RUN_WAIT_TIMEOUT`` seconds. A thread the owner cannot see is left to the
        SDK (which answers 404); one the store has seen the owner own during this
        request (``context.owned_threads``: it just created it) is not looked up again."""
        owned = getattr(context, "owned_threads", None) or ()
        known = (self.owner, thread_id) in owned
        if not known and not await models.Thread.objects.filter(thread_id=thread_id, owner=self.owner).aexists():
            return
        deadline = time.monotonic() + chatkit_settings.RUN_WAIT_TIMEOUT
        attempt = 0
        while not await self._try_lock(thread_id):
            if await recover(thread_id, self.owner) is None:
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
        ticker = _Ticker.here()
        ticker.add(self)
        # Subscribers elsewhere answer "started" by announcing their interest again: this
        # process must be listening by then, or the announcement is lost for a TTL.
        await ticker.listening()
        self.live = ticker.is_followed(thread_id)
        self._early_until = time.monotonic() + EARLY_REPLAY
        self._notify("started")

    async def _try_lock(self, thread_id: str) -> bool:
        now = self.started_at = timezone.now()
        process, _ = _this_process()
        return await insert_unless_taken(
            models.ThreadRun,
            thread_id=thread_id,
            run_id=self.run_id,
            owner=self.owner,
            process=process,
            mode=self.mode,
            started_at=now,
            heartbeat_at=now,
        )

    # -- following the response's events -------------------------------------------------

    async def begin(self, store: Store[TContext], thread: ThreadMetadata, context: TContext, journal: Journal) -> None:
        """Called by the server as its event loop starts: lock a new thread, mark it as
        running (for ``respond()``; not stored) and checkpoint what ``journal`` records."""
        if self.thread_id is None:
            await self.acquire(thread.id, context)
        if not self._locked:
            return
        self._store, self._context, self.journal = store, context, journal
        thread.metadata[METADATA_KEY] = run_marker(self.run_id, self.started_at, self.mode)

    async def settled(self, item_id: str) -> None:
        """The SDK is about to save (or delete) the item: a checkpoint of it in flight
        lands first, so the SDK's write is the last."""
        if self._locked:
            await _Ticker.here().written(self, item_id)

    def changes(self) -> list[ThreadItem]:
        """What the journal recorded since the last checkpoint (for :class:`_Ticker`): the
        journal's own items, to be read before the next event changes them."""
        if self.journal is None or not self._locked:
            return []
        return self.journal.take_changed()

    # -- stop and finish -----------------------------------------------------------------

    def stop(self, outcome: str = "stopped") -> None:
        """Cancel the response (its partial answer is kept, marked)."""
        self.outcome = outcome
        if self.task is not None and not self.task.done():
            self.task.cancel()

    @property
    def interrupted(self) -> bool:
        """Whether the server, not the user, ended the response (a drain timeout)."""
        return self.outcome == "interrupted"

    async def finish(self) -> None:
        """Release everything the run holds; runs during cancellation too."""
        try:
            if not self._locked:
                return
            ticker = _Ticker.here()
            await ticker.written(self, None)  # a checkpoint in flight lands before the release
            ticker.discard(self)
            try:
                await _delete_lease(self.run_id)
            finally:
                self._locked = False
                if self.thread_id is not None and running_here().get(self.thread_id) is self:
                    del running_here()[self.thread_id]
            if self._flusher is not None:
                self._flusher.cancel()
                self._flusher = None
            await self._flush()
            self._notify(self.outcome)
        finally:
            if not self.ended.done():
                self.ended.set_result(None)

    # -- live fan-out ----------------------------------------------------------------------

    def publish(self, chunk: bytes) -> None:
        """Queue an SSE chunk for the thread's live subscribers (sent in batches), when
        anyone follows the thread."""
        if not self.live or not self._locked or self._live_interval is None:
            if self._early is not None and self._locked and self._live_interval is not None:
                if time.monotonic() < self._early_until:
                    self._early.append(chunk)
                else:
                    self._early = None
            return
        self._outbox.append(chunk)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_later())

    def followed(self) -> None:
        """A live subscriber started following the thread: from now on its events are
        published, after the items being written as they are now."""
        if self.live or self._live_interval is None:
            return
        self.live = True
        early, self._early = self._early, None
        if early is not None and time.monotonic() < self._early_until:
            for chunk in early:  # the run's own events, exactly as its client got them
                self.publish(chunk)
        elif self.journal is not None:
            for item in self.journal.pending():
                self.publish(b"data: " + ThreadItemAddedEvent(item=item).model_dump_json().encode() + b"\n\n")

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
        _in_background(_group_send(self.thread_id, message))


_background: set[asyncio.Future[Any]] = set()


def _in_background(awaitable: Any) -> None:
    task = asyncio.ensure_future(awaitable)
    _background.add(task)
    task.add_done_callback(_background.discard)


def _channel_layer() -> Any:
    from channels.layers import get_channel_layer

    return get_channel_layer()


async def _group_send(thread_id: str | None, message: dict[str, Any]) -> None:
    layer = _channel_layer()
    if layer is None or thread_id is None:
        return
    try:
        await layer.group_send(group_name(thread_id), message)
    except Exception:  # live followers are a convenience; the run goes on without them
        logger.warning("Could not send live events of thread %s", thread_id, exc_info=True)


async def follow(thread_id: str) -> None:
    """Say, to every process, that a live subscriber follows ``thread_id`` (for the next
    ``LIVE_INTEREST_TTL`` seconds): their runs in it publish their events from now on."""
    _Ticker.here().mark_followed(thread_id)
    layer = _channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(INTEREST_GROUP, {"type": "chatkit.interest", "thread_id": thread_id})
    except Exception:
        logger.warning("Could not announce live interest in thread %s", thread_id, exc_info=True)


class _Ticker:
    """The process's checkpoints, heartbeats and live interest, shared by all its runs.

    Per interval, whatever the number of runs: one statement saves every run's changes,
    one updates every lease this process holds (the heartbeat) and one reads the stop
    requests made elsewhere; the lease rows of answers checkpointed for the first time
    get their item id in one more. One task per event loop, alive while runs are.
    """

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Ticker] = weakref.WeakKeyDictionary()

    @classmethod
    def here(cls) -> _Ticker:
        loop = asyncio.get_running_loop()
        ticker = cls._by_loop.get(loop)
        if ticker is None or ticker._pid != os.getpid():
            ticker = cls._by_loop[loop] = cls()
        return ticker

    def __init__(self) -> None:
        self._pid = os.getpid()
        self.runs: set[Run] = set()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._followed: dict[str, float] = {}  # thread id -> when the interest ends
        self._listening = asyncio.Event()  # the listener has joined INTEREST_GROUP
        self._in_flight: set[tuple[str | None, str]] = set()
        self._write_done = asyncio.Event()
        self._write_done.set()

    def add(self, run: Run) -> None:
        self.runs.add(run)
        if self._task is None or self._task.done():
            # Its own context: a ticker outlives the request that started it.
            self._task = asyncio.get_running_loop().create_task(self._run(), context=contextvars.Context())
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen(), context=contextvars.Context())

    def discard(self, run: Run) -> None:
        self.runs.discard(run)

    # -- live interest -----------------------------------------------------------------

    def mark_followed(self, thread_id: str) -> None:
        self._followed[thread_id] = time.monotonic() + chatkit_settings.LIVE_INTEREST_TTL
        run = running_here().get(thread_id)
        if run is not None:
            run.followed()

    async def listening(self) -> None:
        """Wait (briefly) until the listener receives interest announcements."""
        if self._listening.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._listening.wait()), LISTEN_TIMEOUT)

    def is_followed(self, thread_id: str) -> bool:
        return self._followed.get(thread_id, 0.0) > time.monotonic()

    async def _listen(self) -> None:
        """Receive the interest announcements of live subscribers in any process; a channel
        layer that fails (Redis restarting, say) is listened to again after
        ``LISTEN_RETRY`` seconds, for as long as this process runs answers."""
        layer = _channel_layer()
        if layer is None or chatkit_settings.LIVE_EVENTS_INTERVAL is None:
            self._listening.set()  # nothing to listen to: no run waits for it
            return
        while self._wanted():
            try:
                await self._listen_once(layer)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Live interest listener failed; listening again in %s s", LISTEN_RETRY, exc_info=True)
                await asyncio.sleep(LISTEN_RETRY)

    def _wanted(self) -> bool:
        return bool(self.runs) or (self._task is not None and not self._task.done())

    async def _listen_once(self, layer: Any) -> None:
        channel = None
        try:
            channel = await layer.new_channel("chatkit.runs.")
            await layer.group_add(INTEREST_GROUP, channel)
            self._listening.set()
            while self._wanted():
                message = await layer.receive(channel)
                thread_id = message.get("thread_id")
                if message.get("type") == "chatkit.interest" and isinstance(thread_id, str):
                    self.mark_followed(thread_id)
        finally:
            # Wake a run waiting for this listener (it goes on without live interest), then
            # leave the flag down until the listener has joined again.
            self._listening.set()
            self._listening.clear()
            if channel is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(layer.group_discard(INTEREST_GROUP, channel))

    # -- checkpoints -------------------------------------------------------------------

    async def written(self, run: Run, item_id: str | None) -> None:
        """Wait until no checkpoint of ``run`` (of ``item_id``, or any) is being written."""
        while any(t == run.thread_id and (item_id is None or i == item_id) for t, i in self._in_flight):
            await self._write_done.wait()

    async def _run(self) -> None:
        heartbeat_every = min(1.0, chatkit_settings.RUN_STALE_AFTER / 3)
        next_beat = time.monotonic() + heartbeat_every
        async with on_thread(pick_thread(), request=False):
            while self.runs:
                interval = chatkit_settings.RUN_CHECKPOINT_INTERVAL
                await asyncio.sleep(min(interval or heartbeat_every, heartbeat_every))
                try:
                    if interval:
                        await self.checkpoint()
                    if time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + heartbeat_every
                        await self._heartbeat()
                    now = time.monotonic()
                    self._followed = {t: until for t, until in self._followed.items() if until > now}
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("Checkpoint or heartbeat of this process's runs failed")
        if self._listener is not None:
            self._listener.cancel()

    async def checkpoint(self) -> None:
        """Save what every run's journal recorded since the last checkpoint."""
        batch: list[tuple[Run, ThreadItem]] = [(run, item) for run in list(self.runs) for item in run.changes()]
        if not batch:
            return
        keys = {(run.thread_id, item.id) for run, item in batch}
        self._in_flight |= keys
        self._write_done.clear()
        try:
            await _save_checkpoint(batch)
        finally:
            self._in_flight -= keys
            self._write_done.set()

    async def _heartbeat(self) -> None:
        process, _ = _this_process()
        stopped = await _beat(process, timezone.now())
        for run_id in stopped:
            for run in list(self.runs):
                if run.run_id == run_id:
                    logger.info("Run %s in %s: stop requested", run.run_id, run.thread_id)
                    run.stop()


async def _save_checkpoint(batch: list[tuple[Run, ThreadItem]]) -> None:
    """One upsert for every item of the batch whose run's store is this app's (others
    through their store's ``save_item``), and the new answers' ids on their lease rows.

    The items are the journals' own: each is serialized (or copied, for another store)
    here, before the first await lets the next event change it."""
    from .store import DjangoStore

    rows: dict[tuple[str, str], tuple[str, str, str, str, int, str]] = {}
    leases: list[tuple[str, str]] = []
    others: list[tuple[Store[Any], str, Any, ThreadItem]] = []
    for run, item in batch:
        thread_id, store = run.thread_id, run._store
        if thread_id is None or store is None:  # not locked or not begun yet: nothing to checkpoint
            continue
        if not isinstance(store, DjangoStore):
            others.append((store, thread_id, run._context, item.model_copy(deep=True)))
            continue
        rows[(thread_id, item.id)] = (
            thread_id,
            item.id,
            run.owner,
            item.type,
            to_microseconds(item.created_at),
            item.model_dump_json(),
        )
        if isinstance(item, AssistantMessageItem) and run.checkpointed_item is None:
            run.checkpointed_item = item.id
            leases.append((item.id, thread_id))
    for store, thread_id, context, item in others:
        await store.save_item(thread_id, item, context)
    if rows or leases:
        await _write_checkpoint(list(rows.values()), leases)


@sync_to_async
def _write_checkpoint(rows: list[tuple[str, str, str, str, int, str]], leases: list[tuple[str, str]]) -> None:
    if rows:
        upsert_item_rows(rows)
    if leases:
        table = models.ThreadRun._meta.db_table
        item, thread = (column_name(models.ThreadRun, name) for name in ("item_id", "thread"))
        connection = connections[write_alias(models.ThreadRun)]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {quote(table)} SET {quote(item)} = %s WHERE {quote(thread)} = %s", leases)


@sync_to_async
def _beat(process: str, now: datetime) -> list[str]:
    """Refresh the leases of this process's runs; the run ids someone asked to stop."""
    leases = models.ThreadRun.objects.filter(process=process)
    leases.update(heartbeat_at=now)
    return list(leases.filter(stop_requested=True).values_list("run_id", flat=True))


@sync_to_async
def _delete_lease(run_id: str) -> bool:
    """Release the lock row; False when it was gone already.

    One DELETE statement: ``QuerySet.delete()`` would wrap it in BEGIN/COMMIT to collect
    cascades, and nothing refers to a lease.
    """
    table = models.ThreadRun._meta.db_table
    column = column_name(models.ThreadRun, "run_id")
    connection = connections[write_alias(models.ThreadRun)]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(table)} WHERE {quote(column)} = %s", [run_id])
        return cursor.rowcount > 0


# -- what an unfinished answer keeps -------------------------------------------------------


async def save_unfinished(
    store: Store[TContext],
    thread: ThreadMetadata,
    journal: Journal | None,
    pending: list[ThreadItem],
    context: TContext,
) -> None:
    """Keep what a cancelled response had shown: the items being written as the journal
    has them, the stored items it changed, one interruption marker on the unfinished
    answer (an answer of only the marker when none had begun) and a note for the model."""
    run = active_run()
    interrupted = run is not None and run.interrupted
    items = journal.pending() if journal is not None else pending
    changed = journal.take_changes() if journal is not None else []
    await _closed(run)
    answers = [i for i in items if isinstance(i, AssistantMessageItem) and any(p.text.strip() for p in i.content)]
    marked = answers[-1] if answers else None
    for item in items:
        if item is marked:
            await store.add_thread_item(thread.id, with_marker(marked, interrupted), context=context)
        elif item in answers or item.type in ("widget", "workflow", "generated_image"):
            await store.add_thread_item(thread.id, item, context=context)
    pending_ids = {item.id for item in items}
    for item in changed:
        if item.id not in pending_ids:
            await store.save_item(thread.id, item, context=context)
    if marked is None and not (journal is not None and journal.answered):
        # Stopped before its first word: the marker alone says so. (Stopped after an
        # answer was done, there is nothing unfinished to mark.)
        note = AssistantMessageItem(
            id=store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        await store.add_thread_item(thread.id, with_marker(note, interrupted), context=context)
    await store.add_thread_item(
        thread.id,
        SDKHiddenContextItem(
            id=store.generate_item_id("sdk_hidden_context", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=_INTERRUPTED_CONTEXT if interrupted else _STOPPED_CONTEXT,
        ),
        context=context,
    )


async def save_changes(store: Store[TContext], thread: ThreadMetadata, journal: Journal, context: TContext) -> None:
    """At the end of a response: save what its journal recorded that the SDK does not
    (stored items updated in place; items added and never done)."""
    changed = journal.take_changes()
    await _closed(active_run())
    for item in changed:
        await store.save_item(thread.id, item, context=context)


async def _closed(run: Run | None) -> None:
    """No checkpoint of the run is taken from now on, and none is still being written:
    what the response saves next lands last."""
    if run is not None and run._locked:
        run.journal = None
        await _Ticker.here().written(run, None)


# -- the request side -----------------------------------------------------------------------


async def supervise(
    request: Any, owner: str, chunks: AsyncIterator[bytes], ended: Callable[[], None] | None = None
) -> AsyncIterator[bytes]:
    """Run one streaming request of ``owner`` as a durable run (see the module docstring);
    ``ended`` is called as it ends, whichever way."""
    run = Run(owner=owner, mode=chatkit_settings.DISCONNECT)
    run.task = asyncio.current_task()
    thread_id = getattr(getattr(request, "params", None), "thread_id", None)
    _current.set(run)
    _streams().add(run)
    try:
        if thread_id is not None:
            await run.acquire(thread_id)
        async for chunk in chunks:
            if run.live or run._early is not None:  # followed, or still keeping its first events
                run.publish(chunk)
            yield chunk
    except asyncio.CancelledError:
        if run.outcome == "finished":
            run.outcome = "cancelled"
        raise
    finally:
        _current.set(None)
        try:
            await _finish(run)
        finally:
            _streams().discard(run)
            if ended is not None:
                ended()


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


async def before_request(request: Any, owner: str) -> None:
    """Loading a thread first recovers a run of its owner that died with its process."""
    if _draining and is_streaming_req(request):
        raise Draining("This server is restarting; send the message again in a moment.")
    if isinstance(request, (ThreadsGetByIdReq, ItemsListReq)):
        await recover(request.params.thread_id, owner)


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


async def recover(thread_id: str, owner: str | None) -> models.ThreadRun | None:
    """The thread's running response, or None; a run whose process died is closed here:
    its checkpointed answer is kept and marked as interrupted.

    Only the thread's ``owner`` recovers (``None``: the management command): another
    user's request sees nothing, and changes nothing."""
    leases = models.ThreadRun.objects.filter(thread_id=thread_id)
    if owner is not None:
        leases = leases.filter(owner=owner)
    lease = await leases.afirst()
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
    data = None
    if lease.item_id:
        data = await rows.filter(item_id=lease.item_id).values_list("data", flat=True).afirst()
    if data and data.get("type") == "assistant_message":
        item = AssistantMessageItem.model_validate(data)
        await rows.filter(item_id=lease.item_id).aupdate(data=with_marker(item, True).model_dump(mode="json"))
    else:
        now = datetime.now()
        note = AssistantMessageItem(id=new_id("msg"), thread_id=lease.thread_id, created_at=now, content=[])
        await _add_row(lease, with_marker(note, True))
    hidden = SDKHiddenContextItem(
        id=new_id("shcx"), thread_id=lease.thread_id, created_at=datetime.now(), content=_INTERRUPTED_CONTEXT
    )
    await _add_row(lease, hidden)


async def _add_row(lease: models.ThreadRun, item: ThreadItem) -> None:
    await item_row(lease.thread_id, lease.owner, item).asave(force_insert=True)


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
        await recover(thread_id, owner)
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


# -- graceful drain ---------------------------------------------------------------------------


async def drain(timeout: float | None = None) -> list[str]:  # noqa: ASYNC109  (a deadline for the others, not for itself)
    """Stop taking new responses, let the running ones finish for ``timeout`` seconds
    (``CHATKIT["DRAIN_TIMEOUT"]``), then stop those left, saving them as interrupted.
    Returns the ids of the threads whose answer was interrupted."""
    global _draining
    _draining = True
    if timeout is None:
        timeout = chatkit_settings.DRAIN_TIMEOUT
    deadline = time.monotonic() + timeout
    quiet_checks = 0
    # Every streaming request counts, also one that has not taken its thread's lock yet;
    # one that passed the draining check a moment before it was set shows up here soon.
    while quiet_checks < 2:
        left = [run for run in _streams() if not run.ended.done()]
        remaining = deadline - time.monotonic()
        if not left:
            quiet_checks += 1
            await asyncio.sleep(0.05)
            continue
        quiet_checks = 0
        if remaining <= 0:
            break
        logger.info("Draining: waiting up to %.0f s for %d running responses", remaining, len(left))
        await asyncio.wait([run.ended for run in left], timeout=remaining)
    cut = [run for run in _streams() if not run.ended.done()]
    for run in cut:
        run.stop("interrupted")
    if cut:
        logger.warning("Draining: %d responses did not finish in %.0f s; saved as interrupted", len(cut), timeout)
        await asyncio.wait([run.ended for run in cut], timeout=10)
    return [run.thread_id for run in cut if run.thread_id]


def stop_draining() -> None:
    """Take new responses again (tests, or a worker that stays up)."""
    global _draining
    _draining = False
