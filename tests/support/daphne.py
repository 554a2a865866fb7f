"""Real daphne processes serving the test site (``tests.live.make_application``) on the test
database: the one way the suite starts a server (:func:`uvicorn_server` serves the same
application with uvicorn, for the tests of that deployment).

``setup`` is a module-level function of :mod:`tests.live` run in the child before it serves
(the default points it at the test database); ``chatkit`` keys are merged into
``settings.CHATKIT`` for the children (they fork with the overridden settings)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from django.conf import settings
from django.db import connections
from django.test import override_settings

from tests.support.http import LiveServer


def start_worker(setup: Callable[[], Any] | None = None) -> Any:
    """Fork one daphne process (a ``daphne.testing.DaphneProcess``); :func:`ready` waits for it."""
    from daphne.testing import DaphneProcess

    from tests.live import make_application, use_test_database

    process = DaphneProcess("127.0.0.1", make_application, setup=setup or use_test_database)
    process.start()
    return process


def ready(process: Any) -> LiveServer:
    """The started process, once it listens."""
    if not process.ready.wait(timeout=20):
        process.terminate()
        raise RuntimeError("daphne did not start")
    return LiveServer(url=f"http://127.0.0.1:{process.port.value}", pid=process.pid)


@contextmanager
def daphne_workers(
    django_db_blocker: Any, count: int = 1, setup: Callable[[], Any] | None = None, **chatkit: Any
) -> Iterator[list[tuple[LiveServer, Any]]]:
    """``count`` daphne processes, as (server, process) pairs; all stopped on exit."""
    processes: list[Any] = []
    overrides = override_settings(CHATKIT={**settings.CHATKIT, **chatkit}) if chatkit else nullcontext()
    with django_db_blocker.unblock(), overrides:
        # A forked child closes the connections it inherits: they must not be this
        # process's (on PostgreSQL that would close our socket to the server).
        connections.close_all()
        try:
            processes.extend(start_worker(setup) for _ in range(count))
            yield [(ready(process), process) for process in processes]
        finally:
            for process in processes:
                process.terminate()
                process.join(timeout=10)


@contextmanager
def daphne_server(
    django_db_blocker: Any, setup: Callable[[], Any] | None = None, **chatkit: Any
) -> Iterator[LiveServer]:
    """One daphne process."""
    with daphne_workers(django_db_blocker, 1, setup, **chatkit) as [(server, _process)]:
        yield server


def _serve_with_uvicorn(setup: Callable[[], Any], port: Any, ready: Any) -> None:
    """The child of :func:`uvicorn_server`: the test site's ASGI application under uvicorn."""
    import asyncio
    import socket

    import uvicorn

    from tests.live import make_application

    setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port.value = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_application(), log_level="warning", lifespan="off"))

    async def serve() -> None:
        ready.set()
        await server.serve(sockets=[sock])

    asyncio.run(serve())


@contextmanager
def uvicorn_server(django_db_blocker: Any, setup: Callable[[], Any] | None = None) -> Iterator[LiveServer]:
    """One uvicorn process serving the test site (Channels routes included)."""
    import multiprocessing

    from tests.live import use_test_database

    context = multiprocessing.get_context("fork")
    port, started = context.Value("i", 0), context.Event()
    with django_db_blocker.unblock():
        connections.close_all()
        process = context.Process(target=_serve_with_uvicorn, args=(setup or use_test_database, port, started))
        process.start()
        try:
            if not started.wait(timeout=20):
                raise RuntimeError("uvicorn did not start")
            yield LiveServer(url=f"http://127.0.0.1:{port.value}", pid=process.pid)
        finally:
            process.terminate()
            process.join(timeout=10)
