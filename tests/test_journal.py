"""The event journal: what an interrupted answer keeps, and every item change persisted."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemUpdatedEvent,
)
from django.conf import settings
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_chatkit import journal
from django_chatkit.journal import STOPPED_NOTE, Journal, is_interruption_marker
from tests.journal_servers import ANNOTATION, PARTS, UPDATES, first_card
from tests.support.http import CSRF_SECRET, parse_sse, session_cookies
from tests.support.runs import call, daphne_processes, open_stream, send, text_input

pytestmark = pytest.mark.django_db(transaction=True)

PATHS = ["/consumer/chatkit/", "/chatkit/"]  # the Channels consumer and the async view
ASSISTANT_KINDS = {
    "assistant_message.content_part.added",
    "assistant_message.content_part.text_delta",
    "assistant_message.content_part.annotation_added",
    "assistant_message.content_part.done",
}


# -- the journal on its own ----------------------------------------------------------------


def test_the_journal_knows_every_update_kind_the_sdk_defines():
    """An SDK release with a new kind of item update fails here, by name, until the
    journal applies it and it has a test below."""
    assert set(journal.UPDATE_KINDS) == ASSISTANT_KINDS | set(UPDATES)


def test_the_journal_shares_no_object_with_the_events_it_follows():
    from datetime import datetime

    item = AssistantMessageItem(id="msg_1", thread_id="thr_1", created_at=datetime.now(), content=[])
    part = AssistantMessageContent(text="")
    log = Journal()
    log.observe(ThreadItemAddedEvent(item=item))
    log.observe(
        ThreadItemUpdatedEvent(item_id="msg_1", update=AssistantMessageContentPartAdded(content_index=0, content=part))
    )
    for word in ("one ", "two "):
        delta = AssistantMessageContentPartTextDelta(content_index=0, delta=word)
        log.observe(ThreadItemUpdatedEvent(item_id="msg_1", update=delta))
        part.text += word  # what the SDK does to the part the event carried
    item.content.append(AssistantMessageContent(text="changed by someone else"))

    [pending] = log.pending()
    assert [p.text for p in pending.content] == ["one two "]
    pending.content[0].text = "mutated copy"
    assert [p.text for p in log.pending()[0].content] == ["one two "]


# -- an interrupted answer keeps exactly what was produced ------------------------------------


def _read_until_deltas(sock: socket.socket, count: int) -> tuple[bytes, str]:
    """Read the raw response until ``count`` text deltas have arrived; the thread id."""
    raw = b""
    sock.settimeout(10)
    while raw.count(b'"assistant_message.content_part.text_delta"') < count:
        chunk = sock.recv(65536)
        assert chunk, "the stream ended early"
        raw += chunk
    start = raw.index(b'{"type":"thread.created"')
    thread_id = json.loads(raw[start:].split(b"\n", 1)[0])["thread"]["id"]
    return raw, thread_id


def _seen_parts(raw: bytes) -> list[str]:
    """The text of each content part as the client built it from the deltas it got."""
    body = raw.split(b"\r\n\r\n", 1)[1]
    parts: list[str] = ["", ""]
    for line in body.split(b"\n"):
        start = line.find(b"data: ")
        if start == -1:
            continue
        try:
            event = json.loads(line[start + 6 :])
        except ValueError:
            continue  # a chunk boundary of the chunked encoding cut this one
        update = event.get("update") or {}
        if update.get("type") == "assistant_message.content_part.text_delta":
            parts[update["content_index"]] += update["delta"]
    return parts


def _produced_prefix(text: str, words: tuple[str, ...]) -> bool:
    """Whether ``text`` is exactly the first n deltas of ``words``, for some n."""
    built = ""
    for word in words:
        if built == text:
            return True
        built += word
    return built == text


def _stop(server_url: str, cookies: dict[str, str], thread_id: str) -> None:
    response = httpx.post(
        f"{server_url}/chatkit/threads/{thread_id}/stop/",
        cookies=cookies,
        headers={"X-CSRFToken": CSRF_SECRET},
    )
    assert response.status_code == 200, response.text


def _kept_answer(client, thread_id: str) -> dict[str, Any]:
    """The answer as a reload shows it, once the run has let go of the thread."""
    deadline = time.monotonic() + 10
    while True:
        thread = client.call("threads.get_by_id", {"thread_id": thread_id})
        if "chatkit_run" not in thread["metadata"]:
            break
        assert time.monotonic() < deadline, "the run never ended"
        time.sleep(0.05)
    [answer] = [i for i in thread["items"]["data"] if i["type"] == "assistant_message"]
    return answer


@pytest.mark.parametrize("mode", ["cancel", "continue"])
def test_a_stopped_answer_keeps_exactly_the_produced_text_and_one_marker(mode, live_daphne, user, django_db_blocker):
    """Property: for any stop point, on both transports, the kept text of every content
    part is exactly what the server produced before the stop (never doubled, never
    more), the client saw a prefix of it, and the marker is there once."""
    cookies = session_cookies(user)
    client = live_daphne.client(user)
    total = sum(len(words) for words in PARTS)
    with daphne_processes(
        1,
        django_db_blocker,
        SERVER_CLASS="tests.journal_servers.PartsServer",
        DISCONNECT=mode,
        RUN_CHECKPOINT_INTERVAL=0.02,
    ) as [(server, _process)]:

        @hypothesis_settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(path=st.sampled_from(PATHS), stop_after=st.integers(min_value=1, max_value=total - 15))
        def check(path: str, stop_after: int) -> None:
            sock = open_stream(
                server.url, path, cookies, {"type": "threads.create", "params": {"input": text_input("hi")}}
            )
            raw, thread_id = _read_until_deltas(sock, stop_after)
            if mode == "cancel":
                sock.close()  # the tab's Stop: the request is aborted
            else:
                _stop(server.url, cookies, thread_id)
                sock.settimeout(10)
                while chunk := sock.recv(65536):
                    raw += chunk
                sock.close()
            answer = _kept_answer(client, thread_id)
            content = answer["content"]
            if [part["text"] for part in content] == ["".join(words) for words in PARTS]:
                return  # the stop came after the answer was done: whole, and nothing to mark
            markers = [part for part in content if is_interruption_marker(part)]
            assert [m["text"] for m in markers] == [STOPPED_NOTE] and content[-1]["text"] == STOPPED_NOTE, content
            kept = [part["text"] for part in content[:-1]]
            assert 1 <= len(kept) <= 2
            for index, text in enumerate(kept):
                assert _produced_prefix(text, PARTS[index]), (index, text)
            if len(kept) == 2:  # part 0 was done before part 1 began: whole, with its annotation
                assert kept[0] == "".join(PARTS[0])
                assert content[0]["annotations"] == [ANNOTATION.model_dump(mode="json", exclude_none=True)]
            seen = _seen_parts(raw)
            for index, text in enumerate(seen):
                if text:
                    assert kept[index].startswith(text), (index, text, kept[index])

        check()


# -- every item change persisted --------------------------------------------------------------


@pytest.fixture
def updates_server():
    with override_settings(CHATKIT={**settings.CHATKIT, "SERVER_CLASS": "tests.journal_servers.UpdatesServer"}):
        yield


async def _stream(user, op: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    response = await send(user, op, params)
    assert response.stream is not None, response.body
    events = []
    async for batch in response.stream.batches():
        events += parse_sse(batch)
    return events


async def _items_by_type(user, thread_id: str) -> dict[str, dict[str, Any]]:
    """What a reload shows (``threads.get_by_id``), the first item of each type."""
    thread = await call(user, "threads.get_by_id", {"thread_id": thread_id})
    found: dict[str, dict[str, Any]] = {}
    for item in thread["items"]["data"]:
        found.setdefault(item["type"], item)
    return found


EXPECTED_AFTER = {
    "widget.root.updated": (
        "widget",
        lambda item: item["widget"]["children"] == [{"type": "Text", "id": "status", "value": "Vegetarian it is"}],
    ),
    "widget.component.updated": (
        "widget",
        lambda item: (
            [(c.get("id"), c.get("value") or c.get("label")) for c in item["widget"]["children"]]
            == [("status", "Saved: vegetarian"), ("notes", "Notes:"), ("pick", "Change")]
        ),
    ),
    "widget.streaming_text.value_delta": (
        "widget",
        lambda item: (
            [c.get("value") for c in item["widget"]["children"][:2]] == ["Pick a meal", "Notes: no nuts, no dairy"]
        ),
    ),
    "workflow.task.added": (
        "workflow",
        lambda item: [t["title"] for t in item["workflow"]["tasks"]] == ["Look up meals", "Book a table"],
    ),
    "workflow.task.updated": (
        "workflow",
        lambda item: [t["status_indicator"] for t in item["workflow"]["tasks"]] == ["complete"],
    ),
    "generated_image.updated": (
        "generated_image",
        lambda item: item.get("image") == {"id": "img_1", "url": "https://example.com/final.png"},
    ),
}


@pytest.mark.parametrize("kind", sorted(UPDATES))
async def test_an_update_to_a_stored_item_survives_a_reload(kind, user, updates_server):
    events = await _stream(user, "threads.create", {"input": text_input("meal")})
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    before = await _items_by_type(user, thread_id)
    item_type, expected = EXPECTED_AFTER[kind]
    assert not expected(before[item_type])

    payload = {"kind": kind, "item_id": before[item_type]["id"]}
    streamed = await _stream(
        user,
        "threads.custom_action",
        {
            "thread_id": thread_id,
            "item_id": before["widget"]["id"],
            "action": {"type": "meal.pick", "payload": payload},
        },
    )
    assert [e["update"]["type"] for e in streamed if e["type"] == "thread.item.updated"] == [kind] * len(UPDATES[kind])

    after = await _items_by_type(user, thread_id)
    assert expected(after[item_type]), after[item_type]


async def test_a_widget_left_pending_is_kept_as_the_user_saw_it(user, updates_server):
    events = await _stream(user, "threads.create", {"input": text_input("pending widget")})
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    thread = await call(user, "threads.get_by_id", {"thread_id": thread_id})
    widgets = [i for i in thread["items"]["data"] if i["type"] == "widget"]
    assert [w["widget"]["children"][1]["value"] for w in widgets] == ["Notes:", "Notes: pending"]
    assert first_card().children[1].value == "Notes:"  # the server's own card was not changed
