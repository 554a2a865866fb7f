"""Every ChatKit op over real HTTP through daphne, via the Channels consumer and the
async view; isolation between users for every op; disconnects and late failures."""

from __future__ import annotations

import base64
import json
import socket
import time
from urllib.parse import urlparse

import pytest

from django_chatkit import models
from tests.support.http import CSRF_SECRET, session_cookies

pytestmark = pytest.mark.django_db(transaction=True)


def text_input(text: str) -> dict:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


def new_thread(client, text: str = "hello there") -> tuple[str, list[dict]]:
    events = client.stream("threads.create", {"input": text_input(text)})
    return events[0]["thread"]["id"], events


def items_of(client, thread_id: str) -> list[dict]:
    return client.call("items.list", {"thread_id": thread_id, "order": "asc", "limit": 100})["data"]


def texts(items: list[dict]) -> list[str]:
    out = []
    for item in items:
        for part in item.get("content", []) if isinstance(item.get("content"), list) else []:
            if "text" in part:
                out.append(part["text"])
    return out


@pytest.fixture
def alice(live_daphne, user, transport):
    return live_daphne.client(user, transport=transport)


@pytest.fixture
def bob(live_daphne, other_user, transport):
    return live_daphne.client(other_user, transport=transport)


# -- the six streaming ops -------------------------------------------------------------


def test_threads_create_streams_and_persists(alice):
    thread_id, events = new_thread(alice)
    types = [e["type"] for e in events]
    assert types[:3] == ["thread.created", "thread.item.done", "stream_options"]
    assert types[-1] == "thread.item.done" and "thread.item.updated" in types
    deltas = "".join(e["update"]["delta"] for e in events if e["type"] == "thread.item.updated")
    assert deltas == "You said: hello there"
    assert texts(items_of(alice, thread_id)) == ["hello there", "You said: hello there"]


def test_threads_add_user_message(alice):
    thread_id, _ = new_thread(alice)
    events = alice.stream("threads.add_user_message", {"thread_id": thread_id, "input": text_input("again")})
    assert events[0]["type"] == "thread.item.done" and events[0]["item"]["type"] == "user_message"
    assert texts(items_of(alice, thread_id))[-2:] == ["again", "You said: again"]


def test_threads_add_client_tool_output(alice):
    thread_id, events = new_thread(alice, "tool please")
    assert events[-1]["item"]["type"] == "client_tool_call" and events[-1]["item"]["status"] == "pending"
    events = alice.stream("threads.add_client_tool_output", {"thread_id": thread_id, "result": {"city": "Oslo"}})
    assert any(e["type"] == "thread.item.done" and "Oslo" in json.dumps(e["item"]) for e in events)
    tool = [i for i in items_of(alice, thread_id) if i["type"] == "client_tool_call"][0]
    assert tool["status"] == "completed" and tool["output"] == {"city": "Oslo"}


def test_threads_add_structured_input(alice):
    thread_id, events = new_thread(alice, "ask me")
    item_id = events[-1]["item"]["id"]
    events = alice.stream(
        "threads.add_structured_input",
        {
            "thread_id": thread_id,
            "item_id": item_id,
            "input": {"status": "answered", "answers": {"q1": {"values": ["Bergen"]}}},
        },
    )
    assert events[0]["type"] == "stream_options"
    replaced = [e for e in events if e["type"] == "thread.item.replaced"][0]["item"]
    assert replaced["inputs"][0]["answer"]["values"] == ["Bergen"]
    stored = [i for i in items_of(alice, thread_id) if i["id"] == item_id][0]
    assert stored["status"] == "answered"


def test_threads_retry_after_item(alice):
    thread_id, events = new_thread(alice, "first try")
    user_item = events[1]["item"]["id"]
    before = [i["id"] for i in items_of(alice, thread_id)]
    events = alice.stream("threads.retry_after_item", {"thread_id": thread_id, "item_id": user_item})
    assert events[-1]["type"] == "thread.item.done"
    after = items_of(alice, thread_id)
    assert len(after) == 2 and after[0]["id"] == user_item and after[1]["id"] != before[1]


def test_threads_custom_action(alice):
    thread_id, events = new_thread(alice, "widget please")
    widget_id = events[-1]["item"]["id"]
    events = alice.stream(
        "threads.custom_action",
        {"thread_id": thread_id, "item_id": widget_id, "action": {"type": "test.pick", "payload": {"x": 1}}},
    )
    done = [e for e in events if e["type"] == "thread.item.done"]
    assert done and "test.pick" in done[0]["item"]["content"][0]["text"]


# -- the ten JSON ops ------------------------------------------------------------------


