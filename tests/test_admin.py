"""The admin shows threads with a readable transcript, attachments and feedback."""

import re

import pytest
from django.urls import reverse

from django_chatkit import models
from django_chatkit.store import attachment_storage
from tests.support.admin_data import at

pytestmark = pytest.mark.django_db


def item_block(html: str, item_id: str) -> str:
    """The transcript entry of one item, as HTML."""
    match = re.search(rf'<li class="chatkit-transcript-item[^"]*" id="item-{item_id}">(.*?)\n  </li>', html, re.S)
    assert match, f"no transcript entry for {item_id}"
    return match.group(1)


def test_thread_page_shows_the_transcript_in_order(admin_client, thread):
    response = admin_client.get(reverse("admin:django_chatkit_thread_change", args=[thread.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Where to go?") < html.index("Try Bergen.") < html.index("Blue Line · Red Line")
    assert "negative" in html


def test_thread_page_shows_owner_times_attachments_widgets_and_feedback_in_context(admin_client, thread, owner):
    html = admin_client.get(reverse("admin:django_chatkit_thread_change", args=[thread.pk])).content.decode()
    user_url = reverse("admin:auth_user_change", args=[owner.pk])
    assert f'<a href="{user_url}">grace</a>' in html  # the owner is the user, not only "user:<pk>"
    assert "2026-03-04 09:15:00" in html  # created

    question = item_block(html, "m0")
    assert '<time datetime="2026-03-04T09:15:05">2026-03-04 09:15:05</time>' in question
    download = reverse("admin:django_chatkit_attachment_download", args=[models.Attachment.objects.get().pk])
    assert f'<a href="{download}">notes.txt</a>' in question and "text/plain" in question

    answer = item_block(html, "m1")
    assert "Try Bergen." in answer and "2026-03-04 09:15:15" in answer
    assert "<strong>negative</strong> feedback from" in answer and f'<a href="{user_url}">grace</a>' in answer
    assert "feedback" not in question

    widget = item_block(html, "w2")
    assert "Blue Line · Red Line" in widget  # readable without JavaScript
    assert 'data-widget="{&quot;type&quot;: &quot;ListView&quot;' in widget  # rendered by admin_transcript.js
    assert "admin_transcript.js" in html and "<script>" not in html


def test_staff_download_an_attachment_from_the_admin(admin_client, client, django_user_model, thread):
    attachment = models.Attachment.objects.get()
    url = reverse("admin:django_chatkit_attachment_download", args=[attachment.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"hello"
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"

    client.force_login(django_user_model.objects.create_user("plain", password="pw"))
    assert client.get(url).status_code == 302  # to the admin login
    assert attachment_storage().exists(attachment.file.name)


def test_threads_are_searchable_by_owner_username_and_title(admin_client, thread, owner):
    url = reverse("admin:django_chatkit_thread_changelist")
    page = admin_client.get(url, {"q": f"user:{owner.pk}"}).content.decode()
    assert "Trip planning" in page and ">grace</a>" in page
    assert "Trip planning" not in admin_client.get(url, {"q": "someone-else"}).content.decode()
    assert "Trip planning" in admin_client.get(url, {"q": "GRAC"}).content.decode()  # the owner's username
    feedback = admin_client.get(reverse("admin:django_chatkit_feedback_changelist"), {"q": "grace"}).content.decode()
    assert "Try Bergen." in feedback


def test_feedback_rows_show_the_rated_message_and_attachments_are_listed(admin_client, thread):
    feedback = admin_client.get(reverse("admin:django_chatkit_feedback_changelist")).content.decode()
    thread_url = reverse("admin:django_chatkit_thread_change", args=[thread.pk])
    assert f'<a href="{thread_url}#item-m1">Try Bergen.</a>' in feedback
    assert "negative" in feedback and ">grace</a>" in feedback
    attachments = admin_client.get(reverse("admin:django_chatkit_attachment_changelist")).content.decode()
    assert "notes.txt" in attachments and ">grace</a>" in attachments


def test_a_long_message_is_truncated_in_the_feedback_list(admin_client, thread):
    models.ThreadItem.objects.filter(item_id="m1").update(
        data={"id": "m1", "type": "assistant_message", "content": [{"type": "output_text", "text": "word " * 100}]}
    )
    feedback = admin_client.get(reverse("admin:django_chatkit_feedback_changelist")).content.decode()
    assert re.search(r"#item-m1\">(word ){19}word…</a>", feedback)


def test_feedback_and_running_response_pages_show_the_message_and_the_user(admin_client, thread):
    from django.utils import timezone

    rating = models.Feedback.objects.get()
    page = admin_client.get(reverse("admin:django_chatkit_feedback_change", args=[rating.pk])).content.decode()
    assert "Try Bergen." in page and ">grace</a>" in page
    now = timezone.now()
    run = models.ThreadRun.objects.create(
        thread=thread,
        run_id="run_1",
        owner=thread.owner,
        process="host:1:t",
        mode="cancel",
        started_at=now,
        heartbeat_at=now,
    )
    page = admin_client.get(reverse("admin:django_chatkit_threadrun_change", args=[run.pk])).content.decode()
    assert "run_1" in page and ">grace</a>" in page


def test_tasks_workflows_and_tool_calls_read_as_text_in_the_transcript(admin_client, thread):
    extra = [
        ("t3", "task", {"task": {"type": "thought", "title": "Thinking", "content": "Compare fjords"}}),
        (
            "f4",
            "workflow",
            {
                "workflow": {
                    "type": "custom",
                    "tasks": [
                        {"type": "web_search", "title": "Searching", "queries": ["Bergen weather"]},
                        {"type": "custom", "title": "Booking"},
                    ],
                }
            },
        ),
        (
            "c5",
            "client_tool_call",
            {"name": "get_location", "call_id": "c", "arguments": {"precise": True}, "status": "completed"},
        ),
    ]
    for n, (item_id, kind, data) in enumerate(extra, start=3):
        models.ThreadItem.objects.create(
            thread=thread,
            item_id=item_id,
            owner=thread.owner,
            type=kind,
            created_at_us=at(10 * n + 5),
            data={"id": item_id, "type": kind, **data},
        )
    html = admin_client.get(reverse("admin:django_chatkit_thread_change", args=[thread.pk])).content.decode()
    assert "Thinking — Compare fjords" in item_block(html, "t3")
    assert "Searching — Bergen weather; Booking" in item_block(html, "f4")
    assert "get_location({&quot;precise&quot;: true}) → completed" in item_block(html, "c5")
