"""A seeded thread for the admin tests (a pytest plugin: tests/conftest.py loads it): its
owner ``grace``, a user message with an attachment, an answer, a widget and feedback."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core.files.base import ContentFile

from django_chatkit import models
from django_chatkit.store import to_microseconds

WIDGET = {
    "type": "ListView",
    "children": [
        {
            "type": "ListViewItem",
            "children": [
                {
                    "type": "Row",
                    "gap": 3,
                    "children": [
                        {"type": "Icon", "name": "empty-circle", "color": color},
                        {"type": "Text", "value": name},
                    ],
                }
            ],
        }
        for name, color in (("Blue Line", "blue-500"), ("Red Line", "red-500"))
    ],
}
T0 = datetime(2026, 3, 4, 9, 15, 0)


def at(seconds: int) -> int:
    return to_microseconds(T0.replace(second=seconds))


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("grace", password="pw")


@pytest.fixture
def thread(owner):
    key = f"user:{owner.pk}"
    thread = models.Thread.objects.create(
        thread_id="thr_1",
        owner=key,
        title="Trip planning",
        created_at_us=at(0),
        data={"id": "thr_1", "created_at": T0.isoformat(), "status": {"type": "active"}, "metadata": {}},
    )
    upload = models.Attachment.objects.create(
        attachment_id="atc_1",
        owner=key,
        thread_id="thr_1",
        name="notes.txt",
        mime_type="text/plain",
        size=5,
        data={"id": "atc_1", "type": "file", "name": "notes.txt", "mime_type": "text/plain"},
    )
    upload.file.save("notes.txt", ContentFile(b"hello"), save=True)
    items = [
        (
            "m0",
            "user_message",
            {"content": [{"type": "input_text", "text": "Where to go?"}], "attachments": [upload.data]},
        ),
        ("m1", "assistant_message", {"content": [{"type": "output_text", "text": "Try Bergen."}]}),
        ("w2", "widget", {"widget": WIDGET}),
    ]
    for n, (item_id, kind, data) in enumerate(items):
        models.ThreadItem.objects.create(
            thread=thread,
            item_id=item_id,
            owner=key,
            type=kind,
            created_at_us=at(10 * n + 5),
            data={"id": item_id, "type": kind, "thread_id": "thr_1", **data},
        )
    models.Feedback.objects.create(thread=thread, item_id="m1", owner=key, kind="negative")
    return thread
