"""Stored threads of a given length, written in bulk (for the query-count and paging tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from chatkit.types import AssistantMessageContent, AssistantMessageItem

from django_chatkit import models
from django_chatkit.store import item_row

T0 = datetime(2026, 1, 1)


def make_thread(thread_id: str, length: int, owner: str = "user:1") -> None:
    """A thread of ``owner`` with ``length`` answers ``m0``, ``m1``... (texts ``n0``, ``n1``...),
    one millisecond apart, stored as the store stores items."""
    models.Thread.objects.create(
        thread_id=thread_id,
        owner=owner,
        created_at_us=0,
        data={"id": thread_id, "created_at": T0.isoformat(), "status": {"type": "active"}, "metadata": {}},
    )
    rows = [
        item_row(
            thread_id,
            owner,
            AssistantMessageItem(
                id=f"m{n}",
                thread_id=thread_id,
                created_at=T0 + timedelta(milliseconds=n),
                content=[AssistantMessageContent(text=f"n{n}")],
            ),
        )
        for n in range(length)
    ]
    models.ThreadItem.objects.bulk_create(rows, batch_size=2000)
