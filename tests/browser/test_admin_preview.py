"""The widget template admin form: the code editors (static/django_chatkit/admin_editor.js,
Ace from django-ace) and the live preview beside them (admin_preview.js), which renders the
sample data, follows edits, shows errors inline, and shows action payloads instead of
sending them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from django_chatkit.models import WidgetTemplate
from django_chatkit.widgets import WidgetDefinition, save_widget_definition
from tests.support.pages import strict_csp_page

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


def write_code(page, field: str, text: str) -> None:
    """Replace the text of a code editor as a user does: click in it, select all, type."""
    page.locator(f'.chatkit-code-editor[data-for="id_{field}"] .ace_content').click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


@pytest.fixture
def greeting():
    template = WidgetTemplate(
        name="greeting", title="Greeting", template=TEMPLATE, json_schema=SCHEMA, sample_data={"title": "Hello"}
    )
    template.save()
    return template


def test_preview_renders_sample_data_and_follows_edits(open_page, expect, admin, greeting):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{greeting.pk}/change/", admin)
    preview = page.get_by_role("region", name="Live preview")
    widget = preview.locator(".ck-widget")
    expect(widget.get_by_role("heading")).to_have_text("Hello")

    write_code(page, "sample_data", json.dumps({"title": "World"}))
    expect(widget.get_by_role("heading")).to_have_text("World")

    write_code(page, "template", TEMPLATE.replace('"Title"', '"Text"'))
    expect(widget.locator('[data-ck-type="Text"]')).to_have_text("World")

    # A schema edit is checked against the sample data at once.
    write_code(page, "json_schema", json.dumps({**SCHEMA, "properties": {"title": {"type": "string", "maxLength": 3}}}))
    expect(preview.get_by_role("alert")).to_be_visible()
    expect(widget).to_have_count(0)
    write_code(page, "json_schema", json.dumps(SCHEMA))
    expect(widget.locator('[data-ck-type="Text"]')).to_have_text("World")
    assert page.js_errors == []


def test_invalid_edits_show_the_error_instead(open_page, expect, admin, greeting):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{greeting.pk}/change/", admin)
    preview = page.get_by_role("region", name="Live preview")
    expect(preview.locator(".ck-widget")).to_contain_text("Hello")

    # A template that does not compile.
    write_code(page, "template", TEMPLATE.replace("{{ title }}", "{{ title ", 1))
    alert = preview.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("template")
    expect(preview.locator(".ck-widget")).to_have_count(0)
    expect(page.locator("#id_template")).to_have_attribute("aria-invalid", "true")
    marked = page.locator('.chatkit-code-editor[data-for="id_template"] .ace_gutter-cell.ace_error')
    expect(marked).to_have_count(1)  # the line at fault is marked in the editor's gutter

    # Fixed again: the widget comes back and the error goes away.
    write_code(page, "template", TEMPLATE)
    expect(preview.locator(".ck-widget")).to_contain_text("Hello")
    expect(alert).to_be_hidden()
    expect(marked).to_have_count(0)

    # Sample data that fails the schema: the error names the data, next to its field.
    write_code(page, "sample_data", json.dumps({"title": "x" * 30}))
    expect(alert).to_be_visible()
    expect(page.locator("#id_sample_data")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_sample_data + .chatkit-field-error")).to_be_visible()

    # Sample data that is not JSON at all: the line of the mistake is marked.
    write_code(page, "sample_data", '{"title": ')
    expect(alert).to_contain_text("not valid JSON")
    write_code(page, "sample_data", '{\n  "title": "Hi"\n  "more": 1\n}')
    data_mark = page.locator('.chatkit-code-editor[data-for="id_sample_data"] .ace_gutter-cell.ace_error')
    expect(data_mark).to_have_text("3")


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


ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
EXAMPLE_WIDGETS = Path(__file__).resolve().parents[2] / "example_project" / "demo" / "widgets"


def in_viewport(box: dict, viewport: dict) -> float:
    """How many pixels of `box` are within the viewport, vertically (0 when none)."""
    top, bottom = max(box["y"], 0), min(box["y"] + box["height"], viewport["height"])
    inside_x = box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    return max(0.0, bottom - top) if inside_x else 0.0


@pytest.fixture
def line_selector():
    template, _ = save_widget_definition(WidgetDefinition.from_file(EXAMPLE_WIDGETS / "line_selector.widget"))
    return template


def test_editor_and_preview_are_visible_together_at_1280x800(open_page, expect, admin, line_selector):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{line_selector.pk}/change/", admin)
    page.set_viewport_size({"width": 1280, "height": 800})
    viewport = {"width": 1280, "height": 800}
    preview = page.get_by_role("region", name="Live preview")
    expect(preview.get_by_text("Blue Line")).to_be_visible()
    for field in ("template", "json_schema", "sample_data"):
        editor = page.locator(f'.chatkit-code-editor[data-for="id_{field}"]')
        editor.scroll_into_view_if_needed()
        editor.locator(".ace_content").click(position={"x": 40, "y": 6})
        editor_box, preview_box = editor.bounding_box(), preview.bounding_box()
        assert in_viewport(editor_box, viewport) >= min(editor_box["height"], 200), (field, editor_box)
        assert in_viewport(preview_box, viewport) == preview_box["height"], (field, preview_box)  # all of it
        assert editor_box["x"] + editor_box["width"] <= preview_box["x"]  # side by side, no overlap
        if field == "template":
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "admin_widget_editor.png"))
    assert page.js_errors == []


def test_the_add_form_shows_no_error_before_anything_is_typed(open_page, expect, admin):
    page = open_page("/admin/django_chatkit/widgettemplate/add/", admin)
    preview = page.get_by_role("region", name="Live preview")
    expect(preview).to_contain_text("Write a template to see it rendered")
    page.wait_for_timeout(600)  # longer than the preview's typing delay
    expect(preview.get_by_role("alert")).to_be_hidden()
    expect(page.locator(".chatkit-field-error, .errornote, .errorlist")).to_have_count(0)
    expect(page.locator("#id_sample_data")).not_to_have_attribute("aria-invalid", "true")

    write_code(page, "template", TEMPLATE)
    write_code(page, "sample_data", json.dumps({"title": "Typed"}))
    expect(preview.locator(".ck-widget").get_by_role("heading")).to_have_text("Typed")
    assert page.js_errors == []


def test_an_edit_in_the_code_editor_is_saved_by_the_form(open_page, expect, admin, greeting):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{greeting.pk}/change/", admin)
    write_code(page, "template", TEMPLATE.replace('"Greet"', '"Wave"'))
    write_code(page, "sample_data", '{"title": "Saved"}')
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    greeting.refresh_from_db()
    assert '"label": "Wave"' in greeting.template and greeting.sample_data == {"title": "Saved"}
    assert greeting.version == 2


def test_schema_is_shown_indented_and_format_buttons_tidy_each_field(open_page, expect, admin, greeting):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{greeting.pk}/change/", admin)
    schema_editor = page.locator('.chatkit-code-editor[data-for="id_json_schema"]')
    expect(schema_editor.locator(".ace_line")).to_have_count(len(json.dumps(SCHEMA, indent=2).splitlines()))
    expect(schema_editor).to_contain_text('"required": [')

    # Sample data typed on one line is laid out by its Format button.
    write_code(page, "sample_data", '{"title":   "Hello",  "extra": [1,2]}')
    page.locator(".field-sample_data").get_by_role("button", name="Format").click()
    assert page.locator("#id_sample_data").input_value() == json.dumps({"title": "Hello", "extra": [1, 2]}, indent=2)
    write_code(page, "sample_data", '{"title": "Hello"}')

    # The template (Jinja producing JSON) is laid out too, and renders the same widget.
    minified = '{"type":"Card","children":[{"type":"Title","value":"{{ title }}"},{% if title %}{"type":"Text","value":{{ title|tojson }}}{% endif %}]}'
    write_code(page, "template", minified)
    preview = page.get_by_role("region", name="Live preview")
    expect(preview.locator('.ck-widget [data-ck-type="Text"]')).to_have_text("Hello")
    page.locator(".field-template").get_by_role("button", name="Format").click()
    formatted = page.locator("#id_template").input_value()
    assert formatted.splitlines()[:3] == ["{", '  "type": "Card",', '  "children": [']
    assert '"value": {{ title|tojson }}' in formatted
    expect(preview.locator('.ck-widget [data-ck-type="Text"]')).to_have_text("Hello")
    expect(preview.locator(".ck-widget").get_by_role("heading")).to_have_text("Hello")

    # JSON that cannot be read is left alone, with the reason.
    write_code(page, "json_schema", '{"type": ')
    page.locator(".field-json_schema").get_by_role("button", name="Format").click()
    expect(page.locator(".field-json_schema").get_by_role("status")).to_contain_text("Cannot format: not valid JSON")
    assert page.locator("#id_json_schema").input_value() == '{"type": '
    assert page.js_errors == []


def test_jinja_tags_are_highlighted_apart_from_json(open_page, expect, admin, line_selector):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{line_selector.pk}/change/", admin)
    editor = page.locator('.chatkit-code-editor[data-for="id_template"]')
    tag = editor.locator(".ace_line", has_text="for line in lines").get_by_text("for", exact=True).first
    string = editor.locator(".ace_line", has_text='"ListView"').get_by_text('"ListView"')
    tag_color = tag.evaluate("node => getComputedStyle(node).color")
    string_color = string.evaluate("node => getComputedStyle(node).color")
    plain_color = editor.locator(".ace_content").evaluate("node => getComputedStyle(node).color")
    assert len({tag_color, string_color, plain_color}) == 3


def test_the_form_works_under_a_strict_content_security_policy(open_page, expect, admin, line_selector):
    page = strict_csp_page(open_page, f"/admin/django_chatkit/widgettemplate/{line_selector.pk}/change/", admin)
    preview = page.get_by_role("region", name="Live preview")
    expect(preview.get_by_text("Blue Line")).to_be_visible()
    expect(page.locator('.chatkit-code-editor[data-for="id_template"] .ace_line').first).to_be_visible()
    write_code(
        page,
        "sample_data",
        json.dumps({"lines": [{"id": "x", "name": "Purple Line", "color": "purple-500"}], "selected": "x"}),
    )
    expect(preview.get_by_text("Purple Line")).to_be_visible()
    page.locator(".field-json_schema").get_by_role("button", name="Format").click()
    assert page.console_errors == [] and page.js_errors == []


def test_the_editors_work_from_the_keyboard_alone(open_page, expect, admin, greeting):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{greeting.pk}/change/", admin)
    preview = page.get_by_role("region", name="Live preview")
    expect(preview.locator(".ck-widget").get_by_role("heading")).to_have_text("Hello")
    page.locator("#id_description").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Format template")).to_be_focused()
    focused = page.evaluate("document.activeElement.getAttribute('aria-label') || ''")
    for _ in range(3):  # Ace's gutter, then its text: Enter starts editing
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('aria-label') || ''")
        if focused.startswith("Editor content"):
            break
    assert focused.startswith("Editor content"), focused
    page.keyboard.press("Enter")
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(TEMPLATE.replace('"Title"', '"Text"'))
    expect(preview.locator('.ck-widget [data-ck-type="Text"]')).to_have_text("Hello")
    page.keyboard.press("Escape")  # out of the text, so Tab moves on instead of indenting
    for _ in range(3):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == "Format JSON Schema":
            break
    expect(page.get_by_role("button", name="Format JSON Schema")).to_be_focused()
    assert "\t" not in page.locator("#id_template").input_value()


def test_on_a_phone_the_preview_follows_the_editors(open_page, expect, admin, line_selector):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{line_selector.pk}/change/", admin)
    page.set_viewport_size({"width": 390, "height": 844})
    preview = page.get_by_role("region", name="Live preview")
    expect(preview.get_by_text("Blue Line")).to_be_visible()
    editor = page.locator('.chatkit-code-editor[data-for="id_sample_data"]').bounding_box()
    box = preview.bounding_box()
    assert box["y"] >= editor["y"] + editor["height"]  # below, not squeezed beside
    assert box["x"] + box["width"] <= 390 and editor["x"] + editor["width"] <= 390
    preview.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "admin_widget_editor_phone.png"))


def test_the_editor_follows_the_dark_theme(open_page, expect, admin, greeting):
    page = open_page(f"/admin/django_chatkit/widgettemplate/{greeting.pk}/change/", admin, color_scheme="dark")
    host = page.locator('.chatkit-code-editor[data-for="id_template"] .ace_editor')
    expect(host).to_have_class(re.compile("ace-tomorrow-night"))
    background = host.evaluate("node => getComputedStyle(node).backgroundColor")
    assert background != "rgb(255, 255, 255)"


def test_the_version_diff_and_import_pages_work_under_a_strict_content_security_policy(
    open_page, expect, admin, greeting
):
    greeting.template = TEMPLATE.replace('"Greet"', '"Wave"')
    greeting.save(comment="relabelled")
    page = strict_csp_page(open_page, f"/admin/django_chatkit/widgettemplate/{greeting.pk}/versions/1/", admin)
    removed = page.locator(".chatkit-diff .del", has_text='"Greet"')
    expect(removed).to_be_visible()
    assert removed.evaluate("node => getComputedStyle(node).backgroundColor") == "rgb(255, 238, 240)"
    page.goto("/admin/django_chatkit/widgettemplate/import/")
    expect(page.get_by_label(".widget files")).to_be_attached()
    assert page.console_errors == [] and page.js_errors == []
