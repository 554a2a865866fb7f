"""Live sync (django_chatkit/transport/live.py): following a thread's run over a WebSocket,
in process and across two daphne processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from django_chatkit import models
from tests.asgi import application
from tests.support.http import CSRF_SECRET, parse_sse, session_cookies
from tests.support.runs import (
    Reader,
    daphne_processes,
    deltas,
    multi_process_setup,
    send,
    start,
    text_input,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(user=None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        cookies = await sync_to_async(session_cookies)(user)
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    socket = WebsocketCommunicator(application, "/chatkit/live/", headers=headers)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def ask(socket: WebsocketCommunicator, message: dict) -> dict:
    await socket.send_json_to(message)
    return await socket.receive_json_from(timeout=5)


async def follow(socket: WebsocketCommunicator, thread_id: str) -> tuple[list[dict], list[str]]:
    """Everything the socket receives about the thread until its run ends: events, run states."""
    events, states = [], []
    while not states or states[-1] == "started":
        message = await socket.receive_json_from(timeout=5)
        assert message["thread_id"] == thread_id
        if message["type"] == "events":
            events += message["events"]
        else:
            states.append(message["state"])
    return events, states


async def test_a_subscriber_follows_a_run_started_elsewhere_from_the_middle(user, gated):
    reader = await start(user, "one two three four")
    thread_id = reader.thread_id()
    gated.release(2)
    await reader.until(lambda events: deltas(events) == "one two")

    socket = await connect(user)  # another tab, opened mid-answer
    subscribed = await ask(socket, {"type": "subscribe", "thread_id": thread_id})
    lease = await models.ThreadRun.objects.aget(thread_id=thread_id)
    assert subscribed["type"] == "subscribed" and subscribed["run"]["run_id"] == lease.run_id

    gated.release(2)
    # The asking tab keeps reading its own stream meanwhile, as a browser does.
    asked = asyncio.ensure_future(reader.to_end())
    events, states = await follow(socket, thread_id)
    # It gets the rest live (what came before, a reload shows: the checkpoint).
    assert deltas(events).endswith(" three four") and "one two three four".endswith(deltas(events))
    assert events[-1]["type"] == "thread.item.done"
    assert events[-1]["item"]["content"][0]["text"] == "one two three four"
    assert states == ["finished"]
    assert (await asked)[-1] == events[-1]  # the same answer as the tab that asked
    await socket.disconnect()


async def test_a_subscriber_sees_a_whole_run_and_its_stop(user, gated):
    first = Reader(await send(user, "threads.create", {"input": text_input("hi")}))
    gated.release(1)
    thread_id = (await first.to_end()) and first.thread_id()
    socket = await connect(user)
    assert (await ask(socket, {"type": "subscribe", "thread_id": thread_id}))["run"] is None

    reader = Reader(
        await send(user, "threads.add_user_message", {"thread_id": thread_id, "input": text_input("a b c")})
    )
    started = await socket.receive_json_from(timeout=5)
    assert started["type"] == "run" and started["state"] == "started"
    gated.release(1)
    await reader.until(lambda events: deltas(events) == "a")
    assert (await ask(socket, {"type": "stop", "thread_id": thread_id})) == {"type": "stopping", "thread_id": thread_id}
    events, states = await follow(socket, thread_id)
    assert states == ["stopped"]
    seen = [e for e in events if e["type"] != "thread.item.updated"]
    assert seen[0]["type"] == "thread.item.done" and seen[0]["item"]["content"][0]["text"] == "a b c"
    assert (await ask(socket, {"type": "stop", "thread_id": thread_id}))["code"] == "no_run"
    await socket.disconnect()


async def test_a_socket_cannot_follow_or_stop_another_users_thread(user, other_user, gated):
    reader = await start(user, "secret words here")
    thread_id = reader.thread_id()
    intruder = await connect(other_user)
    for kind in ("subscribe", "stop"):
        refused = await ask(intruder, {"type": kind, "thread_id": thread_id})
        assert refused == {
            "type": "error",
            "code": "not_found",
            "message": f"Thread {thread_id} not found",
            "thread_id": thread_id,
        }
    gated.release(3)
    await reader.to_end()
    assert await intruder.receive_nothing(timeout=0.3)  # none of the run's events reached it
    assert not await models.ThreadRun.objects.filter(stop_requested=True).aexists()
    await intruder.disconnect()


async def test_an_anonymous_socket_is_told_to_log_in_and_closed():
    socket = await connect()
    message = await socket.receive_json_from(timeout=5)
    assert message["type"] == "error" and message["code"] == "not_authenticated"
    assert (await socket.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}


async def test_bad_messages_get_clear_errors(user):
    socket = await connect(user)
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from())["code"] == "invalid_request"
    assert "Unknown message type" in (await ask(socket, {"type": "dance", "thread_id": "x"}))["message"]
    assert (await ask(socket, {"type": "subscribe"}))["message"] == "subscribe needs a thread_id."
    assert (await ask(socket, {"type": "subscribe", "thread_id": "thr_missing"}))["code"] == "not_found"
    await socket.disconnect()


# -- two processes ------------------------------------------------------------------------------


@pytest.mark.skipif(multi_process_setup() is not None, reason=f"two daphne processes {multi_process_setup()}")
def test_a_run_through_process_a_is_followed_live_and_reloaded_on_process_b(live_daphne, user, django_db_blocker):
    import websockets.sync.client

    words = " ".join(f"w{i}" for i in range(60))
    with daphne_processes(2, django_db_blocker, OFFLINE_REPLY_DELAY=0.03, RUN_CHECKPOINT_INTERVAL=0.05) as [
        (a, _),
        (b, _),
    ]:
        alice_a, alice_b = a.client(user), b.client(user, transport="view")
        thread_id = alice_a.stream("threads.create", {"input": text_input("first")})[0]["thread"]["id"]

        cookies = session_cookies(user)
        ws_url = b.url.replace("http://", "ws://") + "/chatkit/live/"
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "Origin": b.url}
        with websockets.sync.client.connect(ws_url, additional_headers=headers) as socket:
            socket.send(json.dumps({"type": "subscribe", "thread_id": thread_id}))
            assert json.loads(socket.recv(timeout=5)) == {"type": "subscribed", "thread_id": thread_id, "run": None}

            # Process A streams the answer to the asking tab, in a background thread.
            streamed: dict = {}

            def ask_on_a() -> None:
                body = {
                    "type": "threads.add_user_message",
                    "params": {"thread_id": thread_id, "input": text_input(words)},
                }
                with httpx.Client(
                    base_url=a.url, cookies=cookies, headers={"X-CSRFToken": CSRF_SECRET}, timeout=30
                ) as http:
                    response = http.post("/consumer/chatkit/", content=json.dumps(body))
                    streamed["events"] = parse_sse(response.content)

            asker = threading.Thread(target=ask_on_a)
            asker.start()

            followed, states, reloaded = [], [], None
            while not states or states[-1] == "started":
                message = json.loads(socket.recv(timeout=10))
                assert message["thread_id"] == thread_id
                if message["type"] == "events":
                    followed += message["events"]
                else:
                    states.append(message["state"])
                if reloaded is None and deltas(followed).count(" ") >= 10:
                    # Reload on B mid-run: the checkpointed, partial answer.
                    reloaded = wait_for(lambda: _partial_answer(alice_b, thread_id), timeout=10)
            asker.join(timeout=30)
        assert states == ["started", "finished"]

        full = f"You said: {words}"
        assert reloaded.startswith("You said: w0") and reloaded != full and full.startswith(reloaded)
        assert followed == [e for e in streamed["events"]]  # B's socket saw exactly A's stream
        assert followed[-1]["type"] == "thread.item.done" and followed[-1]["item"]["content"][0]["text"] == full
        for client in (alice_a, alice_b):
            thread = client.call("threads.get_by_id", {"thread_id": thread_id})
            assert thread["items"]["data"][-1]["content"][0]["text"] == full


def _partial_answer(client, thread_id: str) -> str | None:
    items = client.call("threads.get_by_id", {"thread_id": thread_id})["items"]["data"]
    last = items[-1]
    return last["content"][0]["text"] if last["type"] == "assistant_message" and len(items) == 4 else None


async def test_without_a_channel_layer_the_socket_says_what_to_configure(user):
    from django.test import override_settings

    with override_settings(CHANNEL_LAYERS={}):
        socket = await connect(user)
        message = await socket.receive_json_from(timeout=5)
        assert message["code"] == "not_configured" and "CHANNEL_LAYERS" in message["message"]
        assert (await socket.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4500}
