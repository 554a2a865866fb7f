"""In-process measurements of database cost: queries per turn, paging, widget rendering.

    python -m bench.dbcost '{"measure": "queries", "small": 10, "large": 10000}'
    python -m bench.dbcost '{"measure": "paging", "small": 100, "large": 100000, "iterations": 200}'
    python -m bench.dbcost '{"measure": "widgets", "iterations": 2000}'
    python -m bench.dbcost '{"measures": {"queries": {...}, "paging": {...}}}'   # several, one process

Runs against the bench settings' database (SQLite unless ``CHATKIT_BENCH_DATABASE_URL``
names PostgreSQL), migrates it, fills it, and prints one JSON result on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from chatkit.types import (  # noqa: E402
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from django_chatkit import models  # noqa: E402
from django_chatkit.context import RequestContext  # noqa: E402
from django_chatkit.ids import new_id  # noqa: E402
from django_chatkit.store import _thread_data, to_microseconds  # noqa: E402

from .app import BENCH_OWNER, BenchChatKitServer  # noqa: E402
from .bodies import add_message_request, items_list_request  # noqa: E402

CONTEXT = RequestContext(user_id=BENCH_OWNER)


def make_thread(item_count: int) -> tuple[str, list[str]]:
    """A thread of ``item_count`` alternating user and assistant messages; returns its
    id and its item ids in order."""
    thread_id = new_id("thr")
    start = datetime(2026, 1, 1, 12, 0, 0)
    thread = ThreadMetadata(id=thread_id, created_at=start, title=f"{item_count} items")
    models.Thread.objects.create(
        thread_id=thread_id,
        owner=BENCH_OWNER,
        title=thread.title,
        created_at_us=to_microseconds(start),
        data=_thread_data(thread),
    )
    ids: list[str] = []
    batch: list[models.ThreadItem] = []
    for index in range(item_count):
        moment = start + timedelta(seconds=index)
        if index % 2 == 0:
            item: Any = UserMessageItem(
                id=new_id("msg"),
                thread_id=thread_id,
                created_at=moment,
                content=[UserMessageTextContent(text=f"question {index}: how does paging scale?")],
                attachments=[],
                inference_options=InferenceOptions(),
            )
        else:
            item = AssistantMessageItem(
                id=new_id("msg"),
                thread_id=thread_id,
                created_at=moment,
                content=[AssistantMessageContent(text=f"answer {index}: " + "keyset pages stay flat. " * 8)],
            )
        ids.append(item.id)
        batch.append(
            models.ThreadItem(
                thread_id=thread_id,
                item_id=item.id,
                owner=BENCH_OWNER,
                type=item.type,
                created_at_us=to_microseconds(moment),
                data=item.model_dump(mode="json"),
            )
        )
        if len(batch) >= 2000:
            models.ThreadItem.objects.bulk_create(batch)
            batch = []
    if batch:
        models.ThreadItem.objects.bulk_create(batch)
    return thread_id, ids


async def _consume(server: BenchChatKitServer, body: bytes) -> int:
    result = await server.process(body, CONTEXT)
    if hasattr(result, "json"):
        return len(result.json)
    size = 0
    async for chunk in result:
        if b'"type":"error"' in chunk:
            raise RuntimeError(f"the turn failed: {chunk[:300]!r}")
        size += len(chunk)
    return size


async def _request(body: bytes) -> int:
    """One request through the transports' shared core (``handle_chatkit_request``):
    context, checks, the durable-run bookkeeping, the SDK; the stream read to its end."""
    from django.test import RequestFactory

    from django_chatkit.transport.core import handle_chatkit_request

    request = RequestFactory().post("/chatkit/", data=body, content_type="application/json")
    response = await handle_chatkit_request(request, body)
    if response.status != 200:
        raise RuntimeError(f"the turn failed: {response.status} {response.body[:300]!r}")
    size = 0
    if response.stream is not None:
        async for batch in response.stream.batches():
            if b'"type":"error"' in batch:
                raise RuntimeError(f"the turn failed: {batch[:300]!r}")
            size += len(batch)
        await response.stream.stop()
    return size


def measure_queries(spec: dict[str, Any]) -> dict[str, Any]:
    """Queries of one ``threads.add_user_message`` turn answered with one message, as a
    request through the transport core, and as the bare ``server.process``.

    ``async_to_sync`` from this (main) thread runs the async ORM's thread-sensitive
    calls back on this thread, so ``CaptureQueriesContext`` sees every query.
    """
    server = BenchChatKitServer()
    results = {}
    for label, size in (("small", spec["small"]), ("large", spec["large"])):
        thread_id, _ = make_thread(size)
        found: dict[str, Any] = {"items": size}

        async def through_request(thread_id: str = thread_id) -> int:
            return await _request(add_message_request(thread_id, 1))

        async def through_process(thread_id: str = thread_id) -> int:
            return await _consume(server, add_message_request(thread_id, 1))

        for way, turn in (("request", through_request), ("process", through_process)):
            async_to_sync(turn)()  # warm-up turn
            counts, sql = [], []
            for _ in range(3):
                with CaptureQueriesContext(connection) as captured:
                    async_to_sync(turn)()
                counts.append(len(captured.captured_queries))
                sql = [q["sql"][:160] for q in captured.captured_queries]
            found["queries" if way == "request" else "process_queries"] = counts
            found["sql" if way == "request" else "process_sql"] = sql
        results[label] = found
    return {"vendor": connection.vendor, **results}


def measure_paging(spec: dict[str, Any]) -> dict[str, Any]:
    """Time of one ``items.list`` page (the newest page, and a page from the middle)."""
    server = BenchChatKitServer()
    threads = {}
    fill_started = time.perf_counter()
    for label in ("small", "large"):
        thread_id, ids = make_thread(spec[label])
        threads[label] = (thread_id, ids[len(ids) // 2])
    fill = time.perf_counter() - fill_started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    limit = spec.get("limit", 20)
    iterations = spec["iterations"]

    async def run() -> dict[str, Any]:
        timings: dict[str, list[float]] = {f"{label}_{page}": [] for label in threads for page in ("newest", "middle")}
        bodies = {}
        for label, (thread_id, middle) in threads.items():
            bodies[f"{label}_newest"] = items_list_request(thread_id, limit=limit)
            bodies[f"{label}_middle"] = items_list_request(thread_id, limit=limit, after=middle)
        for body in bodies.values():  # warm-up
            await _consume(server, body)
        for _ in range(iterations):  # alternate the threads, so drift hits both alike
            for key, body in bodies.items():
                started = time.perf_counter()
                await _consume(server, body)
                timings[key].append(time.perf_counter() - started)
        return timings

    timings = asyncio.run(run())
    return {
        "vendor": connection.vendor,
        "items": {label: spec[label] for label in threads},
        "limit": limit,
        "iterations": iterations,
        "fill_seconds": fill,
        "timings": {key: _summary(values) for key, values in timings.items()},
    }


WIDGET_TEMPLATE = """{
  "type": "Card",
  "size": "md",
  "children": [
    {"type": "Title", "value": {{ title|tojson }}},
    {% for line in lines %}
    {"type": "Row", "children": [
      {"type": "Text", "value": {{ line.label|tojson }}},
      {"type": "Spacer"},
      {"type": "Text", "value": {{ line.status|tojson }}, "color": "secondary"}
    ]}{% if not loop.last %},{% endif %}
    {% endfor %}
  ]
}"""

WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"label": {"type": "string"}, "status": {"type": "string"}},
                "required": ["label", "status"],
            },
        },
    },
    "required": ["title", "lines"],
}

WIDGET_DATA = {
    "title": "Line status",
    "lines": [{"label": f"Line {n}", "status": "Good service" if n % 3 else "Minor delays"} for n in range(8)],
}


def measure_widgets(spec: dict[str, Any]) -> dict[str, Any]:
    """``render_widget`` from an admin-managed template vs the SDK's ``WidgetTemplate.build``."""
    from chatkit.widgets import WidgetTemplate as SdkWidgetTemplate

    from django_chatkit.widgets import render_widget

    name = f"bench_lines_{new_id('w')}"
    models.WidgetTemplate(name=name, title="Bench lines", template=WIDGET_TEMPLATE, json_schema=WIDGET_SCHEMA).save()
    sdk = SdkWidgetTemplate({"version": "1.0", "name": name, "template": WIDGET_TEMPLATE, "jsonSchema": WIDGET_SCHEMA})
    ours = render_widget(name, WIDGET_DATA)  # warms the cache
    theirs = sdk.build(WIDGET_DATA)
    same = ours.model_dump(exclude_none=True) == theirs.model_dump(exclude_none=True)
    with CaptureQueriesContext(connection) as captured:
        render_widget(name, WIDGET_DATA)
    warm_queries = len(captured.captured_queries)

    iterations = spec["iterations"]
    timings: dict[str, list[float]] = {"render_widget": [], "sdk_build": []}
    ratios: list[float] = []  # each block of ours over the SDK's block next to it
    block = 50
    for _ in range(max(1, iterations // block)):
        started = time.perf_counter()
        for _ in range(block):
            render_widget(name, WIDGET_DATA)
        timings["render_widget"].append((time.perf_counter() - started) / block)
        started = time.perf_counter()
        for _ in range(block):
            sdk.build(WIDGET_DATA)
        timings["sdk_build"].append((time.perf_counter() - started) / block)
        ratios.append(timings["render_widget"][-1] / timings["sdk_build"][-1])
    return {
        # The median of side-by-side ratios: a slow spell of the machine hits both halves of
        # a pair, so it moves this less than it moves the ratio of the two medians.
        "paired_ratio": _summary(ratios),
        "vendor": connection.vendor,
        "same_widget": same,
        "warm_queries": warm_queries,
        "warm_sql": [q["sql"][:160] for q in captured.captured_queries],
        "timings": {key: _summary(values) for key, values in timings.items()},
    }


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "p90": ordered[int(0.9 * (len(ordered) - 1))],
        "n": len(ordered),
    }


MEASURES = {"queries": measure_queries, "paging": measure_paging, "widgets": measure_widgets}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    call_command("migrate", verbosity=0, interactive=False)
    if "measures" in spec:
        result = {name: MEASURES[name](sub) for name, sub in spec["measures"].items()}
    else:
        result = MEASURES[spec["measure"]](spec)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
