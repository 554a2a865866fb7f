"""Graceful drain: on SIGTERM running answers finish, new ones are refused with a 503,
and answers that outlast DRAIN_TIMEOUT are saved as interrupted."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from django_chatkit import runs
from django_chatkit.journal import INTERRUPTED_NOTE, is_interruption_marker
from tests.support.daphne import ready, start_worker
from tests.support.http import CSRF_SECRET, parse_sse, session_cookies
from tests.support.runs import (
    call,
    daphne_processes,
    deltas,
    multi_process_setup,
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
        sock = open_stream(
            server.url, "/chatkit/", cookies, {"type": "threads.create", "params": {"input": text_input(words)}}
        )
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


@pytest.mark.skipif(multi_process_setup() is not None, reason=f"two daphne processes {multi_process_setup()}")
def test_a_rolling_restart_of_two_workers_loses_and_duplicates_no_answer(live_daphne, user, django_db_blocker):
    """Two workers, 50 answers streaming, then SIGTERM to one, start it again, then the
    other: a client retries a 503 on the other worker, and every answer is whole, once."""
    cookies = session_cookies(user)
    words = " ".join(f"w{i}" for i in range(30))
    expected = f"You said: {words}"
    chatkit = {
        "OFFLINE_REPLY_DELAY": 0.05,
        "DRAIN_TIMEOUT": 30,
        "SERVER_CLASS": "django_chatkit.offline.OfflineChatKitServer",
    }
    with daphne_processes(2, django_db_blocker, **chatkit) as workers:
        up = [server.url for server, _ in workers]
        processes = [process for _, process in workers]
        lock = threading.Lock()
        retried = []

        def one_answer(n: int) -> str:
            time.sleep(n * 0.06)  # 50 answers started over 3 seconds
            body = json.dumps({"type": "threads.create", "params": {"input": text_input(words)}})
            for attempt in range(200):
                with lock:
                    url = up[(n + attempt) % len(up)]
                try:
                    response = httpx.post(
                        f"{url}/chatkit/",
                        content=body,
                        cookies=cookies,
                        timeout=60,
                        headers={"X-CSRFToken": CSRF_SECRET, "Content-Type": "application/json"},
                    )
                except httpx.TransportError:
                    time.sleep(0.05)  # that worker is gone: the proxy would try the next one
                    continue
                if response.status_code == 503:
                    retried.append(n)
                    time.sleep(float(response.headers["retry-after"]) / 10)
                    continue
                assert response.status_code == 200, response.text
                events = parse_sse(response.content)
                return next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
            raise AssertionError("no worker took the request")

        def restart(index: int) -> None:
            with lock:
                gone = up[index]
            os.kill(processes[index].pid, signal.SIGTERM)
            processes[index].join(timeout=40)
            assert not processes[index].is_alive()
            with lock:
                up.remove(gone)
            fresh = start_worker()
            server = ready(fresh)
            processes[index] = fresh
            with lock:
                up.insert(index, server.url)

        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = [pool.submit(one_answer, n) for n in range(50)]
            time.sleep(1.0)
            restart(0)
            restart(1)
            thread_ids = [answer.result(timeout=120) for answer in answers]
        for process in processes:
            process.terminate()

    assert len(set(thread_ids)) == 50 and retried  # some requests met a draining worker
    client = live_daphne.client(user)
    listed = client.call("threads.list", {"limit": 100})["data"]
    assert sorted(t["id"] for t in listed) == sorted(thread_ids)  # no thread cut and left behind
    for thread_id in thread_ids:
        items = client.call("items.list", {"thread_id": thread_id, "order": "asc", "limit": 20})["data"]
        assert [i["type"] for i in items] == ["user_message", "assistant_message"], thread_id
        assert [p["text"] for p in items[1]["content"]] == [expected]
