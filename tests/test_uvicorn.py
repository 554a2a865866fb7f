"""The site's ASGI application (Channels consumer included) served by uvicorn instead of
daphne: a deployment docs/deployment.md describes. Real HTTP through a uvicorn process."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlparse

import pytest

from django_chatkit import models
from django_chatkit.journal import is_interruption_marker
from tests.support.daphne import uvicorn_server
from tests.support.http import CSRF_SECRET, session_cookies

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def live_uvicorn(django_db_setup, django_db_blocker):
    with uvicorn_server(django_db_blocker) as server:
        yield server


def _ask(text: str) -> dict:
    input_ = {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}
    return {"input": input_}


def _stored_texts(client, thread_id: str) -> list[str]:
    items = client.call("items.list", {"thread_id": thread_id, "order": "asc", "limit": 100})["data"]
    return [part["text"] for item in items for part in item.get("content") or [] if "text" in part]


def _answer(client, thread_id: str) -> dict:
    items = client.call("items.list", {"thread_id": thread_id, "order": "asc", "limit": 100})["data"]
    return [item for item in items if item["type"] == "assistant_message"][-1]


@pytest.mark.parametrize("transport", ["consumer", "view"])
def test_an_answer_streams_through_uvicorn_and_is_stored_as_streamed(live_uvicorn, user, transport):
    client = live_uvicorn.client(user, transport=transport)
    events = client.stream("threads.create", _ask("hello uvicorn"))
    assert events[0]["type"] == "thread.created" and events[-1]["type"] == "thread.item.done"
    streamed = "".join(e["update"]["delta"] for e in events if e["type"] == "thread.item.updated")
    assert streamed == "You said: hello uvicorn"
    assert _stored_texts(client, events[0]["thread"]["id"]) == ["hello uvicorn", streamed]


def test_a_disconnect_through_uvicorn_keeps_exactly_what_was_streamed(live_uvicorn, user):
    url = urlparse(live_uvicorn.url)
    payload = json.dumps({"type": "threads.create", "params": _ask("slow please")}).encode()
    cookie = "; ".join(f"{k}={v}" for k, v in session_cookies(user).items())
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    sock.sendall(
        f"POST /consumer/chatkit/ HTTP/1.1\r\nHost: {url.hostname}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nCookie: {cookie}\r\nX-CSRFToken: {CSRF_SECRET}\r\n\r\n".encode()
        + payload
    )
    received = b""
    while received.count(b"thread.item.updated") < 5:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the stream early"
        received += chunk
    sock.close()  # the tab closed mid-answer
    start = received.index(b'{"type":"thread.created"')
    thread_id = json.loads(received[start:].split(b"\n", 1)[0])["thread"]["id"]

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if models.ThreadItem.objects.filter(thread_id=thread_id, type="sdk_hidden_context").exists():
            break
        time.sleep(0.1)
    client = live_uvicorn.client(user)
    parts = _answer(client, thread_id)["content"]
    assert [is_interruption_marker(part) for part in parts].count(True) == 1 and is_interruption_marker(parts[-1])
    kept = "".join(part["text"] for part in parts[:-1])
    seen = "".join(
        json.loads(line[len(b"data: ") :])["update"]["delta"]
        for line in received.split(b"\n")
        if line.startswith(b"data: ") and b'"thread.item.updated"' in line and b'"delta"' in line
    )
    assert kept.startswith(seen) and "finished" not in kept  # the client saw a prefix of what was kept
    assert models.ThreadItem.objects.filter(thread_id=thread_id, type="sdk_hidden_context").count() == 1
    time.sleep(0.3)
    assert _answer(client, thread_id)["content"] == parts  # and the answer stopped there
