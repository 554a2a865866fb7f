"""The widget template admin's live preview (static/django_chatkit/admin_preview.js):
renders the sample data, follows edits, shows errors inline, and shows action payloads
instead of sending them."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from django_chatkit.models import WidgetTemplate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEMPLATE = """{
  "type": "Card",
  "children": [
    {"type": "Title", "value": "{{ title }}"},
    {"type": "Button", "label": "Greet", "onClickAction": {"type": "greet", "payload": {"name": "{{ title }}"}}}
  ]
}"""
SCHEMA = {"type": "object", "properties": {"title": {"type": "string", "maxLength": 20}}, "required": ["title"]}


@pytest.fixture
def admin():
    return get_user_model().objects.create_superuser("browser-admin", "admin@example.com", "pw-admin")


@pytest.fixture
def greeting():
    template = WidgetTemplate(name="greeting", title="Greeting", template=TEMPLATE, json_schema=SCHEMA, sample_data={"title": "Hello"})
    template.save()
    return template


def test_preview_renders_sample_data_and_follows_edits(open_page, expect, admin, greeting):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{greeting.pk}/change/", admin)
    preview = page.get_by_role("region", name="Live preview")
    widget = preview.locator(".ck-widget")
    expect(widget.get_by_role("heading")).to_have_text("Hello")

    page.locator("#id_sample_data").fill(json.dumps({"title": "World"}))
    expect(widget.get_by_role("heading")).to_have_text("World")

    page.locator("#id_template").fill(TEMPLATE.replace('"Title"', '"Text"'))
    expect(widget.locator('[data-ck-type="Text"]')).to_have_text("World")

    # A schema edit is checked against the sample data at once.
    page.locator("#id_json_schema").fill(json.dumps({**SCHEMA, "properties": {"title": {"type": "string", "maxLength": 3}}}))
    expect(preview.get_by_role("alert")).to_be_visible()
    expect(widget).to_have_count(0)
    page.locator("#id_json_schema").fill(json.dumps(SCHEMA))
    expect(widget.locator('[data-ck-type="Text"]')).to_have_text("World")
    assert page.js_errors == []


def test_invalid_edits_show_the_error_instead(open_page, expect, admin, greeting):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{greeting.pk}/change/", admin)
    preview = page.get_by_role("region", name="Live preview")
    expect(preview.locator(".ck-widget")).to_contain_text("Hello")

    # A template that does not compile.
    page.locator("#id_template").fill(TEMPLATE.replace("{{ title }}", "{{ title ", 1))
    alert = preview.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("template")
    expect(preview.locator(".ck-widget")).to_have_count(0)
    expect(page.locator("#id_template")).to_have_attribute("aria-invalid", "true")

    # Fixed again: the widget comes back and the error goes away.
    page.locator("#id_template").fill(TEMPLATE)
    expect(preview.locator(".ck-widget")).to_contain_text("Hello")
    expect(alert).to_be_hidden()

    # Sample data that fails the schema: the error names the data, next to its field.
    page.locator("#id_sample_data").fill(json.dumps({"title": "x" * 30}))
    expect(alert).to_be_visible()
    expect(page.locator("#id_sample_data")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_sample_data + .chatkit-field-error")).to_be_visible()

    # Sample data that is not JSON at all.
    page.locator("#id_sample_data").fill('{"title": ')
    expect(alert).to_contain_text("not valid JSON")


def test_clicking_an_action_shows_its_payload_instead_of_sending_it(open_page, expect, admin, greeting):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{greeting.pk}/change/", admin)
    preview = page.get_by_role("region", name="Live preview")
    button = preview.get_by_role("button", name="Greet")
    expect(button).to_be_visible()
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    button.click()
    log = preview.locator(".chatkit-preview-action")
    expect(log).to_contain_text("Action (not sent)")
    payload = json.loads(log.inner_text().split("\n", 1)[1])
    assert payload["type"] == "greet" and payload["payload"] == {"name": "Hello"}
    assert payload["handler"] == "server"
    assert posts == []
