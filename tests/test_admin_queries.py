"""The admin's list and change pages make as many queries for many rows as for a few
(no query per row): each page is measured with a few rows, then must stay within that
count with many more (django_assert_max_num_queries)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_chatkit import models
from django_chatkit.widgets import WidgetDefinition, save_widget_definition

pytestmark = pytest.mark.django_db

CARD = '{"type": "Card", "children": [{"type": "Text", "value": {{ title|tojson }}}]}'
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


class Rows:
    """Adds threads (each with its own user), items, attachments, feedback, runs and
    widget templates (each with several versions by different users), n at a time."""

    def __init__(self, django_user_model) -> None:
        self.users = django_user_model
        self.count = 0
        self.thread = None

    def add(self, n: int) -> None:
        for _ in range(n):
            self.count += 1
            k = self.count
            user = self.users.objects.create_user(f"user{k}", password="pw")
            owner = f"user:{user.pk}"
            thread = models.Thread.objects.create(
                thread_id=f"thr_{k}", owner=owner, title=f"Thread {k}", created_at_us=k, data={"id": f"thr_{k}"}
            )
            self.thread = self.thread or thread
            attachment = models.Attachment.objects.create(
                attachment_id=f"atc_{k}",
                owner=owner,
                thread_id="thr_1",
                name=f"f{k}.txt",
                mime_type="text/plain",
                data={"id": f"atc_{k}", "type": "file", "name": f"f{k}.txt", "mime_type": "text/plain"},
            )
            for item_id, kind, data in (
                (
                    f"u{k}",
                    "user_message",
                    {"content": [{"type": "input_text", "text": "hi"}], "attachments": [attachment.data]},
                ),
                (f"a{k}", "assistant_message", {"content": [{"type": "output_text", "text": f"answer {k}"}]}),
                (f"w{k}", "widget", {"widget": {"type": "Card", "children": [{"type": "Text", "value": "x"}]}}),
            ):
                models.ThreadItem.objects.create(
                    thread=self.thread,
                    item_id=item_id,
                    owner=self.thread.owner,
                    type=kind,
                    created_at_us=k,
                    data={"id": item_id, "type": kind, **data},
                )
            models.Feedback.objects.create(thread=self.thread, item_id=f"a{k}", owner=owner, kind="positive")
            now = timezone.now()
            models.ThreadRun.objects.create(
                thread=thread,
                run_id=f"run_{k}",
                owner=owner,
                process="host:1:t",
                mode="cancel",
                started_at=now,
                heartbeat_at=now,
            )
            template, _ = save_widget_definition(
                WidgetDefinition(name=f"t{k}", template=CARD, json_schema=SCHEMA, sample_data={"title": "a"}), user=user
            )
            template.title = f"T{k}"
            template.save(user=user, comment="again")


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


PAGES = {
    "thread list": lambda rows: reverse("admin:django_chatkit_thread_changelist"),
    "thread page": lambda rows: reverse("admin:django_chatkit_thread_change", args=[rows.thread.pk]),
    "attachment list": lambda rows: reverse("admin:django_chatkit_attachment_changelist"),
    "feedback list": lambda rows: reverse("admin:django_chatkit_feedback_changelist"),
    "running responses": lambda rows: reverse("admin:django_chatkit_threadrun_changelist"),
    "widget template list": lambda rows: reverse("admin:django_chatkit_widgettemplate_changelist"),
    "widget template page": lambda rows: reverse(
        "admin:django_chatkit_widgettemplate_change", args=[models.WidgetTemplate.objects.get(name="t1").pk]
    ),
}


@pytest.mark.parametrize("page", PAGES)
def test_queries_do_not_grow_with_the_rows(admin_client, django_user_model, django_assert_max_num_queries, page):
    rows = Rows(django_user_model)
    rows.add(2)
    url = PAGES[page](rows)
    few = queries(admin_client, url)
    rows.add(10)
    template = models.WidgetTemplate.objects.get(name="t1")
    for n in range(10):  # more versions of the template whose page is measured
        template.title = f"T1 v{n}"
        template.save(user=django_user_model.objects.get(username=f"user{n + 2}"))
    with django_assert_max_num_queries(few):
        html = admin_client.get(url).content.decode()
    if page == "thread page":
        assert html.count('class="chatkit-transcript-item') == 36 and "answer 12" in html
    if page.endswith("list"):
        assert "user12" in html or "t12" in html
