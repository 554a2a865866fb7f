"""django_chatkit/widget_admin.py: the validating editor, history/diff/restore, import/export."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from django_chatkit.models import WidgetTemplate
from django_chatkit.widgets import WidgetDefinition, save_widget_definition
from tests.support.widget_files import BROKEN_FILES, widget_file

pytestmark = pytest.mark.django_db

EXAMPLE_WIDGETS = Path(__file__).resolve().parent.parent / "example_project" / "demo" / "widgets"
CARD = '{"type": "Card", "children": [{"type": "Text", "value": {{ title|tojson }}}]}'
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


@pytest.fixture
def staff(admin_client):
    return admin_client


def form_data(**overrides) -> dict:
    data = {
        "name": "greeting",
        "title": "Greeting",
        "description": "",
        "template": CARD,
        "json_schema": json.dumps(SCHEMA),
        "sample_data": json.dumps({"title": "Hello"}),
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def field_errors(response) -> dict[str, list[str]]:
    form = response.context["adminform"].form
    return {name: list(errors) for name, errors in form.errors.items()}


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


ADD_URL = "admin:django_chatkit_widgettemplate_add"


def test_valid_save_creates_a_version_and_shows_the_rendered_json(staff, admin_user):
    response = staff.post(reverse(ADD_URL), form_data())
    assert response.status_code == 302, field_errors(response)
    template = WidgetTemplate.objects.get(name="greeting")
    assert template.version == 1
    version = template.versions.get()
    assert version.created_by == admin_user and version.comment == "Created in the admin"

    page = staff.get(reverse("admin:django_chatkit_widgettemplate_change", args=[template.pk])).content.decode()
    assert "&quot;value&quot;: &quot;Hello&quot;" in page  # the sample render, as JSON
    assert "diff with current, restore" in page  # the history inline


def test_the_editors_show_json_indented_and_the_add_form_starts_empty(staff):
    template, _ = save_widget_definition(
        WidgetDefinition(name="greeting", template=CARD, json_schema=SCHEMA, sample_data={"title": "Hello"})
    )
    page = staff.get(reverse("admin:django_chatkit_widgettemplate_change", args=[template.pk])).content.decode()
    schema = json.dumps(SCHEMA, indent=2).replace('"', "&quot;")
    assert f'id="id_json_schema">\n{schema}</textarea>' in page
    assert 'data-chatkit-editor="jinja-json"' in page and "django_ace/ace/ace.js" in page
    assert "<script>" not in page  # no inline script (Content-Security-Policy)

    add = staff.get(reverse(ADD_URL)).content.decode()
    assert 'id="id_sample_data">\n</textarea>' in add  # empty, not the word null
    assert "errornote" not in add and "errorlist" not in add


@pytest.mark.parametrize(
    "overrides, field, reason",
    [
        ({"template": '{"type": "Card", "children": [{% for %}]}'}, "template", "syntax error"),
        ({"template": "{{ title.__class__.__mro__ }}"}, "template", "unsafe operation refused by the sandbox"),
        (
            {"template": '{"type": "Card", "children": [{"type": "Buton"}]}'},
            "template",
            "unknown component type 'Buton'",
        ),
        ({"json_schema": json.dumps({"type": "objekt"})}, "json_schema", "objekt"),
        ({"sample_data": json.dumps({"title": 3})}, "sample_data", "$.title: 3 is not of type 'string'"),
        ({"sample_data": ""}, "sample_data", "Give sample data"),
    ],
)
def test_invalid_template_is_refused_with_the_reason_next_to_the_field(staff, overrides, field, reason):
    response = staff.post(reverse(ADD_URL), form_data(**overrides))
    assert response.status_code == 200
    errors = field_errors(response)
    assert list(errors) == [field], errors
    assert any(reason in message for message in errors[field]), errors
    assert not WidgetTemplate.objects.exists()


def test_edit_diff_and_restore(staff):
    template, _ = save_widget_definition(
        WidgetDefinition(name="greeting", template=CARD, json_schema=SCHEMA, sample_data={"title": "Hello"})
    )
    change_url = reverse("admin:django_chatkit_widgettemplate_change", args=[template.pk])
    response = staff.post(change_url, form_data(template=CARD.replace('"Text"', '"Title"')))
    assert response.status_code == 302, field_errors(response)
    template.refresh_from_db()
    assert template.version == 2

    version_url = reverse("admin:django_chatkit_widgettemplate_version", args=[template.pk, 1])
    page = staff.get(version_url).content.decode()
    assert (
        '<div class="del">-{&quot;type&quot;: &quot;Card&quot;, &quot;children&quot;: [{&quot;type&quot;: &quot;Text&quot;'
        in page
    )
    assert (
        '<div class="add">+{&quot;type&quot;: &quot;Card&quot;, &quot;children&quot;: [{&quot;type&quot;: &quot;Title&quot;'
        in page
    )
    assert "Restore version 1" in page

    response = staff.post(version_url)
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.version, template.template) == (3, CARD)
    assert template.versions.get(version=3).comment == "Restored version 1"


def test_history_views_need_staff(client, django_user_model):
    template, _ = save_widget_definition(
        WidgetDefinition(name="greeting", template=CARD, json_schema=SCHEMA, sample_data={"title": "Hello"})
    )
    user = django_user_model.objects.create_user("plain", password="pw")
    client.force_login(user)
    url = reverse("admin:django_chatkit_widgettemplate_version", args=[template.pk, 1])
    assert client.post(url).status_code == 302  # to the admin login
    assert WidgetTemplate.objects.get().version == 1


def test_import_then_export_round_trips_the_shipped_files_exactly(staff):
    files = sorted(EXAMPLE_WIDGETS.glob("*.widget"))
    uploads = [SimpleUploadedFile(f.name, f.read_bytes(), content_type="application/json") for f in files]
    response = staff.post(reverse("admin:django_chatkit_widgettemplate_import"), {"files": uploads}, follow=True)
    assert response.status_code == 200
    assert "line_selector.widget: line_selector created (version 1)" in messages_of(response)
    assert WidgetTemplate.objects.count() == 4

    # Re-importing the same files changes nothing.
    uploads = [SimpleUploadedFile(f.name, f.read_bytes()) for f in files]
    response = staff.post(reverse("admin:django_chatkit_widgettemplate_import"), {"files": uploads}, follow=True)
    assert "line_selector.widget: line_selector unchanged (version 1)" in messages_of(response)

    changelist = reverse("admin:django_chatkit_widgettemplate_changelist")
    ids = [str(pk) for pk in WidgetTemplate.objects.values_list("pk", flat=True)]
    response = staff.post(changelist, {"action": "export_widget_files", "_selected_action": ids})
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == [f.name for f in files]
    for path in files:
        assert archive.read(path.name) == path.read_bytes()

    one = WidgetTemplate.objects.get(name="suggestions")
    response = staff.post(changelist, {"action": "export_widget_files", "_selected_action": [str(one.pk)]})
    assert response["Content-Disposition"] == 'attachment; filename="suggestions.widget"'
    assert response.content == (EXAMPLE_WIDGETS / "suggestions.widget").read_bytes()


@pytest.mark.parametrize("content, reason", BROKEN_FILES)
def test_import_refuses_each_kind_of_broken_file_with_the_reason_and_keeps_going(staff, content, reason):
    good = (EXAMPLE_WIDGETS / "item_list.widget").read_bytes()
    response = staff.post(
        reverse("admin:django_chatkit_widgettemplate_import"),
        {"files": [SimpleUploadedFile("broken.widget", content), SimpleUploadedFile("item_list.widget", good)]},
        follow=True,
    )
    shown = messages_of(response)
    refusal = [m for m in shown if m.startswith("broken.widget was not imported: ")]
    assert len(refusal) == 1 and reason in refusal[0], shown
    assert "item_list.widget: item_list created (version 1)" in shown
    assert list(WidgetTemplate.objects.values_list("name", flat=True)) == ["item_list"]
    page = response.content.decode()
    assert 'class="error"' in page  # shown as an error message


def test_import_warns_about_a_file_it_could_not_render(staff):
    bare = widget_file(name="bare", sampleData=None)
    response = staff.post(
        reverse("admin:django_chatkit_widgettemplate_import"),
        {"files": [SimpleUploadedFile("bare.widget", bare)]},
        follow=True,
    )
    assert messages_of(response) == [
        "bare.widget: bare created (version 1). Not checked by rendering: the file has no sample data "
        "(sampleData, or the widget builder's preview state); add sample data in the admin editor to check it."
    ]
    assert 'class="warning"' in response.content.decode()


def test_changelist_search_and_import_link(staff):
    for path in EXAMPLE_WIDGETS.glob("*.widget"):
        save_widget_definition(WidgetDefinition.from_file(path))
    changelist = reverse("admin:django_chatkit_widgettemplate_changelist")
    page = staff.get(changelist, {"q": "article"}).content.decode()
    assert "article_button" in page and "line_selector" not in page
    assert reverse("admin:django_chatkit_widgettemplate_import") in page
