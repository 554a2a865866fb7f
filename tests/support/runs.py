"""Helpers of the durable-run, live-sync and concurrency tests: a server whose reply
advances only when the test says so, in-process requests, and extra daphne processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import pytest
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)
from django.conf import settings
from django.test import RequestFactory, override_settings

from django_chatkit.offline import message_text
from django_chatkit.server import DjangoChatKitServer
from django_chatkit.transport.core import ChatKitResponse, handle_chatkit_request
from tests.support.daphne import daphne_workers
from tests.support.http import LiveServer, parse_sse

GATED = "tests.support.runs.GatedServer"


class GatedServer(DjangoChatKitServer):
    """Echoes the user's words one at a time, each only after the test calls ``release()``."""

    gate: asyncio.Semaphore | None = None
    finalized: list[str] = []
    markers: list[Any] = []  # the run marker each respond() saw in the thread's metadata

    @classmethod
    def reset(cls) -> None:
        cls.gate = asyncio.Semaphore(0)
        cls.finalized = []
        cls.markers = []

    @classmethod
    def release(cls, words: int = 1) -> None:
        for _ in range(words):
            cls.gate.release()

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        type(self).markers.append(thread.metadata.get("chatkit_run"))
        words = message_text(input_user_message).split()
        item = AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        try:
            yield ThreadItemAddedEvent(item=item)
            for index, word in enumerate(words):
                await type(self).gate.acquire()
                yield ThreadItemUpdatedEvent(
                    item_id=item.id,
                    update=AssistantMessageContentPartTextDelta(
                        content_index=0, delta=word if index == 0 else f" {word}"
                    ),
                )
            item.content = [AssistantMessageContent(text=" ".join(words))]
            yield ThreadItemDoneEvent(item=item)
        finally:
            type(self).finalized.append(item.id)


@pytest.fixture
def gated():
    """Requests answered by :class:`GatedServer`, checkpointing every 10 ms."""
    GatedServer.reset()
    with override_settings(CHATKIT={**settings.CHATKIT, "SERVER_CLASS": GATED, "RUN_CHECKPOINT_INTERVAL": 0.01}):
        yield GatedServer


async def start(user, text: str) -> Reader:
    """A new thread whose gated answer has just begun."""
    reader = Reader(await send(user, "threads.create", {"input": text_input(text)}))
    await reader.until(lambda events: any(e["type"] == "thread.item.added" for e in events))
    return reader


def text_input(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


async def send(user, op: str, params: dict[str, Any]) -> ChatKitResponse:
    """One ChatKit request through the shared core, in process, as ``user``."""
    body = json.dumps({"type": op, "params": params}).encode()
    request = RequestFactory().post("/chatkit/", data=body, content_type="application/json")
    request.user = user

    async def auser():
        return user

    request.auser = auser
    return await handle_chatkit_request(request, body)


async def call(user, op: str, params: dict[str, Any]) -> Any:
    response = await send(user, op, params)
    assert response.status == 200, response.body
    return json.loads(response.body)


class Reader:
    """Reads a streamed response's events as far as a test needs."""

    def __init__(self, response: ChatKitResponse) -> None:
        assert response.stream is not None, response.body
        self.stream = response.stream
        self.events: list[dict[str, Any]] = []
        self._batches = response.stream.batches()

    async def until(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while not done(self.events):
                self.events += parse_sse(await anext(self._batches))
        return self.events

    async def to_end(self, timeout: float = 10) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            async for batch in self._batches:
                self.events += parse_sse(batch)
        return self.events

    def thread_id(self) -> str:
        return next(e["thread"]["id"] for e in self.events if e["type"] == "thread.created")


def deltas(events: list[dict[str, Any]]) -> str:
    return "".join(e["update"]["delta"] for e in events if e["type"] == "thread.item.updated")


async def eventually(check: Callable[[], Any], timeout: float = 10, step: float = 0.01) -> Any:
    """Poll an async check until it returns something truthy (its value), or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(step)


def wait_for(check: Callable[[], Any], timeout: float = 30, step: float = 0.05) -> Any:
    """Synchronous :func:`eventually`, for tests that drive real servers."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(step)


# -- real servers ----------------------------------------------------------------------------


def multi_process_setup() -> str | None:
    """Why several daphne processes cannot share one site here (None when they can)."""
    engine = settings.DATABASES["default"]["ENGINE"]
    if not engine.endswith("postgresql"):
        return "needs PostgreSQL shared by the processes (set DATABASE_URL=postgres://...)"
    if not os.environ.get("REDIS_URL"):
        return "needs the Redis channel layer shared by the processes (set REDIS_URL=redis://...)"
    return None


@contextmanager
def daphne_processes(count: int, django_db_blocker, **chatkit: Any) -> Iterator[list[tuple[LiveServer, Any]]]:
    """``count`` daphne processes serving the test site, with ``chatkit`` merged into
    ``settings.CHATKIT``."""
    with daphne_workers(django_db_blocker, count, **chatkit) as workers:
        yield workers


def open_stream(url: str, path: str, cookies: dict[str, str], payload: dict[str, Any]) -> socket.socket:
    """Start a streaming request on a raw socket, so the test can hang up whenever it likes."""
    from tests.support.http import CSRF_SECRET

    parsed = urlparse(url)
    body = json.dumps(payload).encode()
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=30)
    sock.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: {parsed.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nCookie: {cookie}\r\nX-CSRFToken: {CSRF_SECRET}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        + body
    )
    return sock
