"""The thread admin's transcript in a browser: widgets rendered as the user saw them
(static/django_chatkit/admin_transcript.js), times, attachments and feedback in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from tests.support.pages import strict_csp_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACT = Path(__file__).resolve().parents[2] / "artifacts" / "admin_thread_transcript.png"


def test_transcript_renders_widgets_and_shows_times_attachments_and_feedback(open_page, expect, thread):
    admin = get_user_model().objects.create_superuser("browser-admin", "admin@example.com", "pw-admin")
    page = strict_csp_page(open_page, f"/admin/django_chatkit/thread/{thread.pk}/change/", admin)
    transcript = page.get_by_role("list", name="Transcript")
    widget = page.locator("#item-w2 .ck-widget")
    expect(widget).to_be_visible()
    expect(widget.get_by_text("Blue Line")).to_be_visible()
    expect(widget.get_by_text("Red Line")).to_be_visible()

    question = page.locator("#item-m0")
    expect(question.locator("time")).to_have_text("2026-03-04 09:15:05")
    expect(question.get_by_role("list", name="Attachments").get_by_role("link", name="notes.txt")).to_be_visible()
    answer = page.locator("#item-m1")
    expect(answer.get_by_role("list", name="Feedback")).to_contain_text("negative feedback from grace")
    expect(transcript.get_by_role("listitem").first).to_contain_text("Where to go?")

    href = question.get_by_role("link", name="notes.txt").get_attribute("href")
    response = page.request.get(href)  # with the page's cookies
    assert response.status == 200 and response.body() == b"hello"

    ARTIFACT.parent.mkdir(exist_ok=True)
    page.locator("fieldset").first.screenshot(path=str(ARTIFACT))
    assert page.console_errors == [] and page.js_errors == []
