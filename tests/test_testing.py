"""django_chatkit.testing: a site's tests send ChatKit requests as a user and get the
SDK's own event objects back."""

from __future__ import annotations

import pytest
from chatkit.types import AssistantMessageItem, ClientToolCallItem, ThreadCreatedEvent
from django.conf import settings
from django.test import override_settings

from django_chatkit.testing import ChatKitClient

pytest_plugins = ["django_chatkit.testing.fixtures"]


@pytest.mark.django_db
def test_a_sync_test_creates_a_thread_and_reads_it_back(chatkit_client, user):
    chat = chatkit_client(user)
    result = chat.create_thread("hello there")
    assert result.status_code == 200 and result.streamed
    assert isinstance(result.events[0], ThreadCreatedEvent)
    assert "hello there" in result.text
    assert [type(i).__name__ for i in result.items()] == ["UserMessageItem", "AssistantMessageItem"]
    assert len(result.items(AssistantMessageItem)) == 1
    stored = chat.thread_items(result.thread_id)
    assert [i["type"] for i in stored] == ["user_message", "assistant_message"]
    again = chat.add_message(result.thread_id, "tool")
    (call,) = again.items(ClientToolCallItem)
    assert call.name == "get_location"


@pytest.mark.django_db
def test_users_are_kept_apart_and_errors_are_readable(chatkit_client, user, other_user):
    mine = chatkit_client(user).create_thread("mine")
    theirs = chatkit_client(other_user).send("threads.get_by_id", {"thread_id": mine.thread_id})
    assert theirs.status_code == 404 and theirs.error["code"] == "not_found"
    with pytest.raises(AssertionError, match="404"):
        theirs.raise_for_status()
    listing = chatkit_client(other_user).send("threads.list", {"limit": 10})
    assert listing.data == {"data": [], "has_more": False}


@pytest.mark.django_db
def test_no_user_is_an_anonymous_visitor(chatkit_client):
    assert chatkit_client().send("threads.list").status_code == 401
    with override_settings(CHATKIT={**settings.CHATKIT, "AUTH_POLICY": "anonymous_session"}):
        visitor = chatkit_client()
        created = visitor.create_thread("hi")
        assert created.status_code == 200
        assert [t["id"] for t in visitor.send("threads.list").data["data"]] == [created.thread_id]
        assert ChatKitClient().send("threads.list").data["data"] == []  # another visitor


@pytest.mark.django_db(transaction=True)
async def test_an_async_test_uses_the_async_client(async_chatkit_client, user):
    chat = async_chatkit_client(user)
    result = await chat.create_thread("async hello")
    assert "async hello" in result.raise_for_status().text
    assert len(await chat.thread_items(result.thread_id)) == 2
