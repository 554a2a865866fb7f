"""The database statements of one chat turn: few, and the same however long the thread."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_chatkit import models
from django_chatkit.context import RequestContext
from django_chatkit.server import DjangoChatKitServer
from tests.support.threads import make_thread

# Autocommit, as in a request: inside a test transaction every INSERT gets a savepoint.
pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 1, 1)
CTX = RequestContext(user_id="user:1")


class OneMessageServer(DjangoChatKitServer):
    """Answers every message with one finished assistant message."""

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[AssistantMessageContent(text="ok")],
            )
        )


def add_message(thread_id: str) -> bytes:
    return json.dumps(
        {
            "type": "threads.add_user_message",
            "params": {
                "thread_id": thread_id,
                "input": {
                    "content": [{"type": "input_text", "text": "hi"}],
                    "attachments": [],
                    "inference_options": {},
                },
            },
        }
    ).encode()


async def turn(server: DjangoChatKitServer, thread_id: str) -> list[dict[str, Any]]:
    result = await server.process(add_message(thread_id), CTX)
    return [json.loads(chunk[len(b"data: ") :]) async for chunk in result]


@sync_to_async
def statements_of_a_turn(server: DjangoChatKitServer, thread_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    # async_to_sync from this thread runs the ORM calls here, where CaptureQueriesContext looks.
    with CaptureQueriesContext(connection) as captured:
        events = async_to_sync(turn)(server, thread_id)
    return [q["sql"] for q in captured.captured_queries], events


async def test_a_turn_costs_the_same_few_statements_at_10_and_10000_items():
    await sync_to_async(make_thread)("thr_short", 10)
    await sync_to_async(make_thread)("thr_long", 10_000)
    server = OneMessageServer()

    costs = {}
    for thread_id in ("thr_short", "thr_long"):
        sql, events = await statements_of_a_turn(server, thread_id)
        assert [e["type"] for e in events if e["type"] == "thread.item.done"] == ["thread.item.done"] * 2
        costs[thread_id] = sql

    assert len(costs["thr_short"]) == len(costs["thr_long"]) <= 8
    assert not [s for s in costs["thr_long"] if s.split()[0].upper() in {"BEGIN", "COMMIT", "SAVEPOINT"}]
    count = await models.ThreadItem.objects.filter(thread_id="thr_long").acount()
    assert count == 10_000 + 2  # the user's message and the answer, both persisted


def fixed_context(request: Any) -> RequestContext:
    return RequestContext(user_id=CTX.user_id, request=request)


async def request_turn(thread_id: str) -> list[dict[str, Any]]:
    """One turn as the transports run it: context, checks, the durable run, the SDK."""
    from django.test import RequestFactory

    from django_chatkit.transport.core import handle_chatkit_request

    body = add_message(thread_id)
    response = await handle_chatkit_request(
        RequestFactory().post("/chatkit/", data=body, content_type="application/json"), body
    )
    assert response.status == 200, response.body
    text = b"".join([batch async for batch in response.stream.batches()])
    await response.stream.stop()
    return [json.loads(line[len(b"data: ") :]) for line in text.split(b"\n\n") if line]


async def test_a_turn_through_a_request_with_its_durable_run_costs_at_most_8_statements():
    await sync_to_async(make_thread)("thr_short", 10)
    await sync_to_async(make_thread)("thr_long", 10_000)
    chatkit = {
        **settings.CHATKIT,
        "SERVER_CLASS": "tests.test_turn_queries.OneMessageServer",
        "CONTEXT_BUILDER": "tests.test_turn_queries.fixed_context",
    }

    @sync_to_async
    def statements(thread_id: str) -> tuple[list[str], list[dict[str, Any]]]:
        with override_settings(CHATKIT=chatkit), CaptureQueriesContext(connection) as captured:
            events = async_to_sync(request_turn)(thread_id)
        return [q["sql"] for q in captured.captured_queries], events

    costs = {}
    for thread_id in ("thr_short", "thr_long"):
        sql, events = await statements(thread_id)
        assert [e["type"] for e in events].count("thread.item.done") == 2
        costs[thread_id] = sql
    assert len(costs["thr_short"]) == len(costs["thr_long"]) <= 8, costs["thr_long"]
    assert not await models.ThreadRun.objects.aexists()  # the lock is released
    stored = await models.Thread.objects.aget(thread_id="thr_long")
    assert "chatkit_run" not in stored.data["metadata"]


async def test_a_refused_insert_inside_a_transaction_leaves_it_usable():
    """Without BEGIN/COMMIT in autocommit, the store still protects an enclosing
    transaction: an insert the database refuses is rolled back to its savepoint."""
    from django.db import transaction

    from django_chatkit.store import DjangoStore

    await sync_to_async(make_thread)("thr_tx", 1)
    # A row with this item id exists in the thread but is not the requester's: the store's
    # UPDATE does not match it, so it tries the INSERT, which the unique constraint refuses.
    await models.ThreadItem.objects.acreate(
        thread_id="thr_tx",
        item_id="taken",
        owner="user:2",
        type="assistant_message",
        created_at_us=1,
        data={"id": "taken"},
    )
    store = DjangoStore()
    item = AssistantMessageItem(
        id="taken", thread_id="thr_tx", created_at=T0, content=[AssistantMessageContent(text="mine")]
    )

    @sync_to_async
    def in_transaction() -> int:
        with transaction.atomic():
            with pytest.raises(NotFoundError):  # the id is not the requester's to write
                async_to_sync(store.add_thread_item)("thr_tx", item, CTX)
            return models.ThreadItem.objects.filter(thread_id="thr_tx").count()  # still usable

    assert await in_transaction() == 2
    foreign = await models.ThreadItem.objects.aget(thread_id="thr_tx", item_id="taken")
    assert foreign.owner == "user:2" and foreign.data == {"id": "taken"}
