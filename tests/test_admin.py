"""The admin shows threads with a readable transcript, attachments and feedback."""

import pytest
from django.urls import reverse

from django_chatkit import models

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread():
    thread = models.Thread.objects.create(
        thread_id="thr_1", owner="user:7", title="Trip planning", created_at_us=0,
        data={"id": "thr_1", "created_at": "2026-01-01T00:00:00", "status": {"type": "active"}, "metadata": {}},
    )
    for n, (kind, text) in enumerate([("user_message", "Where to go?"), ("assistant_message", "Try Bergen.")]):
        part = "input_text" if kind == "user_message" else "output_text"
        models.ThreadItem.objects.create(
            thread=thread, item_id=f"m{n}", owner="user:7", type=kind, created_at_us=n,
            data={"id": f"m{n}", "type": kind, "content": [{"type": part, "text": text}]},
        )
    models.Feedback.objects.create(thread=thread, item_id="m1", owner="user:7", kind="negative")
    return thread


def test_thread_page_shows_the_transcript_in_order(admin_client, thread):
    response = admin_client.get(reverse("admin:django_chatkit_thread_change", args=[thread.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Where to go?") < html.index("Try Bergen.")
    assert "negative" in html


def test_threads_are_searchable_by_owner_and_title(admin_client, thread):
    url = reverse("admin:django_chatkit_thread_changelist")
    assert "Trip planning" in admin_client.get(url, {"q": "user:7"}).content.decode()
    assert "Trip planning" not in admin_client.get(url, {"q": "someone-else"}).content.decode()


def test_feedback_and_attachments_are_listed(admin_client, thread):
    models.Attachment.objects.create(attachment_id="atc_1", owner="user:7", name="notes.txt", mime_type="text/plain",
                                     data={})
    feedback = admin_client.get(reverse("admin:django_chatkit_feedback_changelist")).content.decode()
    assert "m1" in feedback and "negative" in feedback
    attachments = admin_client.get(reverse("admin:django_chatkit_attachment_changelist")).content.decode()
    assert "notes.txt" in attachments
