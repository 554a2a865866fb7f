"""Graceful drain on SIGTERM: running answers finish, new ones are sent elsewhere.

The first chat request a worker serves installs a SIGTERM handler on its event loop's
(main) thread. On SIGTERM the worker answers new streaming requests with a 503
``draining`` and ``Retry-After: 1`` (a proxy retries them on another worker), lets the
running answers finish for ``CHATKIT["DRAIN_TIMEOUT"]`` seconds, saves those still
running as interrupted, and only then hands the signal to the handler that was there
before (daphne's, which stops the server) or, without one, ends the process as SIGTERM
would have. See docs/deployment.md for a zero-loss rolling restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any

from .. import runs

logger = logging.getLogger("django_chatkit")

_installed_in: int | None = None  # the pid whose handler is installed


def install_drain_handler() -> None:
    """Install the SIGTERM drain once per process (cheap to call on every request)."""
    global _installed_in
    if _installed_in == os.getpid() or threading.current_thread() is not threading.main_thread():
        return
    _installed_in = os.getpid()
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or previous is None:
        return  # someone decided SIGTERM means nothing here: leave it so
    loop = asyncio.get_running_loop()
    pid = os.getpid()

    def on_sigterm(signum: int, frame: Any) -> None:
        if os.getpid() == pid and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(_start_drain, loop, previous, signum, frame)
                return
            except RuntimeError:  # the loop closed meanwhile
                pass
        # A forked child, or a loop that is gone: nothing to drain here.
        _hand_on(previous, signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


_draining: asyncio.Task[None] | None = None


def _start_drain(loop: asyncio.AbstractEventLoop, previous: Any, signum: int, frame: Any) -> None:
    global _draining
    if _draining is not None:
        return  # a second SIGTERM while draining changes nothing
    _draining = loop.create_task(_drain_then_stop(previous, signum, frame))


async def _drain_then_stop(previous: Any, signum: int, frame: Any) -> None:
    try:
        await runs.drain()
    except Exception:
        logger.exception("Draining before shutdown failed")
    logger.info("Drained: handing SIGTERM on")
    _hand_on(previous, signum, frame)


def _hand_on(previous: Any, signum: int, frame: Any) -> None:
    """Do what SIGTERM did before the drain handler was installed."""
    signal.signal(signal.SIGTERM, previous)
    if callable(previous):
        previous(signum, frame)
    else:  # SIG_DFL: end the process as the signal would have
        os.kill(os.getpid(), signal.SIGTERM)
