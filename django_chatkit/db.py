"""Where the database work of chat requests runs.

Django runs each ASGI request's synchronous work, the async ORM's included, on a thread
made for that request. A chat request would then open a database connection of its own,
and close it at the end: with many requests at once that is many threads and
connections (on SQLite, each waiting for the write lock in turn).

Chat requests instead share ``CHATKIT["DATABASE_THREADS"]`` threads (1 by default, as
Channels consumers share one): each request keeps to one of them, through asgiref's
``ThreadSensitiveContext``, and their connections live as long as ``CONN_MAX_AGE``
says, checked at the start of every request as Django checks them (queued on the
request's thread ahead of its queries, not waited for). ``0`` turns this off.

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
from django.db import close_old_connections

from .compat import inside_async_to_sync
from .conf import chatkit_settings

__all__ = ["on_thread", "pick_thread"]

logger = logging.getLogger("django_chatkit")

_lock = threading.Lock()
_pool: tuple[int, list[ThreadPoolExecutor], itertools.cycle[int]] | None = None


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
async def on_thread(executor: ThreadPoolExecutor | None, *, refresh: bool = False) -> AsyncIterator[None]:
    """Run the thread-sensitive work of this block (the async ORM's) on ``executor``, a
    thread of :func:`pick_thread`. ``refresh`` first closes its connections that are too
    old or broken, as Django does when a request starts."""
    if executor is None:
        yield
        return
    async with ThreadSensitiveContext(executor=executor):
        if refresh:
            # Queued, not awaited: the thread runs one call at a time, in order, so the
            # request's first query comes after it, and the request goes on meanwhile.
            executor.submit(_refresh_connections)
        yield


def _refresh_connections() -> None:
    try:
        close_old_connections()
    except Exception:  # a connection that fails to close is dropped by Django anyway
        logger.warning("Closing old database connections failed", exc_info=True)