def test_threads_get_by_id_list_update_delete(alice):
    thread_id, _ = new_thread(alice)
    got = alice.call("threads.get_by_id", {"thread_id": thread_id})
    assert got["id"] == thread_id and len(got["items"]["data"]) == 2

    second, _ = new_thread(alice, "another")
    listed = alice.call("threads.list", {"limit": 1})
    assert [t["id"] for t in listed["data"]] == [second] and listed["has_more"]
    listed = alice.call("threads.list", {"limit": 1, "after": listed["after"]})
    assert [t["id"] for t in listed["data"]] == [thread_id]
    assert [t["id"] for t in alice.call("threads.list", {"order": "asc"})["data"]] == [thread_id, second]

    updated = alice.call("threads.update", {"thread_id": thread_id, "title": "Renamed"})
    assert updated["title"] == "Renamed"
    assert alice.call("threads.get_by_id", {"thread_id": thread_id})["title"] == "Renamed"

    assert alice.call("threads.delete", {"thread_id": thread_id}) == {}
    assert alice.post("threads.get_by_id", {"thread_id": thread_id}).status_code == 404


def test_items_list_and_feedback(alice):
    thread_id, events = new_thread(alice)
    page = alice.call("items.list", {"thread_id": thread_id, "limit": 1})
    assert page["has_more"] and page["data"][0]["type"] == "assistant_message"
    page = alice.call("items.list", {"thread_id": thread_id, "limit": 1, "after": page["after"]})
    assert page["data"][0]["type"] == "user_message" and not page["has_more"]

    answer = events[-1]["item"]["id"]
    assert alice.call("items.feedback", {"thread_id": thread_id, "item_ids": [answer], "kind": "negative"}) == {}
    assert alice.call("items.feedback", {"thread_id": thread_id, "item_ids": [answer], "kind": "positive"}) == {}
    feedback = list(models.Feedback.objects.values_list("item_id", "kind"))
    assert feedback == [(answer, "positive")]


def test_attachments_create_upload_download_and_delete(alice, live_daphne):
    created = alice.call("attachments.create", {"name": "notes.txt", "size": 5, "mime_type": "text/plain"})
    assert created["type"] == "file" and created["upload_descriptor"]["method"] == "POST"
    upload_path = urlparse(created["upload_descriptor"]["url"]).path
    response = alice.http.post(upload_path, files={"file": ("notes.txt", b"hello", "text/plain")})
    assert response.status_code == 200, response.text
    download = alice.http.get(f"/chatkit/attachments/{created['id']}/")
    assert download.status_code == 200 and download.content == b"hello"

    thread_id = alice.stream(
        "threads.create",
        {"input": {**text_input("see file"), "attachments": [created["id"]]}},
    )[0]["thread"]["id"]
    user_item = items_of(alice, thread_id)[0]
    assert user_item["attachments"][0]["id"] == created["id"]
    assert "upload_descriptor" not in user_item["attachments"][0]

    assert alice.call("attachments.delete", {"attachment_id": created["id"]}) == {}
    assert alice.http.get(f"/chatkit/attachments/{created['id']}/").status_code == 404


def test_image_attachment_has_an_owner_checked_preview(alice, bob):
    created = alice.call("attachments.create", {"name": "dot.png", "size": 4, "mime_type": "image/png"})
    alice.http.post(
        urlparse(created["upload_descriptor"]["url"]).path, content=b"\x89PNG", headers={"Content-Type": "image/png"}
    )
    preview = urlparse(created["preview_url"]).path
    response = alice.http.get(preview)
    assert response.status_code == 200 and response.content == b"\x89PNG"
    assert response.headers["content-type"] == "image/png"
    assert bob.http.get(preview).status_code == 404


def test_input_transcribe_without_a_transcriber_is_501(alice):
    response = alice.post(
        "input.transcribe", {"audio_base64": base64.b64encode(b"audio").decode(), "mime_type": "audio/webm"}
    )
    assert response.status_code == 501
    assert "TRANSCRIBER" in response.json()["error"]["message"]


