"""A page of items costs the same queries whatever the thread length (keyset paging)."""

from __future__ import annotations

from datetime import datetime

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_chatkit.adopt import get_chatkit_server
from django_chatkit.context import RequestContext
from tests.support.threads import make_thread

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 1, 1)


@sync_to_async
def count_queries(coroutine_factory):
    from asgiref.sync import async_to_sync

    with CaptureQueriesContext(connection) as queries:
        result = async_to_sync(coroutine_factory)()
    return len(queries), result


async def test_a_page_costs_the_same_queries_at_10_and_10000_items():
    await sync_to_async(make_thread)("thr_small", 10)
    await sync_to_async(make_thread)("thr_large", 10_000)
    store = get_chatkit_server().store
    ctx = RequestContext(user_id="user:1")

    costs = {}
    for thread_id, cursor in (("thr_small", "m5"), ("thr_large", "m5000")):
        for order in ("asc", "desc"):
            n, page = await count_queries(lambda: store.load_thread_items(thread_id, cursor, 3, order, ctx))
            costs[(thread_id, order)] = n
            assert len(page.data) == 3 and page.has_more
    assert costs[("thr_small", "asc")] == costs[("thr_large", "asc")] == 1
    assert costs[("thr_small", "desc")] == costs[("thr_large", "desc")] == 1


async def test_items_list_op_queries_are_constant_in_thread_length():
    await sync_to_async(make_thread)("thr_small", 10)
    await sync_to_async(make_thread)("thr_large", 10_000)
    server = get_chatkit_server()
    ctx = RequestContext(user_id="user:1")
    costs = []
    for thread_id in ("thr_small", "thr_large"):
        body = f'{{"type": "items.list", "params": {{"thread_id": "{thread_id}", "limit": 20, "after": "m3"}}}}'
        n, _ = await count_queries(lambda: server.process(body, ctx))
        costs.append(n)
    assert costs[0] == costs[1] <= 2
