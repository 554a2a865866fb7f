"""Durable runs (django_chatkit/runs.py): checkpoints, the disconnect setting, stopping,
recovery after a restart, and 100 disconnecting clients under ``continue``."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import AsyncClient, override_settings
from django.utils import timezone

from django_chatkit import models, runs
from django_chatkit.conf import ChatKitConfigurationError, chatkit_settings
from django_chatkit.context import RequestContext
from django_chatkit.db import pick_thread
from django_chatkit.store import DjangoStore
from tests.support.http import session_cookies
from tests.support.runs import (
    GatedServer,
    Reader,
    call,
    daphne_processes,
    deltas,
    eventually,
    multi_process_setup,
    open_stream,
    send,
    start,
    text_input,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

PATHS = ["/consumer/chatkit/", "/chatkit/"]  # the Channels consumer and the async view


async def items(user, thread_id: str) -> list[dict]:
    return (await call(user, "items.list", {"thread_id": thread_id, "order": "asc", "limit": 100}))["data"]


async def assistant_text(user, thread_id: str) -> str | None:
    """What a reload shows of the answer (``threads.get_by_id``)."""
    thread = await call(user, "threads.get_by_id", {"thread_id": thread_id})
    answers = [i for i in thread["items"]["data"] if i["type"] == "assistant_message"]
    return " | ".join(part["text"] for part in answers[-1]["content"]) if answers else None


async def stored_types(thread_id: str) -> list[str]:
    return [
        t
        async for t in models.ThreadItem.objects.filter(thread_id=thread_id)
        .order_by("seq")
        .values_list("type", flat=True)
    ]


async def test_a_reload_shows_the_answer_growing_and_the_thread_marked_running(user, gated):
    reader = await start(user, "one two three four five six")
    thread_id = reader.thread_id()
    lease = await models.ThreadRun.objects.aget(thread_id=thread_id)
    # respond() and anyone loading the thread see the run in its metadata, from the lease
    # row; the stored thread never carries it.
    assert [marker["run_id"] for marker in GatedServer.markers] == [lease.run_id]
    assert GatedServer.markers[0]["mode"] == lease.mode
    loaded = await DjangoStore().load_thread(thread_id, RequestContext(user_id=f"user:{user.pk}"))
    assert loaded.metadata[runs.METADATA_KEY] == GatedServer.markers[0]
    metadata = (await models.Thread.objects.aget(thread_id=thread_id)).data["metadata"]
    assert runs.METADATA_KEY not in metadata

    gated.release(2)
    assert await eventually(lambda: _equals(assistant_text(user, thread_id), "one two"))
    gated.release(2)
    assert await eventually(lambda: _equals(assistant_text(user, thread_id), "one two three four"))
    assert (await models.ThreadRun.objects.aget(thread_id=thread_id)).item_id  # recovery knows the item

    gated.release(2)
    events = await reader.to_end()
    assert deltas(events) == "one two three four five six"
    assert await assistant_text(user, thread_id) == "one two three four five six"
    assert await stored_types(thread_id) == ["user_message", "assistant_message"]
    assert not await models.ThreadRun.objects.filter(thread_id=thread_id).aexists()
    assert runs.running_here() == {}
    loaded = await DjangoStore().load_thread(thread_id, RequestContext(user_id=f"user:{user.pk}"))
    assert runs.METADATA_KEY not in loaded.metadata


async def _equals(awaitable, expected):
    return await awaitable == expected


async def test_continue_mode_finishes_and_saves_the_answer_after_the_client_left(user, gated):
    with override_settings(CHATKIT={**settings.CHATKIT, "DISCONNECT": "continue"}):
        reader = await start(user, "alpha beta gamma delta")
        thread_id = reader.thread_id()
        gated.release(1)
        await reader.until(lambda events: deltas(events) == "alpha")
        await reader.stream.stop()  # what both transports do when the client disconnects
        assert not reader.stream.done  # still running, unattended

        gated.release(3)
        await eventually(lambda: _gone(thread_id))
    assert await assistant_text(user, thread_id) == "alpha beta gamma delta"
    assert await stored_types(thread_id) == ["user_message", "assistant_message"]  # no cancellation note


async def _finished(reader: Reader) -> bool:
    return reader.stream.done


async def _gone(thread_id: str) -> bool:
    return not await models.ThreadRun.objects.filter(thread_id=thread_id).aexists()


async def test_a_client_gone_before_the_first_write_still_ends_the_run_properly(user, gated):
    first = await start(user, "hello")
    gated.release(1)
    await first.to_end()
    thread_id = first.thread_id()

    response = await send(user, "threads.add_user_message", {"thread_id": thread_id, "input": text_input("one two")})
    await response.stream.stop()  # the transport never wrote a byte: the client left first

    assert response.stream.done
    assert await _gone(thread_id)  # the thread is free at once, not when the stream is collected
    assert runs.running_here() == {}
    assert await stored_types(thread_id) == ["user_message", "assistant_message", "user_message"]


class BusyAfterStopServer(GatedServer):
    """Gated; once a stopped answer is saved, the chat requests' database thread is busy
    (another request's slow query, say) until the test frees it, so the run's release of
    its thread waits behind it."""

    busy = threading.Event()
    free = threading.Event()

    async def handle_stream_cancelled(self, thread, pending_items, context) -> None:
        await super().handle_stream_cancelled(thread, pending_items, context)
        database = pick_thread()
        assert database is not None
        database.submit(lambda: (self.busy.set(), self.free.wait(10)))


async def test_a_disconnect_while_a_stopped_run_releases_its_thread_still_frees_it(user, gated):
    """A stop and a disconnect at once cancel the request twice: the second one must not
    cut the release short, or the lease stays and other processes wait on the thread."""
    BusyAfterStopServer.busy.clear()
    BusyAfterStopServer.free.clear()
    server_class = "tests.test_runs.BusyAfterStopServer"
    with override_settings(CHATKIT={**settings.CHATKIT, "SERVER_CLASS": server_class, "DATABASE_THREADS": 1}):
        try:
            reader = await start(user, "one two three")
            thread_id = reader.thread_id()
            gated.release(1)
            await reader.until(lambda events: deltas(events) == "one")
            client = AsyncClient()
            await client.aforce_login(user)
            assert (await client.post(f"/chatkit/threads/{thread_id}/stop/")).status_code == 200  # a stop...
            assert await asyncio.to_thread(BusyAfterStopServer.busy.wait, 10)
            await asyncio.sleep(0.1)  # the run is releasing the thread, behind the busy database
            disconnect = asyncio.create_task(reader.stream.stop())  # ...and the tab closed meanwhile
            await asyncio.sleep(0.05)
        finally:
            BusyAfterStopServer.free.set()
        await asyncio.wait_for(disconnect, 10)

    assert reader.stream.done
    assert await _gone(thread_id)  # no lease left behind for other processes to wait on
    assert runs.running_here() == {}
    assert await assistant_text(user, thread_id) == f"one | {runs.STOPPED_NOTE}"


async def test_cancel_mode_keeps_the_partial_answer_and_the_run_stops(user, gated):
    assert chatkit_settings.DISCONNECT == "cancel"
    reader = await start(user, "red green blue yellow")
    thread_id = reader.thread_id()
    gated.release(2)
    await reader.until(lambda events: deltas(events) == "red green")
    await reader.stream.stop()

    assert reader.stream.done  # the producer task is over: no more CPU spent on this run
    assert len(gated.finalized) == 1  # and the handler's generator was closed
    gated.release(2)  # nothing is waiting for these words any more
    assert await assistant_text(user, thread_id) == f"red green | {runs.STOPPED_NOTE}"
    assert await stored_types(thread_id) == ["user_message", "assistant_message", "sdk_hidden_context"]
    assert await _gone(thread_id) and runs.running_here() == {}


async def test_a_deliberate_stop_ends_a_continuing_run_with_its_partial_answer(user, other_user, gated):
    with override_settings(CHATKIT={**settings.CHATKIT, "DISCONNECT": "continue"}):
        reader = await start(user, "uno dos tres cuatro")
        thread_id = reader.thread_id()
        gated.release(2)
        await reader.until(lambda events: deltas(events) == "uno dos")
        await reader.stream.stop()  # the tab was closed; the run goes on

        url = f"/chatkit/threads/{thread_id}/stop/"
        stranger = AsyncClient()
        await stranger.aforce_login(other_user)
        refused = await stranger.post(url)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "no_run"
        assert not reader.stream.done

        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.post(url)
        assert response.status_code == 200 and response.json() == {"stopping": True, "thread_id": thread_id}
        await eventually(lambda: _finished(reader))
        assert await _gone(thread_id)

        again = await client.post(url)
        assert again.status_code == 404
    assert await assistant_text(user, thread_id) == f"uno dos | {runs.STOPPED_NOTE}"
    assert (await stored_types(thread_id))[-1] == "sdk_hidden_context"


async def _thread_with_dead_run(user, process: str, heartbeat_age: float = 0) -> tuple[str, str]:
    """A thread as a process that died mid-answer leaves it: a checkpoint and its lock."""
    reader = Reader(await send(user, "threads.create", {"input": text_input("hello")}))
    await reader.to_end()
    thread_id = reader.thread_id()
    answer = await models.ThreadItem.objects.filter(thread_id=thread_id, type="assistant_message").alast()
    answer.data["content"] = [{"type": "output_text", "text": "You said", "annotations": []}]
    await answer.asave()
    thread = await models.Thread.objects.aget(thread_id=thread_id)
    run_id = f"run_{thread_id}"
    now = timezone.now()
    await models.ThreadRun.objects.acreate(
        thread=thread,
        run_id=run_id,
        owner=answer.owner,
        process=process,
        mode="continue",
        item_id=answer.item_id,
        started_at=now,
        heartbeat_at=now - timedelta(seconds=heartbeat_age),
    )
    return thread_id, answer.item_id


def _dead_pid() -> int:
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        pid -= 1


async def test_a_run_whose_process_died_is_kept_and_marked_interrupted_on_the_next_load(user):
    thread_id, item_id = await _thread_with_dead_run(user, f"{socket.gethostname()}:{_dead_pid()}:gone")

    assert await assistant_text(user, thread_id) == f"You said | {runs.INTERRUPTED_NOTE}"
    assert not await models.ThreadRun.objects.filter(thread_id=thread_id).aexists()
    assert (await stored_types(thread_id))[-1] == "sdk_hidden_context"  # the model is told too
    assert [i["type"] for i in await items(user, thread_id)] == ["user_message", "assistant_message"]

    # The thread is usable at once: the next message is answered normally.
    reader = Reader(await send(user, "threads.add_user_message", {"thread_id": thread_id, "input": text_input("hi")}))
    assert deltas(await reader.to_end()) == "You said: hi"


async def test_another_users_request_for_the_thread_of_a_dead_run_changes_nothing(user, other_user):
    thread_id, _ = await _thread_with_dead_run(user, f"{socket.gethostname()}:{_dead_pid()}:gone")
    before = await stored_types(thread_id)
    for op in ("threads.get_by_id", "items.list"):
        refused = await send(other_user, op, {"thread_id": thread_id})
        assert refused.status == 404
    stranger = AsyncClient()
    await stranger.aforce_login(other_user)
    assert (await stranger.post(f"/chatkit/threads/{thread_id}/stop/")).status_code == 404
    assert await stored_types(thread_id) == before  # nothing written into the owner's thread
    assert await models.ThreadRun.objects.filter(thread_id=thread_id).aexists()  # nor its lock released
    # The owner's next load recovers it.
    assert await assistant_text(user, thread_id) == f"You said | {runs.INTERRUPTED_NOTE}"


async def test_a_run_of_a_live_process_is_left_alone_until_its_heartbeat_goes_stale(user):
    parent = f"{socket.gethostname()}:{os.getppid()}:alive"
    thread_id, _ = await _thread_with_dead_run(user, parent)
    assert await assistant_text(user, thread_id) == "You said"  # still running elsewhere
    assert await models.ThreadRun.objects.filter(thread_id=thread_id).aexists()

    other_host, _ = await _thread_with_dead_run(user, "elsewhere.example:1:x")
    assert await assistant_text(user, other_host) == "You said"
    stale, _ = await _thread_with_dead_run(user, "elsewhere.example:1:x", heartbeat_age=60)
    assert await assistant_text(user, stale) == f"You said | {runs.INTERRUPTED_NOTE}"


def test_the_disconnect_setting_is_checked():
    with override_settings(CHATKIT={"DISCONNECT": "detach"}):
        with pytest.raises(ChatKitConfigurationError, match="DISCONNECT"):
            chatkit_settings.DISCONNECT
    with override_settings(CHATKIT={"RUN_CHECKPOINT_INTERVAL": 0}):
        with pytest.raises(ChatKitConfigurationError, match="RUN_CHECKPOINT_INTERVAL"):
            chatkit_settings.RUN_CHECKPOINT_INTERVAL


# -- real processes ----------------------------------------------------------------------------


def _recv_until(sock: socket.socket, marker: bytes, count: int = 1) -> bytes:
    received = b""
    while received.count(marker) < count:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the stream early"
        received += chunk
    return received


def _checkpoint_with(thread_id: str, text: str) -> dict | None:
    """The saved in-progress answer once it contains ``text`` (a reload would show it)."""
    rows = models.ThreadItem.objects.filter(thread_id=thread_id, type="assistant_message")
    data = rows.values_list("data", flat=True).first()
    return data if data and text in data["content"][0]["text"] else None


def _thread_id_in(raw: bytes) -> str:
    start = raw.index(b'{"type":"thread.created"')
    return json.loads(raw[start:].split(b"\n", 1)[0])["thread"]["id"]


def test_a_server_killed_mid_run_leaves_the_checkpoint_marked_interrupted(live_daphne, user, django_db_blocker):
    words = " ".join(f"w{i}" for i in range(200))
    with daphne_processes(
        1, django_db_blocker, DISCONNECT="continue", OFFLINE_REPLY_DELAY=0.02, RUN_CHECKPOINT_INTERVAL=0.05
    ) as [(server, process)]:
        sock = open_stream(
            server.url,
            "/consumer/chatkit/",
            session_cookies(user),
            {"type": "threads.create", "params": {"input": text_input(words)}},
        )
        thread_id = _thread_id_in(_recv_until(sock, b"thread.item.updated", 5))
        checkpoint = wait_for(lambda: _checkpoint_with(thread_id, "w2"))
        os.kill(process.pid, signal.SIGKILL)  # a crash or a hard restart: no cleanup runs
        process.join(timeout=10)
        sock.close()
    assert models.ThreadRun.objects.filter(thread_id=thread_id).exists()

    client = live_daphne.client(user)  # another process, after the "restart"
    thread = client.call("threads.get_by_id", {"thread_id": thread_id})
    answer = [i for i in thread["items"]["data"] if i["type"] == "assistant_message"][-1]
    text, note = (part["text"] for part in answer["content"])
    assert text.startswith(checkpoint["content"][0]["text"]) and text.startswith("You said: w0 w1")
    assert "w199" not in text and note == runs.INTERRUPTED_NOTE
    assert not models.ThreadRun.objects.filter(thread_id=thread_id).exists()


def test_continue_mode_100_runs_with_random_disconnects_lose_and_duplicate_nothing(
    live_daphne, user, django_db_blocker
):
    """20 threads get 5 messages each, every client hanging up at a random moment."""
    count = 2 if multi_process_setup() is None else 1
    rng = random.Random(6)
    with daphne_processes(count, django_db_blocker, DISCONNECT="continue", OFFLINE_REPLY_DELAY=0.002) as servers:
        urls = [server.url for server, _ in servers]
        cookies = session_cookies(user)
        client = servers[0][0].client(user)
        threads = [
            client.stream("threads.create", {"input": text_input(f"start {n}")})[0]["thread"]["id"] for n in range(20)
        ]
        plan = [
            (thread_id, f"t{n} m{k} " + "word " * rng.randint(1, 12), rng.choice(urls), rng.choice(PATHS))
            for k in range(5)
            for n, thread_id in enumerate(threads)
        ]

        def run_one(step) -> None:
            thread_id, text, url, path = step
            payload = {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": text_input(text.strip())},
            }
            sock = open_stream(url, path, cookies, payload)
            # Hang up after a random number of events: 1 is the user's own message.
            _recv_until(sock, b"data: ", rng.randint(1, 8))
            sock.close()

        # Each thread's messages go one after the other (a user typing), threads in parallel:
        # the next message often arrives while the previous answer is still being written.
        with ThreadPoolExecutor(max_workers=10) as pool:
            for k in range(5):
                list(pool.map(run_one, plan[k * 20 : (k + 1) * 20]))
        wait_for(lambda: not models.ThreadRun.objects.exists(), timeout=60)

    for n, thread_id in enumerate(threads):
        stored = list(
            models.ThreadItem.objects.filter(thread_id=thread_id)
            .order_by("created_at_us", "seq")
            .values_list("data", flat=True)
        )
        expected = [f"start {n}"] + [step[1].strip() for step in plan if step[0] == thread_id]
        user_texts = [i["content"][0]["text"] for i in stored if i["type"] == "user_message"]
        answers = [i["content"][0]["text"] for i in stored if i["type"] == "assistant_message"]
        assert user_texts == expected
        assert answers == [f"You said: {text}" for text in expected]
        assert [i["type"] for i in stored] == ["user_message", "assistant_message"] * 6
        assert len({i["id"] for i in stored}) == 12


async def test_the_admin_lists_the_running_responses_read_only(admin_client, user, gated):
    from asgiref.sync import sync_to_async
    from django.urls import reverse

    reader = await start(user, "busy now")
    lease = await models.ThreadRun.objects.aget(thread_id=reader.thread_id())
    page = await sync_to_async(admin_client.get)(reverse("admin:django_chatkit_threadrun_changelist"))
    assert page.status_code == 200 and lease.run_id in page.content.decode()
    add = await sync_to_async(admin_client.get)(reverse("admin:django_chatkit_threadrun_add"))
    assert add.status_code == 403
    gated.release(2)
    await reader.to_end()


async def test_the_recover_command_closes_dead_runs_and_leaves_live_ones(user):
    from io import StringIO

    from asgiref.sync import sync_to_async
    from django.core.management import call_command

    dead, _ = await _thread_with_dead_run(user, f"{socket.gethostname()}:{_dead_pid()}:gone")
    alive, _ = await _thread_with_dead_run(user, "elsewhere.example:1:x")
    out = StringIO()
    await sync_to_async(call_command)("chatkit_recover_runs", stdout=out)
    assert "Recovered 1 interrupted response(s); 1 still running." in out.getvalue() and dead in out.getvalue()
    assert [t async for t in models.ThreadRun.objects.values_list("thread_id", flat=True)] == [alive]
    answer = await models.ThreadItem.objects.filter(thread_id=dead, type="assistant_message").alast()
    assert answer.data["content"][-1]["text"] == runs.INTERRUPTED_NOTE
