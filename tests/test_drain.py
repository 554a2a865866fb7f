"""Graceful drain: on SIGTERM running answers finish, new ones are refused with a 503,
and answers that outlast DRAIN_TIMEOUT are saved as interrupted."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import httpx
import pytest

from django_chatkit import runs
from django_chatkit.journal import INTERRUPTED_NOTE, is_interruption_marker
from tests.conftest import CSRF_SECRET, parse_sse, session_cookies
from tests.runs_support import (  # noqa: F401  (gated is a fixture)
    call,
    daphne_processes,
    deltas,
    gated,
    open_stream,
    send,
    start,
    text_input,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _take_requests_again():
    yield
    runs.stop_draining()


async def _answer(user, thread_id: str) -> list[str]:
    thread = await call(user, "threads.get_by_id", {"thread_id": thread_id})
    [answer] = [i for i in thread["items"]["data"] if i["type"] == "assistant_message"]
    return [part["text"] for part in answer["content"]]


async def test_a_drain_lets_the_running_answer_finish_and_refuses_new_ones(user, gated):
    reader = await start(user, "one two three")
    draining = asyncio.ensure_future(runs.drain(timeout=10))
    await asyncio.sleep(0.05)

    refused = await send(user, "threads.create", {"input": text_input("hello")})
    assert refused.status == 503 and refused.headers["Retry-After"] == "1"
    assert json.loads(refused.body)["error"]["code"] == "draining"
    listed = await send(user, "threads.list", {})  # reading still works
    assert listed.status == 200

    gated.release(3)
    events = await reader.to_end()
    assert deltas(events) == "one two three"
    assert await draining == []
    assert await _answer(user, reader.thread_id()) == ["one two three"]


async def test_an_answer_that_outlasts_the_drain_is_saved_once_as_interrupted(user, gated):
    reader = await start(user, "uno dos tres")
    gated.release(1)
    await reader.until(lambda events: deltas(events) == "uno")
    assert await runs.drain(timeout=0.2) == [reader.thread_id()]
    parts = await _answer(user, reader.thread_id())
    assert parts == ["uno", INTERRUPTED_NOTE]
    assert sum(is_interruption_marker({"text": p}) for p in parts) == 1


def test_sigterm_to_daphne_finishes_the_running_answer_before_the_process_exits(live_daphne, user, django_db_blocker):
    words = " ".join(f"w{i}" for i in range(40))
    cookies = session_cookies(user)
    with daphne_processes(1, django_db_blocker, OFFLINE_REPLY_DELAY=0.02, DRAIN_TIMEOUT=20) as [(server, process)]:
        sock = open_stream(server.url, "/chatkit/", cookies, {"type": "threads.create", "params": {"input": text_input(words)}})
        sock.settimeout(15)
        raw = sock.recv(65536)
        while b"text_delta" not in raw:
            raw += sock.recv(65536)
        os.kill(process.pid, signal.SIGTERM)  # a deploy
        refused = httpx.post(
            f"{server.url}/chatkit/",
            content=json.dumps({"type": "threads.create", "params": {"input": text_input("late")}}),
            cookies=cookies,
            headers={"X-CSRFToken": CSRF_SECRET, "Content-Type": "application/json"},
            timeout=10,
        )
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        while chunk := sock.recv(65536):
            raw += chunk
        sock.close()
        process.join(timeout=20)
        assert not process.is_alive()  # it did exit, once the answer was done
    body = raw.split(b"\r\n\r\n", 1)[1]
    events = parse_sse(b"\n".join(line for line in body.split(b"\r\n") if line.startswith(b"data: ")))
    done = [e for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"]
    assert done and done[0]["item"]["content"][0]["text"] == f"You said: {words}"
    client = live_daphne.client(user)
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    thread = client.call("threads.get_by_id", {"thread_id": thread_id})
    [answer] = [i for i in thread["items"]["data"] if i["type"] == "assistant_message"]
    assert [p["text"] for p in answer["content"]] == [f"You said: {words}"]
