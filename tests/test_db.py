"""django_chatkit/db.py: the database work of chat requests runs on the shared database
thread(s), with healthy connections, and never takes work away from a synchronous caller."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings

from django_chatkit import models
from django_chatkit.conf import ChatKitConfigurationError, chatkit_settings
from tests.servers import thread_serial
from tests.support.daphne import daphne_server
from tests.support.runs import Reader, call, eventually, send, text_input

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPTED = "tests.servers.ScriptedServer"
WHEREIS = text_input("whereis")


def answer(events: list[dict]) -> str:
    done = [e for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"]
    return done[-1]["item"]["content"][0]["text"]


def database_thread(events: list[dict]) -> int:
    """The thread serial (tests.servers.thread_serial) of a ``whereis`` request's database
    work, which keeps to one thread."""
    first, second = answer(events).split()
    assert first == second, "the request's database work moved to another thread"
    return int(first)


def test_over_http_both_transports_do_their_database_work_on_the_shared_thread(django_db_blocker, user):
    # Django's own request threads (one per request) or Channels' (not the view's) would
    # show as more than one thread.
    with daphne_server(django_db_blocker, DATABASE_THREADS=1) as server:
        threads = [
            database_thread(server.client(user, transport=transport).stream("threads.create", {"input": WHEREIS}))
            for transport in ["consumer", "view", "consumer", "view"]
        ]
    assert len(set(threads)) == 1, threads


async def test_requests_are_spread_over_the_threads_and_each_keeps_to_one(user):
    chatkit = {**settings.CHATKIT, "SERVER_CLASS": SCRIPTED, "DATABASE_THREADS": 2}
    with override_settings(CHATKIT=chatkit):
        threads = []
        for _ in range(4):
            reader = Reader(await send(user, "threads.create", {"input": WHEREIS}))
            threads.append(database_thread(await reader.to_end()))
    assert len(set(threads)) == 2, threads


async def test_zero_threads_leaves_the_work_where_django_runs_it(user):
    djangos = await sync_to_async(thread_serial)()  # where thread-sensitive work goes without the app's threads
    for threads, on_djangos in [(1, False), (0, True)]:
        with override_settings(CHATKIT={**settings.CHATKIT, "SERVER_CLASS": SCRIPTED, "DATABASE_THREADS": threads}):
            reader = Reader(await send(user, "threads.create", {"input": WHEREIS}))
            assert (database_thread(await reader.to_end()) == djangos) is on_djangos, threads


async def test_a_broken_connection_of_the_shared_thread_is_replaced_at_the_next_request(user):
    chatkit = {**settings.CHATKIT, "SERVER_CLASS": SCRIPTED}
    with override_settings(CHATKIT=chatkit):
        first = await call(user, "threads.list", {"limit": 5})
        assert first["data"] == []

        # Break the shared thread's connection the way a database restart does.
        from django_chatkit.db import on_thread, pick_thread

        @sync_to_async
        def break_connection() -> None:
            connection.ensure_connection()
            connection.connection.close()
            connection.errors_occurred = True

        async with on_thread(pick_thread()):
            await break_connection()
        reader = Reader(await send(user, "threads.create", {"input": text_input("hello")}))
        events = await reader.to_end()
    assert events[0]["type"] == "thread.created"
    assert await models.Thread.objects.acount() == 1


async def _connection_of_a_request(user) -> int:
    """The connection serial a lone ``connection`` request answers, once it has ended."""
    reader = Reader(await send(user, "threads.create", {"input": text_input("connection")}))
    serial = int(answer(await reader.to_end()))

    async def ended() -> bool:  # its producer leaves the thread just after the last event
        return reader.stream.done

    await eventually(ended)
    return serial


async def test_requests_that_overlap_on_the_thread_share_its_connection_and_a_lone_one_gets_a_fresh_one(user):
    # CONN_MAX_AGE = 0 (the test settings): Django gives every request a connection of its
    # own. Requests that share the database thread share its connection while any of them
    # runs (no close and reopen at each start); one that finds the thread to itself gets a
    # fresh connection, as with Django.
    assert settings.DATABASES["default"].get("CONN_MAX_AGE", 0) == 0
    chatkit = {**settings.CHATKIT, "SERVER_CLASS": SCRIPTED, "DATABASE_THREADS": 1}
    with override_settings(CHATKIT=chatkit):
        alone = [await _connection_of_a_request(user) for _ in range(2)]
        running = Reader(await send(user, "threads.create", {"input": text_input("slow")}))
        await running.until(lambda events: any(e["type"] == "thread.item.updated" for e in events))
        during = [await _connection_of_a_request(user) for _ in range(3)]
        await running.stream.stop()
        after = await _connection_of_a_request(user)
    assert alone[0] != alone[1], alone
    assert len(set(during)) == 1, during
    assert after not in during, (during, after)


def test_a_synchronous_caller_keeps_the_work_and_its_transaction(user):
    """async_to_sync inside transaction.atomic(): the store writes in the caller's
    transaction, so a rollback undoes them."""
    chatkit = {**settings.CHATKIT, "SERVER_CLASS": SCRIPTED}

    async def create() -> list[dict]:
        return await Reader(await send(user, "threads.create", {"input": WHEREIS})).to_end()

    class Rollback(Exception):
        pass

    with override_settings(CHATKIT=chatkit):
        with pytest.raises(Rollback):
            with transaction.atomic():
                events = async_to_sync(create)()
                assert database_thread(events) == thread_serial()  # the caller's own thread
                assert models.Thread.objects.count() == 1  # visible inside the transaction
                raise Rollback
    assert models.Thread.objects.count() == 0


@pytest.mark.parametrize("value", [-1, 1.5, "2", True])
def test_a_bad_thread_count_names_the_setting(value):
    with override_settings(CHATKIT={"DATABASE_THREADS": value}):
        with pytest.raises(ChatKitConfigurationError, match="DATABASE_THREADS"):
            chatkit_settings.DATABASE_THREADS
