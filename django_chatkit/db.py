"""Where the database work of chat requests runs.

Django runs each ASGI request's synchronous work, the async ORM's included, on a thread
made for that request. A chat request would then open a database connection of its own,
and close it at the end: with many requests at once that is many threads and
connections (on SQLite, each waiting for the write lock in turn).

Chat requests instead share ``CHATKIT["DATABASE_THREADS"]`` threads (1 by default, as
Channels consumers share one): each request keeps to one of them, through asgiref's
``ThreadSensitiveContext``, and their connections live as long as ``CONN_MAX_AGE``
says, checked at the start of a request as Django checks them (queued on the request's
thread ahead of its queries, not waited for); requests that overlap on a thread share
its connection (see ``_refresh_connections``). ``0`` turns this off.

Only this app's request path uses the threads. Code called from a synchronous caller
(``async_to_sync`` inside ``transaction.atomic()``, say) keeps the caller's thread.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.db import close_old_connections, connections

from .compat import inside_async_to_sync
from .conf import chatkit_settings

__all__ = ["on_thread", "pick_thread"]

logger = logging.getLogger("django_chatkit")

_lock = threading.Lock()
_pool: tuple[int, list[ThreadPoolExecutor], itertools.cycle[int]] | None = None
_in_use: dict[ThreadPoolExecutor, int] = {}  # on_thread() blocks in flight, by thread


def _executor(count: int) -> ThreadPoolExecutor:
    """The next of this process's ``count`` database threads (made again after a fork)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid() or len(_pool[1]) != count:
            if _pool is not None and _pool[0] == os.getpid():
                for old in _pool[1]:  # the setting changed: the old threads end when idle
                    old.shutdown(wait=False)
            executors = [
                ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django_chatkit-db-{n}") for n in range(count)
            ]
            _pool = (os.getpid(), executors, itertools.cycle(range(count)))
        return _pool[1][next(_pool[2])]


def pick_thread() -> ThreadPoolExecutor | None:
    """The shared database thread for a new request (the next one, in turn), or None when
    the request's work stays where it is: ``DATABASE_THREADS`` is 0, or a synchronous
    caller waits in ``async_to_sync``."""
    count = chatkit_settings.DATABASE_THREADS
    if not count or inside_async_to_sync():  # its thread (and transaction) keeps the work
        return None
    return _executor(count)


@contextlib.asynccontextmanager
async def on_thread(
    executor: ThreadPoolExecutor | None, *, refresh: bool = False, request: bool = True
) -> AsyncIterator[None]:
    """Run the thread-sensitive work of this block (the async ORM's) on ``executor``, a
    thread of :func:`pick_thread`. ``refresh`` first closes its connections that are too
    old or broken, as Django does when a request starts. A ``request`` block counts as one
    of the requests using the thread (see :func:`_refresh_connections`); the process's own
    housekeeping (checkpoints, heartbeats) does not."""
    if executor is None:
        yield
        return
    async with ThreadSensitiveContext(executor=executor):
        others = _enter(executor) if request else 0
        try:
            if refresh:
                # Queued, not awaited: the thread runs one call at a time, in order, so the
                # request's first query comes after it, and the request goes on meanwhile.
                executor.submit(_refresh_connections, others > 0)
            yield
        finally:
            if request:
                _leave(executor)


def _enter(executor: ThreadPoolExecutor) -> int:
    """Count one more request using ``executor``; how many others are."""
    with _lock:
        others = _in_use.get(executor, 0)
        _in_use[executor] = others + 1
        return others


def _leave(executor: ThreadPoolExecutor) -> None:
    with _lock:
        if left := _in_use[executor] - 1:
            _in_use[executor] = left
        else:
            del _in_use[executor]


def _refresh_connections(shared: bool) -> None:
    """Close the thread's connections that are broken or older than ``CONN_MAX_AGE``, as
    Django does when a request starts. While other requests are using the thread
    (``shared``), a connection past its age stays open for them: only a broken one is
    closed. With ``CONN_MAX_AGE = 0`` Django gives each request a connection of its own; the
    requests that share a thread share its connection, opened by the first of them and
    closed at the first request that finds the thread to itself (not at every request's
    start: on SQLite a close and the next open cost more than a new chat's statements)."""
    try:
        if not shared:
            close_old_connections()
            return
        for connection in connections.all(initialized_only=True):
            close_at, connection.close_at = connection.close_at, None  # no age: broken only
            try:
                connection.close_if_unusable_or_obsolete()
            finally:
                if connection.connection is not None:
                    connection.close_at = close_at
    except Exception:  # a connection that fails to close is dropped by Django anyway
        logger.warning("Closing old database connections failed", exc_info=True)