def test_input_transcribe_with_audio_that_is_not_base64_is_a_400_naming_the_field(alice):
    response = alice.post("input.transcribe", {"audio_base64": "not base64 \u00e9!", "mime_type": "audio/webm"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "params.audio_base64: not valid base64."


def test_threads_sync_custom_action_persists_the_update(alice):
    thread_id, events = new_thread(alice, "widget please")
    widget_id = events[-1]["item"]["id"]
    result = alice.call(
        "threads.sync_custom_action",
        {"thread_id": thread_id, "item_id": widget_id, "action": {"type": "test.pick", "payload": {"label": "second"}}},
    )
    assert result["updated_item"]["widget"]["children"][0]["value"] == "second"
    reloaded = alice.call("threads.get_by_id", {"thread_id": thread_id})["items"]["data"][-1]
    assert reloaded["widget"]["children"][0]["value"] == "second"


# -- isolation: a second user gets 404 (or nothing) for every op -----------------------


def test_another_user_gets_404_for_every_op_on_my_data(alice, bob):
    thread_id, events = new_thread(alice, "widget please")
    widget_id = events[-1]["item"]["id"]
    user_item = events[1]["item"]["id"]
    attachment = alice.call("attachments.create", {"name": "a.txt", "size": 1, "mime_type": "text/plain"})
    snapshot = (models.ThreadItem.objects.count(), models.Thread.objects.count(), models.Attachment.objects.count())

    attempts = {
        "threads.get_by_id": {"thread_id": thread_id},
        "threads.update": {"thread_id": thread_id, "title": "mine now"},
        "threads.delete": {"thread_id": thread_id},
        "items.list": {"thread_id": thread_id},
        "items.feedback": {"thread_id": thread_id, "item_ids": [widget_id], "kind": "positive"},
        "attachments.delete": {"attachment_id": attachment["id"]},
        "threads.sync_custom_action": {
            "thread_id": thread_id,
            "item_id": widget_id,
            "action": {"type": "test.pick", "payload": {}},
        },
        "threads.add_user_message": {"thread_id": thread_id, "input": text_input("hi")},
        "threads.add_client_tool_output": {"thread_id": thread_id, "result": {}},
        "threads.add_structured_input": {
            "thread_id": thread_id,
            "item_id": widget_id,
            "input": {"status": "skipped", "answers": {}},
        },
        "threads.retry_after_item": {"thread_id": thread_id, "item_id": user_item},
        "threads.custom_action": {
            "thread_id": thread_id,
            "item_id": widget_id,
            "action": {"type": "test.pick", "payload": {}},
        },
        "threads.create": {"input": {**text_input("steal"), "attachments": [attachment["id"]]}},
    }
    for op, params in attempts.items():
        response = bob.post(op, params)
        assert response.status_code == 404, (op, response.status_code, response.text)
        assert "not found" in response.json()["error"]["message"].lower(), op

    assert bob.call("threads.list", {})["data"] == []
    assert bob.http.get(f"/chatkit/attachments/{attachment['id']}/").status_code == 404
    upload = urlparse(attachment["upload_descriptor"]["url"]).path
    assert bob.http.post(upload, content=b"x", headers={"Content-Type": "text/plain"}).status_code == 404
    # Bob's attempts changed nothing of Alice's (bob's refused create made no thread either).
    assert (
        models.ThreadItem.objects.count(),
        models.Thread.objects.count(),
        models.Attachment.objects.count(),
    ) == snapshot
    assert alice.call("threads.get_by_id", {"thread_id": thread_id}).get("title") is None
    assert len(items_of(alice, thread_id)) == 2


# -- streams that end early ------------------------------------------------------------


def test_failure_after_the_stream_started_is_an_error_event_then_a_clean_end(alice):
    thread_id, events = new_thread(alice, "fail now")
    assert events[-1]["type"] == "error"
    assert events[-1]["message"] == "The scripted failure happened."
    assert texts(items_of(alice, thread_id)) == ["fail now", "about to fail"]


def test_unexpected_exception_mid_stream_is_an_error_event(alice):
    thread_id, events = new_thread(alice, "crash now")
    assert events[-1]["type"] == "error" and events[-1]["code"] == "stream.error"


def _open_stream(url: str, path: str, cookies: dict[str, str], body: dict) -> socket.socket:
    """Start a streaming request on a raw socket, so the test can drop the connection."""
    parsed = urlparse(url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
    payload = json.dumps(body).encode()
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {parsed.hostname}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nCookie: {cookie}\r\nX-CSRFToken: {CSRF_SECRET}\r\n\r\n".encode()
        + payload
    )
    return sock


def test_disconnect_mid_stream_persists_the_partial_answer(live_daphne, user, transport):
    client = live_daphne.client(user, transport=transport)
    path = client.path
    sock = _open_stream(
        live_daphne.url,
        path,
        session_cookies(user),
        {"type": "threads.create", "params": {"input": text_input("slow please")}},
    )
    received = b""
    while received.count(b"thread.item.updated") < 5:
        chunk = sock.recv(65536)
        assert chunk, "server closed the stream early"
        received += chunk
    sock.close()  # the user closed the tab mid-answer

    thread_id = json.loads(received[received.index(b'{"type":"thread.created"') :].split(b"\n", 1)[0])["thread"]["id"]

    def cancellation_recorded() -> bool:
        # The SDK's hook saves the partial answer, then a hidden note for the model.
        return models.ThreadItem.objects.filter(thread_id=thread_id, type="sdk_hidden_context").exists()

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not cancellation_recorded():
        time.sleep(0.1)
    items = items_of(client, thread_id)
    assistant = items[-1]
    assert assistant["type"] == "assistant_message"
    partial = assistant["content"][0]["text"]
    assert partial.startswith("w0 w1 w2 w3") and "finished" not in partial
    assert models.ThreadItem.objects.filter(thread_id=thread_id, type="sdk_hidden_context").count() == 1
    # And the run stopped: no more text arrives later.
    time.sleep(0.3)
    assert items_of(client, thread_id)[-1]["content"][0]["text"] == partial


# -- the event stream between the SDK and the socket -------------------------------------


async def _burst(count: int, busy_us: float = 20):
    """Events produced back to back, never waiting: a CPU-bound handler."""
    for n in range(count):
        until = time.perf_counter() + busy_us / 1e6
        while time.perf_counter() < until:
            pass
        yield b'data: {"n": %d}\n\n' % n


@pytest.mark.django_db(transaction=False)
async def test_a_burst_goes_out_in_batches_with_its_first_event_first():
    import asyncio

    from django_chatkit.transport.stream import EventStream

    stream = EventStream(_burst(3000))
    first = await stream.first()
    await asyncio.sleep(0.02)  # the transport's own work before it can write (headers, middleware)
    batches = [batch async for batch in stream.batches()]
    # The first event is written on its own, not after the whole burst was produced...
    assert batches[0] == first == b'data: {"n": 0}\n\n'
    # ...and the rest neither waits for the end of the burst nor costs a write per event.
    assert b"".join(batches).count(b"data: ") == 3000
    assert 3 <= len(batches) <= 3000 / 5, len(batches)


@pytest.mark.django_db(transaction=False)
async def test_a_stream_detached_before_its_first_write_still_runs_to_the_end():
    import asyncio

    from django_chatkit.transport.stream import EventStream

    produced = []

    async def answer():
        async for chunk in _burst(50, busy_us=0):
            produced.append(chunk)
            yield chunk

    stream = EventStream(answer(), detach_on_disconnect=True)
    assert await stream.first() is not None
    await stream.stop()  # the client left before the transport wrote anything
    for _ in range(100):
        if stream.done:
            break
        await asyncio.sleep(0.01)
    assert stream.done and len(produced) == 50


@pytest.mark.django_db(transaction=False)
async def test_a_stream_its_transport_never_reads_is_not_held_up_for_long():
    import asyncio

    from django_chatkit.transport.stream import READING_TIMEOUT, EventStream

    stream = EventStream(_burst(50, busy_us=0))
    assert await stream.first() is not None
    # Neither batches() nor stop(): the client left before the headers went out, unnoticed.
    for _ in range(int(READING_TIMEOUT * 300)):
        if stream.done:
            break
        await asyncio.sleep(0.01)
    assert stream.done  # the run went on and ended, as a detached one does


class _Socket:
    """A transport's write for :meth:`EventStream.push_to`: what was written, and when."""

    def __init__(self, fail_after: int | None = None) -> None:
        import asyncio

        self.writes: list[tuple[float, bytes]] = []
        self.writers: list[object] = []  # the task each write came from
        self.fail_after = fail_after
        self.ended = asyncio.Event()  # the response's end was sent
        self.misuse: list[str] = []  # the stream's own except clauses would hide an assert

    async def write(self, data: bytes) -> None:
        import asyncio

        if self.ended.is_set():
            self.misuse.append("a write after the response's end")
        if self.fail_after is not None and len(self.writes) >= self.fail_after:
            raise OSError("connection reset")
        self.writes.append((time.perf_counter(), data))
        self.writers.append(asyncio.current_task())

    async def finish(self) -> None:
        if self.ended.is_set():
            self.misuse.append("the response ended twice")
        self.ended.set()

    async def push(self, stream) -> None:
        """Push the stream to this socket and wait for the response's end."""
        import asyncio

        await stream.push_to(self.write, self.finish)
        await asyncio.wait_for(self.ended.wait(), 10)
        await asyncio.sleep(0.01)
        assert self.misuse == []

    @property
    def data(self) -> bytes:
        return b"".join(data for _, data in self.writes)


async def _paced(count: int, pace: float, produced: list[tuple[float, bytes]] | None = None, tasks=None):
    """A model's tokens: one event, then a wait (``tasks`` gets the task producing each)."""
    import asyncio

    for n in range(count):
        chunk = b'data: {"n": %d}\n\n' % n
        if produced is not None:
            produced.append((time.perf_counter(), chunk))
        if tasks is not None:
            tasks.append(asyncio.current_task())
        yield chunk
        await asyncio.sleep(pace)


async def _answer(count: int, pace: float, produced: list, ends: list[tuple[str, int]]):
    """A paced answer that records how it ended ("finished" or "cancelled") and after how
    many events: the SDK's handlers save a partial answer only when cancelled."""
    import asyncio

    try:
        async for chunk in _paced(count, pace, produced):
            yield chunk
    except asyncio.CancelledError:
        ends.append(("cancelled", len(produced)))
        raise
    ends.append(("finished", len(produced)))


@pytest.mark.django_db(transaction=False)
async def test_pushed_events_at_a_human_pace_are_written_one_by_one_as_they_come():
    from django_chatkit.transport.stream import EventStream

    produced: list[tuple[float, bytes]] = []
    producers: list[object] = []
    socket_ = _Socket()
    stream = EventStream(_paced(20, 0.02, produced, producers))
    assert await stream.first() == produced[0][1]
    await socket_.push(stream)
    # Every event in its own write, in order, none held back for the next one...
    assert [data for _, data in socket_.writes] == [chunk for _, chunk in produced]
    # ...written by the task that produced it: no hand-over to another task per token.
    assert socket_.writers[1:] == producers[1:]
    lags = [written - made for (written, _), (made, _) in zip(socket_.writes[1:], produced[1:], strict=True)]
    assert max(lags) < 0.015, lags  # well under the 20 ms pace: nothing waited for the next event


@pytest.mark.django_db(transaction=False)
async def test_a_pushed_burst_is_batched_and_its_tail_goes_out_when_the_producer_waits():
    import asyncio

    from django_chatkit.transport.stream import EventStream

    pause_started: list[float] = []

    async def burst_then_wait():
        async for chunk in _burst(2000):
            yield chunk
        pause_started.append(time.perf_counter())
        await asyncio.sleep(0.5)  # the model thinks: what was produced must not wait for it
        yield b"data: last\n\n"

    socket_ = _Socket()
    stream = EventStream(burst_then_wait())
    first = await stream.first()
    await socket_.push(stream)
    assert socket_.writes[0][1] == first == b'data: {"n": 0}\n\n'
    assert socket_.data.count(b"data: ") == 2001 and socket_.data.endswith(b"data: last\n\n")
    assert 3 <= len(socket_.writes) <= 2000 / 5, len(socket_.writes)
    burst_written = max(when for when, data in socket_.writes if b'"n": 1999' in data)
    assert burst_written - pause_started[0] < 0.1


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("detach", [False, True], ids=["cancel", "continue"])
async def test_a_failed_push_write_is_a_disconnect(detach):
    import asyncio

    from django_chatkit.transport.stream import EventStream

    produced: list[tuple[float, bytes]] = []
    ends: list[tuple[str, int]] = []
    socket_ = _Socket(fail_after=3)
    stream = EventStream(_answer(30, 0.005, produced, ends), detach_on_disconnect=detach)
    await stream.first()
    await stream.push_to(socket_.write, socket_.finish)
    for _ in range(200):
        if stream.done:
            break
        await asyncio.sleep(0.01)
    assert len(socket_.writes) == 3 and not socket_.ended.is_set()  # no end for a client that is gone
    assert stream.done
    if detach:  # the run goes on to its end without a client
        assert ends == [("finished", 30)]
    else:  # the answer stops at once (its cancellation handler ran: the SDK saves the partial answer)
        [(how, count)] = ends
        assert how == "cancelled" and count < 10


@pytest.mark.django_db(transaction=False)
async def test_stopping_a_pushed_stream_cancels_the_answer_and_returns():
    import asyncio

    from django_chatkit.transport.stream import EventStream

    produced: list[tuple[float, bytes]] = []
    ends: list[tuple[str, int]] = []
    socket_ = _Socket()
    stream = EventStream(_answer(100, 0.01, produced, ends))
    await stream.first()
    await stream.push_to(socket_.write, socket_.finish)
    await asyncio.sleep(0.05)
    await asyncio.wait_for(stream.stop(), 1)
    [(how, count)] = ends
    assert how == "cancelled" and stream.done and not socket_.ended.is_set()
    written = socket_.data.count(b"data: ")
    assert 1 <= written <= count < 100
    await asyncio.sleep(0.05)
    assert socket_.data.count(b"data: ") == written  # nothing written after the stop
