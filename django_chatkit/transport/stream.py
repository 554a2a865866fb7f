"""The event stream between the SDK and the socket (see :class:`EventStream`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..db import on_thread
from .errors import stream_error_event

logger = logging.getLogger("django_chatkit")

#: Longest time events produced back to back wait for the transport (seconds).
BURST_WINDOW = 0.002
#: Longest time the stream waits after its first event for the transport to start reading.
READING_TIMEOUT = 1.0


class EventStream:
    """Runs the SDK's event stream in its own task and delivers its SSE bytes.

    Two ways to take them. A transport that can write from any task (the Channels
    consumer) hands over its write with :meth:`push_to`: the producer task then writes
    each chunk itself as the SDK yields it, so a model's tokens at a human pace cost no
    task switch and no queue between the SDK and the socket. A transport that must pull
    (Django's streaming response, for the async view) iterates :meth:`batches`.

    Either way, events produced back to back share one write: a chunk that comes less
    than ``BURST_WINDOW`` seconds after the last write waits for the end of the window
    or for the producer's next wait, whichever is first, and a burst that never waits
    hands the loop over every ``BURST_WINDOW`` seconds. The first event goes out alone,
    and the producer waits for the transport to start taking bytes after it. A client
    disconnect cancels the task while it is inside the SDK, so the SDK's
    ``handle_stream_cancelled`` persists the partial answer.
    """

    __slots__ = (
        "_chunk_waiter",
        "_chunks",
        "_database",
        "_detach_on_disconnect",
        "_detached",
        "_ended",
        "_finish",
        "_pending",
        "_reader_waiter",
        "_reading",
        "_started",
        "_tail_write",
        "_task",
        "_write",
        "_write_due",
        "_write_scheduled",
        "_writing",
        "startup_error",
    )

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        *,
        detach_on_disconnect: bool = False,
        database: ThreadPoolExecutor | None = None,
    ) -> None:
        self._chunks = chunks
        self._database = database  # the request's database thread (django_chatkit.db)
        # CHATKIT["DISCONNECT"] = "continue": a disconnect detaches, the run goes on.
        self._detach_on_disconnect = detach_on_disconnect
        self._detached = False
        self._pending: list[bytes] = []  # produced, not yet taken by the transport
        self._started = False
        self._ended = False  # the producer is done: nothing more will be pending
        self._reading = False  # the transport has sent its headers and takes bytes
        self._write: Callable[[bytes], Awaitable[None]] | None = None  # push_to()'s
        self._finish: Callable[[], Awaitable[None]] | None = None  # push_to()'s, until called
        self._writing = False  # a write is in flight: chunks that come meanwhile wait for it
        self._write_due = 0.0  # push mode: before this time a chunk waits (a burst)
        self._write_scheduled = False
        self._tail_write: asyncio.Future[None] | None = None
        # Made when someone waits, not for every stream (one stream per open response).
        self._chunk_waiter: asyncio.Future[None] | None = None  # batches() for a chunk
        self._reader_waiter: asyncio.Future[None] | None = None  # the producer for a reader
        self.startup_error: BaseException | None = None
        self._task = asyncio.create_task(self._produce())

    async def _produce(self) -> None:
        async with on_thread(self._database):
            await self._run()

    async def _run(self) -> None:
        next_turn = 0.0
        waited = False
        try:
            async for chunk in self._chunks:
                self._started = True
                if not self._detached:
                    self._pending.append(chunk)
                    if self._write is not None:
                        await self._push()
                    else:
                        _wake(self._chunk_waiter)
                if not waited and not self._reading:
                    waited = True
                    # Until the transport has answered with its headers there is no socket
                    # to write to: let it get there before producing more. A transport that
                    # never reads (its client left before the headers went out) is not waited
                    # for long: the run then goes on as if detached.
                    await _pause(self._wait_for_reader())
                # A handler that produces a long burst without ever waiting would keep every
                # other stream (and, pulling, the transport) from running until the burst
                # ends: hand the loop over after every BURST_WINDOW seconds of producing
                # (counted from when this task got the loop back, so a busy server still
                # gets full batches). A chunk alone means the transport keeps up (a model's
                # tokens at a human pace): no pause, no extra task switch per token.
                # (Pushing, chunks are held while the loop has not turned since a write.)
                held = self._write_scheduled if self._write is not None else len(self._pending) > 1
                if not held:
                    next_turn = time.monotonic() + BURST_WINDOW
                elif time.monotonic() >= next_turn:
                    await _pause(asyncio.sleep(0))
                    next_turn = time.monotonic() + BURST_WINDOW
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self._started:
                self.startup_error = exc
            else:
                logger.exception("ChatKit stream failed after it started")
                self._pending.append(stream_error_event(exc))
        finally:
            self._ended = True
            if self._write is not None:
                await self._write_pending()  # (and the response's end; see there)
            _wake(self._chunk_waiter)

    async def _push(self) -> None:
        """Push mode, a chunk just came: write it now, unless a write went out less than
        ``BURST_WINDOW`` seconds ago (a burst): then it goes with the next write, which
        comes at the window's end or as soon as the producer waits."""
        now = time.monotonic()
        if now >= self._write_due:
            self._write_due = now + BURST_WINDOW
            await _pause(self._write_pending())
        elif not self._write_scheduled:
            self._write_scheduled = True
            asyncio.get_running_loop().call_soon(self._write_soon)

    def _write_soon(self) -> None:
        # The producer has given the loop up (the SDK waits for its model) with chunks of a
        # burst still held: write them from a task of their own.
        self._write_scheduled = False
        if self._pending and self._write is not None and not self._writing:
            # Kept until done: the loop holds only a weak reference to a task.
            self._tail_write = tail = asyncio.ensure_future(self._write_pending())
            tail.add_done_callback(self._tail_written)

    def _tail_written(self, tail: asyncio.Future[None]) -> None:
        if self._tail_write is tail:
            self._tail_write = None

    async def _write_pending(self) -> None:
        """Write what is pending; after the stream's last chunk, end the response too."""
        if self._writing:  # the write in flight takes these too
            return
        self._writing = True
        try:
            while self._pending and self._write is not None:
                data = self._take()
                try:
                    await self._write(data)
                except Exception:
                    # The transport cannot send any more: as if its client had left.
                    logger.debug("ChatKit stream write failed; treating it as a disconnect", exc_info=True)
                    self._lost()
            finish = self._finish
            if self._ended and finish is not None and self._write is not None:
                self._finish = None
                try:
                    await finish()
                except Exception:
                    logger.debug("ChatKit stream end failed (the client left)", exc_info=True)
        finally:
            self._writing = False

    def _take(self) -> bytes:
        """What is pending, as one write, leaving nothing pending."""
        pending = self._pending
        data = b"".join(pending) if len(pending) > 1 else pending[0]
        pending.clear()
        return data

    def _lost(self) -> None:
        self._write = None
        self._pending.clear()
        if self._detach_on_disconnect:
            self._detached = True
        elif not self._task.done():
            self._task.cancel()  # lands at the SDK's next wait (see _pause)

    async def _wait_for_reader(self) -> None:
        # Not asyncio.wait_for: it can swallow a cancellation that comes with the wake-up
        # (stop() wakes it, then cancels), and the stream would never stop.
        self._reader_waiter = waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(READING_TIMEOUT):
                await waiter
        except TimeoutError:
            pass
        finally:
            self._reader_waiter = None

    def _start_reading(self) -> None:
        self._reading = True
        _wake(self._reader_waiter)

    async def first(self) -> bytes | None:
        """Wait for the first chunk (it stays pending, for the transport's first write);
        None if the stream ended, or failed, before producing anything."""
        while not self._pending:
            if self._ended:
                return None
            await self._wait_for_chunk()
        return self._pending[0]

    async def _wait_for_chunk(self) -> None:
        self._chunk_waiter = waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._chunk_waiter = None

    async def push_to(self, write: Callable[[bytes], Awaitable[None]], finish: Callable[[], Awaitable[None]]) -> None:
        """From now on write the stream's bytes with ``write`` (the transport's send of a
        body chunk) from the producer task as they are produced, and end the response
        with ``finish`` after the last one (unless the stream is stopped first: its
        client is gone). Returns once what was produced so far is written."""
        self._write = write
        self._finish = finish
        self._start_reading()
        await self._write_pending()  # the first event, and what came meanwhile

    async def batches(self) -> AsyncIterator[bytes]:
        """Yield the stream's bytes, joining chunks that are already waiting."""
        self._start_reading()
        while True:
            if self._pending:
                yield self._take()
            elif self._ended:
                return
            else:
                await self._wait_for_chunk()

    async def stop(self) -> None:
        """The client went away: cancel the SDK's processing and wait for its cleanup
        (or, when detaching on disconnect, leave the run to finish on its own)."""
        self._start_reading()
        self._write = None
        if self._detach_on_disconnect and not self._task.done():
            self._detached = True
            self._pending.clear()
            return
        if not self._task.done():
            self._task.cancel()
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if not self._task.done():
                raise
        except Exception:  # already logged by the producer
            pass

    @property
    def done(self) -> bool:
        return self._task.done()


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


async def _pause(awaitable: Any) -> None:
    """Await between two events of the stream, passing a cancellation on to the stream.

    A disconnect cancels the producer task. Landing here, outside the stream's
    generators, it would skip their handlers: the SDK saves the partial answer and the
    run releases its thread only when the cancellation reaches them. So it is asked for
    again, to land at the stream's next wait.
    """
    try:
        await awaitable
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
            task.cancel()
