"""A backend written for the SDK (tests/sample_backend.py, the way OpenAI's samples are
written) runs on this app by naming its class in CHATKIT["SERVER_CLASS"]: its flows
over real HTTP on both transports, stored in the database per user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

from django_chatkit import models
from tests.support.daphne import daphne_server
from tests.support.http import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="session")
def front_desk(django_db_setup, django_db_blocker) -> Iterator[LiveServer]:
    from tests.live import serve_front_desk

    with daphne_server(django_db_blocker, serve_front_desk) as server:
        yield server


@pytest.fixture
def guest(front_desk, user, transport):
    return front_desk.client(user, transport=transport)


def user_input(text: str, *, tags=(), attachments=()) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}, *tags],
        "attachments": list(attachments),
        "inference_options": {},
    }


def done(events, item_type: str) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == item_type]


def items_of(client, thread_id: str) -> list[dict[str, Any]]:
    return client.call("items.list", {"thread_id": thread_id, "order": "asc", "limit": 100})["data"]


def test_its_agent_gets_its_own_context_and_the_answer_is_stored(guest):
    events = guest.stream("threads.create", {"input": user_input("/desk_hours please")})
    thread_id = events[0]["thread"]["id"]
    answer = done(events, "assistant_message")[-1]["content"][0]["text"]
    assert answer == "Front Desk: Tool desk_hours returned: The north desk opens at 9."
    stored = [i for i in items_of(guest, thread_id) if i["type"] == "assistant_message"]
    assert stored[-1]["content"][0]["text"] == answer
    assert models.ThreadItem.objects.filter(thread_id=thread_id, type="assistant_message").exists()


def test_its_title_agent_titles_the_thread(guest):
    events = guest.stream("threads.create", {"input": user_input("Is breakfast included?")})
    thread = guest.call("threads.get_by_id", {"thread_id": events[0]["thread"]["id"]})
    assert thread["title"] == 'Title: You said: "Is breakfast included?".'


def test_a_title_longer_than_the_column_is_kept_in_the_thread_and_cut_in_the_column(guest):
    long_text = "word " * 300  # 1,500 characters
    events = guest.stream("threads.create", {"input": user_input(long_text)})
    thread_id = events[0]["thread"]["id"]
    thread = guest.call("threads.get_by_id", {"thread_id": thread_id})
    assert len(thread["title"]) > 1500
    column = models.Thread.objects.get(thread_id=thread_id).title
    assert len(column) == 1024 and column.endswith("…")


def test_its_widget_action_replaces_the_widget_and_answers(guest):
    events = guest.stream("threads.create", {"input": user_input("/pick_room")})
    thread_id = events[0]["thread"]["id"]
    (widget,) = done(events, "widget")
    assert widget["widget"]["children"][0]["value"] == "Pick a room"
    action = {"type": "room.pick", "payload": {"room": "blue"}}
    events = guest.stream("threads.custom_action", {"thread_id": thread_id, "item_id": widget["id"], "action": action})
    replaced = next(e["item"] for e in events if e["type"] == "thread.item.replaced")
    assert replaced["widget"]["children"][0]["value"] == "Room blue picked"
    assert done(events, "assistant_message")[-1]["content"][0]["text"] == "Room blue is yours."
    stored = {i["id"]: i for i in items_of(guest, thread_id)}
    assert stored[widget["id"]]["widget"]["children"][0]["value"] == "Room blue picked"
    assert models.ThreadItem.objects.filter(thread_id=thread_id, type="hidden_context_item").count() == 1


def test_its_client_tool_round_trips(guest):
    events = guest.stream("threads.create", {"input": user_input("/locate_guest")})
    thread_id = events[0]["thread"]["id"]
    (call,) = done(events, "client_tool_call")
    assert call["name"] == "get_location" and call["status"] == "pending"
    events = guest.stream("threads.add_client_tool_output", {"thread_id": thread_id, "result": {"city": "Oslo"}})
    answer = done(events, "assistant_message")[-1]["content"][0]["text"]
    assert answer.startswith("Front Desk: Tool get_location returned:") and "Oslo" in answer


def test_its_converter_reads_an_uploaded_attachment_and_raw_mention_ids(guest):
    created = guest.call("attachments.create", {"name": "note.txt", "size": 14, "mime_type": "text/plain"})
    upload = urlparse(created["upload_descriptor"]["url"]).path
    assert guest.http.post(upload, content=b"late check-out", headers={"Content-Type": "text/plain"}).status_code == 200
    tag = {"type": "input_tag", "id": "room-12", "text": "Room twelve", "data": {}, "interactive": False}
    events = guest.stream(
        "threads.create", {"input": user_input("about my stay", tags=[tag], attachments=[created["id"]])}
    )
    answer = done(events, "assistant_message")[-1]["content"][0]["text"]
    assert "I received 1 attachment(s): Guest note: late check-out." in answer
    assert "You mentioned: Room room-12 (Room twelve)." in answer


def test_its_http_exception_keeps_its_status_and_detail(guest):
    events = guest.stream("threads.create", {"input": user_input("hello")})
    thread_id = events[0]["thread"]["id"]
    answer_id = done(events, "assistant_message")[-1]["id"]
    response = guest.post("items.feedback", {"thread_id": thread_id, "item_ids": [answer_id], "kind": "negative"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Please tell the desk what went wrong instead."


def test_another_user_sees_none_of_its_threads(front_desk, user, other_user, transport):
    mine = front_desk.client(user, transport=transport)
    events = mine.stream("threads.create", {"input": user_input("hello")})
    thread_id = events[0]["thread"]["id"]
    theirs = front_desk.client(other_user, transport=transport)
    assert theirs.call("threads.list", {"limit": 50})["data"] == []
    assert theirs.post("items.list", {"thread_id": thread_id}).status_code == 404
