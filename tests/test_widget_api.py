"""django_chatkit/api/widgets.py: staff-only widget template endpoints and render-with-data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from django_chatkit.widgets import WidgetDefinition, save_widget_definition

pytestmark = pytest.mark.django_db

EXAMPLE_WIDGETS = Path(__file__).resolve().parent.parent / "example_project" / "demo" / "widgets"
LINES = [{"id": "blue-line", "name": "Blue Line", "color": "blue-500"}]


@pytest.fixture
def templates(db):
    for path in sorted(EXAMPLE_WIDGETS.glob("*.widget")):
        save_widget_definition(WidgetDefinition.from_file(path))


def post_json(client, url: str, body) -> object:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def render_url(name: str) -> str:
    return reverse("django_chatkit_api:widget-template-render", kwargs={"name": name})


def test_list_and_retrieve_for_staff(admin_client, templates):
    listing = admin_client.get(reverse("django_chatkit_api:widget-template-list")).json()
    assert [t["name"] for t in listing] == ["article_button", "item_list", "line_selector", "suggestions"]
    assert listing[0] == {
        "name": "article_button",
        "title": "Article button",
        "version": 1,
        "description": listing[0]["description"],
        "updated_at": listing[0]["updated_at"],
    }
    searched = admin_client.get(reverse("django_chatkit_api:widget-template-list"), {"search": "line"}).json()
    assert [t["name"] for t in searched] == ["line_selector"]

    detail = admin_client.get(
        reverse("django_chatkit_api:widget-template-detail", kwargs={"name": "line_selector"})
    ).json()
    assert detail["versions"] == [1] and detail["json_schema"]["required"] == ["lines", "selected"]
    assert detail["template"] == WidgetDefinition.from_file(EXAMPLE_WIDGETS / "line_selector.widget").template


@pytest.mark.parametrize("who", ["anonymous", "user"])
def test_non_staff_are_refused(client, user, templates, who):
    if who == "user":
        client.force_login(user)
    assert client.get(reverse("django_chatkit_api:widget-template-list")).status_code in (401, 403)
    response = post_json(client, render_url("line_selector"), {"data": {"lines": LINES, "selected": None}})
    assert response.status_code in (401, 403)
    assert "widget" not in response.json()


def test_render_with_data_returns_the_widget_json(admin_client, templates):
    response = post_json(admin_client, render_url("line_selector"), {"data": {"lines": LINES, "selected": "blue-line"}})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["template"], body["version"]) == ("line_selector", 1)
    row = body["widget"]["children"][0]
    assert body["widget"]["type"] == "ListView"
    assert row["onClickAction"] == {"type": "line.select", "handler": "server", "payload": {"id": "blue-line"}}
    assert row["children"][0]["children"][0] == {"type": "Icon", "name": "check-circle-filled", "color": "blue-500"}


def test_render_with_invalid_data_returns_the_validation_errors(admin_client, templates):
    response = post_json(admin_client, render_url("line_selector"), {"data": {"lines": [{"id": 1}], "selected": None}})
    assert response.status_code == 400
    body = response.json()
    assert (body["template"], body["version"], body["stage"], body["field"]) == (
        "line_selector",
        1,
        "data validation",
        "data",
    )
    paths = sorted(e["path"] for e in body["errors"])
    assert paths == ["$.lines[0]", "$.lines[0]", "$.lines[0].id"]
    assert body["detail"].startswith("Widget template 'line_selector' (version 1): data validation failed:")


def test_render_a_given_version(admin_client, templates):
    from django_chatkit.models import WidgetTemplate

    template = WidgetTemplate.objects.get(name="article_button")
    template.template = template.template.replace("View Article", "Read it")
    template.save()
    data = {"data": {"article": {"id": "a-1", "title": "T", "summary": "S"}}}
    current = post_json(admin_client, render_url("article_button"), data).json()
    old = post_json(admin_client, render_url("article_button"), {**data, "version": 1}).json()
    assert (current["version"], current["widget"]["children"][2]["label"]) == (2, "Read it")
    assert (old["version"], old["widget"]["children"][2]["label"]) == (1, "View Article")


@pytest.mark.parametrize(
    "name, body, status, message",
    [
        ("nope", {"data": {}}, 404, "No widget template named 'nope'."),
        ("line_selector", {"data": {}, "version": 7}, 404, "Widget template 'line_selector' has no version 7."),
        ("line_selector", {"data": {}, "version": "1"}, 400, "version must be an integer."),
        ("line_selector", [1, 2], 400, 'The body must be a JSON object like {"data": {...}}.'),
    ],
)
def test_render_request_mistakes(admin_client, templates, name, body, status, message):
    response = post_json(admin_client, render_url(name), body)
    assert response.status_code == status
    assert response.json()["detail"] == message


def test_preview_renders_unsaved_source(admin_client):
    url = reverse("django_chatkit_api:widget-template-preview")
    source = '{"type": "Card", "children": [{"type": "Text", "value": {{ title|tojson }}}]}'
    ok = post_json(admin_client, url, {"template": source, "jsonSchema": {"type": "object"}, "data": {"title": "Hi"}})
    assert ok.status_code == 200
    assert ok.json()["widget"] == {"type": "Card", "children": [{"type": "Text", "value": "Hi"}]}

    evil = post_json(admin_client, url, {"template": "{{ title.__class__ }}", "data": {"title": "x"}})
    assert evil.status_code == 400
    assert evil.json()["stage"] == "template" and "unsafe" in evil.json()["errors"][0]["message"]

    missing = post_json(admin_client, url, {"data": {}})
    assert missing.status_code == 400 and missing.json()["field"] == "template"
