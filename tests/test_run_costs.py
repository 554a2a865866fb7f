"""What running answers cost the database and the channel layer while they stream:
per interval and per process, not per run, and no live events for unfollowed threads."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.db.backends import utils
from django.test import override_settings

from django_chatkit import runs
from tests.support.runs import deltas, eventually, start  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

INTERVAL = 0.1


class Statements:
    """Every SQL statement any thread runs while counting (the runs' checkpoints and
    heartbeats run on the shared database thread, not the test's)."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.counting = False
        self._lock = threading.Lock()

    def record(self, sql: str) -> None:
        if self.counting:
            with self._lock:
                self.sql.append(sql)


@pytest.fixture
def statements(monkeypatch) -> Iterator[Statements]:
    seen = Statements()
    execute, executemany = utils.CursorWrapper.execute, utils.CursorWrapper.executemany

    def counted_execute(self, sql, params=None):
        seen.record(sql)
        return execute(self, sql, params)

    def counted_executemany(self, sql, param_list):
        seen.record(sql)
        return executemany(self, sql, param_list)

    monkeypatch.setattr(utils.CursorWrapper, "execute", counted_execute)
    monkeypatch.setattr(utils.CursorWrapper, "executemany", counted_executemany)
    yield seen


async def _statements_while_streaming(user, gated, statements: Statements, count: int, window: float) -> list[str]:
    """Start ``count`` answers, then count the statements of ``window`` seconds during
    which every answer gets a word each interval."""
    readers = await asyncio.gather(*(start(user, " ".join(f"w{n}" for n in range(60))) for _ in range(count)))
    gated.release(count)  # one word each: every journal has something to save
    await asyncio.sleep(3 * INTERVAL)
    statements.counting = True
    began = time.monotonic()
    while time.monotonic() - began < window:
        gated.release(count)
        await asyncio.sleep(INTERVAL)
    statements.counting = False
    for reader in readers:
        await reader.stream.stop()
    return statements.sql


async def test_checkpoints_and_heartbeats_cost_statements_per_interval_not_per_run(user, gated, statements):
    chatkit = {
        **settings.CHATKIT,
        "SERVER_CLASS": "tests.support.runs.GatedServer",
        "RUN_CHECKPOINT_INTERVAL": INTERVAL,
    }
    with override_settings(CHATKIT=chatkit):
        few = list(await _statements_while_streaming(user, gated, statements, 5, 1.5))
        statements.sql.clear()
        many = list(await _statements_while_streaming(user, gated, statements, 50, 1.5))
    intervals = 1.5 / INTERVAL
    # One upsert of every run's changes per interval (with its BEGIN/COMMIT on SQLite)
    # and two heartbeat statements a second, for 5 runs as for 50.
    assert len(many) <= 5 * intervals, many[:20]
    assert len(many) <= len(few) * 1.5 + 6, (len(few), len(many))
    upserts = [s for s in many if s.lstrip().upper().startswith("INSERT")]
    assert intervals / 2 <= len(upserts) <= intervals + 2  # checkpoints did run, batched
    heartbeats = [s for s in many if s.lstrip().upper().startswith("UPDATE") and "heartbeat_at" in s]
    assert 1 <= len(heartbeats) <= 3


class GroupListener:
    """A member of a thread's Channels group, as a live subscriber's socket is: it gets
    what the runs in the thread publish to it."""

    def __init__(self, layer, channel: str) -> None:
        self.layer, self.channel = layer, channel

    @classmethod
    async def join(cls, thread_id: str) -> GroupListener:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(runs.group_name(thread_id), channel)
        return cls(layer, channel)

    async def until_run_ends(self) -> list[dict]:
        """The messages received up to the run's end (its ``chatkit.run`` message with an outcome)."""
        messages: list[dict] = []
        async with asyncio.timeout(5):
            while not (messages and messages[-1]["type"] == "chatkit.run" and messages[-1]["state"] != "started"):
                messages.append(await self.layer.receive(self.channel))
        return messages


async def test_live_events_go_out_only_for_a_followed_thread(user, gated):
    chatkit = {**settings.CHATKIT, "SERVER_CLASS": "tests.support.runs.GatedServer", "LIVE_EVENTS_INTERVAL": 0.01}
    with override_settings(CHATKIT=chatkit):
        quiet = await start(user, "one two three four")
        followed = await start(user, "uno dos tres cuatro")
        quiet_group = await GroupListener.join(quiet.thread_id())
        followed_group = await GroupListener.join(followed.thread_id())
        gated.release(2)  # one word each
        await quiet.until(lambda events: deltas(events) == "one")
        await followed.until(lambda events: deltas(events) == "uno")
        await runs.follow(followed.thread_id())  # what a live subscriber's socket says
        gated.release(6)
        await quiet.to_end()
        await followed.to_end()
        heard_quiet = await quiet_group.until_run_ends()
        heard_followed = await followed_group.until_run_ends()
    # The unfollowed thread only says how its run went (and maybe that it started).
    assert {message["type"] for message in heard_quiet} == {"chatkit.run"}, heard_quiet
    assert heard_quiet[-1]["state"] == "finished"
    assert "chatkit.events" in {message["type"] for message in heard_followed}


async def test_the_interest_listener_listens_again_after_the_channel_layer_fails(user, gated, monkeypatch):
    # A channel layer that fails once (Redis restarting, or redis-py's read timeout) must
    # not leave this process deaf to live subscribers elsewhere for good.
    layer = get_channel_layer()
    receive = type(layer).receive
    failures: list[str] = []

    async def failing_once(self, channel):
        if channel.startswith("chatkit.runs.") and not failures:
            failures.append(channel)
            raise ConnectionError("the channel layer went away")
        return await receive(self, channel)

    monkeypatch.setattr(type(layer), "receive", failing_once)
    chatkit = {**settings.CHATKIT, "SERVER_CLASS": "tests.support.runs.GatedServer", "LIVE_EVENTS_INTERVAL": 0.01}
    words = " ".join(f"w{n}" for n in range(60))
    with override_settings(CHATKIT=chatkit):
        reader = await start(user, words)
        thread_id = reader.thread_id()
        group = await GroupListener.join(thread_id)
        heard: list[dict] = []
        async with asyncio.timeout(10):
            while "chatkit.events" not in {message["type"] for message in heard}:
                # What a subscriber's socket in another process says, and renews.
                await layer.group_send(runs.INTEREST_GROUP, {"type": "chatkit.interest", "thread_id": thread_id})
                gated.release(1)
                try:
                    async with asyncio.timeout(0.2):
                        heard.append(await layer.receive(group.channel))
                except TimeoutError:
                    pass
        gated.release(100)
        await reader.to_end()
    assert failures, "the listener never received"
