"""One response at a time per thread (django_chatkit/runs.py): a second message waits for
the running answer, or gets a clear 409 after ``RUN_WAIT_TIMEOUT``; items never interleave."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from django_chatkit import models
from django_chatkit.store import insert_unless_taken
from tests.support.runs import (
    Reader,
    daphne_processes,
    deltas,
    multi_process_setup,
    send,
    start,
    text_input,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def stored(thread_id: str) -> list[tuple[str, str]]:
    rows = models.ThreadItem.objects.filter(thread_id=thread_id).order_by("created_at_us", "seq")
    return [
        (data["type"], data.get("content", [{}])[0].get("text", ""))
        async for data in rows.values_list("data", flat=True)
    ]


async def test_a_second_message_waits_for_the_running_answer(user, gated):
    reader = await start(user, "first answer")
    thread_id = reader.thread_id()
    second = asyncio.create_task(
        send(user, "threads.add_user_message", {"thread_id": thread_id, "input": text_input("second question")})
    )
    await asyncio.sleep(0.2)
    assert not second.done()  # waiting: nothing of it is written yet
    assert [t for t, _ in await stored(thread_id)] == ["user_message"]

    gated.release(2)
    await reader.to_end()
    follow_up = Reader(await second)
    gated.release(2)
    assert deltas(await follow_up.to_end()) == "second question"
    assert await stored(thread_id) == [
        ("user_message", "first answer"),
        ("assistant_message", "first answer"),
        ("user_message", "second question"),
        ("assistant_message", "second question"),
    ]


async def test_a_message_to_a_busy_thread_is_refused_after_the_wait_timeout(user, gated):
    with override_settings(CHATKIT={**settings.CHATKIT, "RUN_WAIT_TIMEOUT": 0}):
        reader = await start(user, "still writing")
        thread_id = reader.thread_id()
        refused = await send(user, "threads.add_user_message", {"thread_id": thread_id, "input": text_input("me too")})
        assert refused.status == 409 and refused.stream is None
        error = json.loads(refused.body)["error"]
        assert error["code"] == "thread_busy" and "wait for it to finish or stop it" in error["message"]
        assert [t for t, _ in await stored(thread_id)] == ["user_message"]  # nothing of it was saved

        gated.release(2)
        await reader.to_end()
        again = Reader(
            await send(user, "threads.add_user_message", {"thread_id": thread_id, "input": text_input("me too")})
        )
        gated.release(2)
        assert deltas(await again.to_end()) == "me too"


async def test_the_lock_is_a_database_row_only_one_run_can_insert(user, gated):
    reader = await start(user, "x")
    thread_id = reader.thread_id()
    now = timezone.now()
    fields = {"owner": "user:x", "process": "h:1:t", "mode": "cancel", "started_at": now, "heartbeat_at": now}
    assert not await insert_unless_taken(models.ThreadRun, thread_id=thread_id, run_id="run_other", **fields)
    gated.release(1)
    await reader.to_end()
    assert await insert_unless_taken(models.ThreadRun, thread_id=thread_id, run_id="run_other", **fields)


async def test_a_foreign_or_missing_thread_takes_no_lock_and_is_a_404(user, other_user, gated):
    reader = await start(user, "mine")
    thread_id = reader.thread_id()
    for target in (thread_id, "thr_missing"):
        response = await send(other_user, "threads.add_user_message", {"thread_id": target, "input": text_input("hi")})
        assert response.status == 404
    assert await models.ThreadRun.objects.acount() == 1
    gated.release(1)
    await reader.to_end()


def test_concurrent_sends_to_one_thread_keep_a_consistent_order(live_daphne, user, django_db_blocker):
    """Eight tabs send at the same moment, through one or two processes: every message is
    answered once, right after itself, and every client reads the same order."""
    count = 2 if multi_process_setup() is None else 1
    with daphne_processes(count, django_db_blocker, OFFLINE_REPLY_DELAY=0.005) as servers:
        clients = [
            server.client(user, transport=transport) for server, _ in servers for transport in ("consumer", "view")
        ]
        thread_id = clients[0].stream("threads.create", {"input": text_input("start")})[0]["thread"]["id"]
        texts = [f"tab {n} " + "word " * 8 for n in range(8)]

        def send_from_tab(n: int) -> list[dict]:
            client = clients[n % len(clients)]
            params = {"thread_id": thread_id, "input": text_input(texts[n].strip())}
            return client.stream("threads.add_user_message", params)

        with ThreadPoolExecutor(max_workers=8) as pool:
            streams = list(pool.map(send_from_tab, range(8)))

        views = [c.call("items.list", {"thread_id": thread_id, "order": "asc", "limit": 100})["data"] for c in clients]

    for n, events in enumerate(streams):  # each tab got its own question and its own answer
        done = [e["item"] for e in events if e["type"] == "thread.item.done"]
        assert [i["type"] for i in done] == ["user_message", "assistant_message"]
        assert done[0]["content"][0]["text"] == texts[n].strip()
        assert done[1]["content"][0]["text"] == f"You said: {texts[n].strip()}"
    items = views[0]
    assert all(view == items for view in views)
    asked = [i["content"][0]["text"] for i in items[2::2]]
    assert sorted(asked) == sorted(t.strip() for t in texts)  # each once: none lost, none twice
    for question, answer in zip(items[2::2], items[3::2]):  # never interleaved
        assert question["type"] == "user_message" and answer["type"] == "assistant_message"
        assert answer["content"][0]["text"] == f"You said: {question['content'][0]['text']}"
    assert len({i["id"] for i in items}) == len(items) == 18
