"""django_chatkit/widgets/: sandboxed rendering, schema and widget validation, versions,
widget items that remember their template, and the import/export commands."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import datetime
from io import StringIO
from pathlib import Path

import pytest
from chatkit.types import ThreadMetadata, WidgetItem
from django.core.management import CommandError, call_command

from django_chatkit import widgets
from django_chatkit.models import WidgetTemplate
from django_chatkit.widgets import (
    WidgetDataError,
    WidgetDefinition,
    WidgetNotFound,
    WidgetOutputError,
    WidgetSchemaError,
    WidgetTemplateError,
    arender_widget,
    render_widget,
    save_widget_definition,
    widget_item,
    widget_source,
)
from tests.support.widget_files import BROKEN_FILES, CARD, TITLE_SCHEMA, builder_state, widget_file

EXAMPLE_WIDGETS = Path(__file__).resolve().parent.parent / "example_project" / "demo" / "widgets"


def card(**overrides) -> WidgetDefinition:
    return WidgetDefinition(
        **{"name": "card", "template": CARD, "json_schema": TITLE_SCHEMA, "version": 2, **overrides}
    )


# -- rendering ---------------------------------------------------------------------------


def test_renders_a_widget_root_with_escaped_values():
    root = card().render({"title": 'Say "hi" </script>'})
    assert root.type == "Card"
    assert root.model_dump(mode="json", exclude_none=True)["children"][0] == {
        "type": "Text",
        "value": 'Say "hi" </script>',
    }


@pytest.mark.parametrize(
    "payload",
    [
        "{{ title.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ self.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{% set x = [] %}{{ x.append(1) }}",
        "{{ 'a' * 100000000 }}",
        "{{ 2 ** 100000 }}",
    ],
)
def test_sandbox_refuses_template_injection(payload):
    definition = WidgetDefinition(name="evil", template=payload, version=4)
    with pytest.raises(WidgetTemplateError) as excinfo:
        definition.render({"title": "x"})
    message = str(excinfo.value)
    assert message.startswith("Widget template 'evil' (version 4): template failed:")
    assert "unsafe" in message or "sandbox" in message or "too large" in message


def test_undefined_variables_are_errors_not_blanks():
    definition = WidgetDefinition(
        name="typo", template='{"type": "Card", "children": [{"type": "Text", "value": {{ titel|tojson }}}]}'
    )
    with pytest.raises(WidgetTemplateError, match="undefined variable: 'titel' is undefined"):
        definition.render({"title": "x"})


def test_schema_invalid_data_is_refused_before_rendering(monkeypatch):
    rendered = []
    from django_chatkit.widgets import definition

    original = definition.compile_template

    def spy(*args, **kwargs):
        template = original(*args, **kwargs)
        rendered.append(template)
        return template

    monkeypatch.setattr(definition, "compile_template", spy)
    with pytest.raises(WidgetDataError) as excinfo:
        card().render({"title": 3})
    assert rendered == []
    assert excinfo.value.problems[0].path == "$.title"
    assert (
        str(excinfo.value)
        == "Widget template 'card' (version 2): data validation failed: $.title: 3 is not of type 'string'"
    )


def test_every_data_error_is_listed_with_its_path():
    schema = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"type": "object", "required": ["id"]}}},
        "required": ["items", "title"],
    }
    with pytest.raises(WidgetDataError) as excinfo:
        card(json_schema=schema).render({"items": [{"id": 1}, {}]})
    paths = {p.path for p in excinfo.value.problems}
    assert paths == {"$", "$.items[1]"}


def test_invalid_json_schema_is_reported_on_the_schema():
    with pytest.raises(WidgetSchemaError) as excinfo:
        card(json_schema={"type": "objekt"}).render({"title": "x"})
    assert excinfo.value.field == "json_schema" and "objekt" in str(excinfo.value)


def test_output_that_is_not_json_suggests_tojson():
    definition = card(template='{"type": "Card", "children": [{"type": "Text", "value": "{{ title }}"}]}')
    with pytest.raises(WidgetOutputError, match="tojson"):
        definition.render({"title": 'a "quoted" word'})


@pytest.mark.parametrize(
    "document, path, message",
    [
        ({"type": "Text", "value": "x"}, "$.type", "must be one of Card, ListView, Basic"),
        (
            {"type": "Card", "children": [{"type": "Buton", "label": "x"}]},
            "$.children[0].type",
            "unknown component type 'Buton'",
        ),
        ({"type": "Card", "children": [{"type": "Text"}]}, "$.children[0].value", "Field required"),
        (
            {"type": "Card", "children": [{"type": "Button", "onClickAction": {"type": "a", "handler": "browser"}}]},
            "$.children[0].onClickAction.handler",
            "'client' or 'server'",
        ),
        ({"type": "ListView", "children": [{"type": "Text", "value": "x"}]}, "$.children[0]", ""),
    ],
)
def test_rendered_json_is_validated_as_a_widget_root(document, path, message):
    definition = WidgetDefinition(name="shape", template=json.dumps(document))
    with pytest.raises(WidgetOutputError) as excinfo:
        definition.render({})
    assert any(p.path.startswith(path) and message in p.message for p in excinfo.value.problems), excinfo.value.problems


def test_compiled_templates_are_cached_per_version():
    widgets.clear_template_cache()
    first = card(version=1).compile()
    assert card(version=1).compile() is first
    assert card(version=2).compile() is not first
    changed = card(version=1, template=CARD.replace("Text", "Title")).compile()
    assert changed is not first


# -- stored templates and versions ------------------------------------------------------------


@pytest.mark.django_db
def test_every_content_change_makes_a_version_and_restore_makes_another():
    template, status = save_widget_definition(card(version=None))
    assert (status, template.version) == ("created", 1)
    template.template = CARD.replace('"Text"', '"Title"')
    template.save()
    template.title = "A card"
    template.save()
    template.save()  # no change, no version
    assert list(template.versions.order_by("version").values_list("version", flat=True)) == [1, 2, 3]
    assert render_widget("card", {"title": "x"}).children[0].type == "Title"
    assert render_widget("card", {"title": "x"}, version=1).children[0].type == "Text"

    restored = template.restore(1)
    assert restored.version == 4 and restored.comment == "Restored version 1"
    template.refresh_from_db()
    assert template.version == 4 and template.template == CARD and template.title == ""
    assert render_widget("card", {"title": "x"}).children[0].type == "Text"


@pytest.mark.django_db
def test_unknown_template_or_version():
    with pytest.raises(WidgetNotFound, match="No widget template named 'nope'"):
        render_widget("nope", {})
    save_widget_definition(card(version=None))
    with pytest.raises(WidgetNotFound, match="has no version 9"):
        render_widget("card", {"title": "x"}, version=9)


@pytest.mark.django_db(transaction=True)
async def test_async_render_reads_the_database_off_the_event_loop():
    from asgiref.sync import sync_to_async

    await sync_to_async(save_widget_definition)(card(version=None))
    root = await arender_widget("card", {"title": "async"})
    assert root.model_dump(mode="json")["children"][0]["value"] == "async"


@pytest.mark.django_db
def test_widget_item_remembers_template_version_and_data_server_side():
    save_widget_definition(card(version=None))
    thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
    item = widget_item("card", {"title": "hello"}, thread=thread, copy_text="hello")
    assert isinstance(item, WidgetItem) and item.thread_id == "thr_1" and item.copy_text == "hello"
    source = widget_source(thread, item)
    assert (source.template, source.version, source.data) == ("card", 1, {"title": "hello"})
    # Nothing of it travels with the item the browser gets.
    assert "hello" not in json.dumps(item.model_dump(mode="json")).replace('"value": "hello"', "").replace(
        '"copy_text": "hello"', ""
    )
    assert widget_source(ThreadMetadata(id="thr_2", created_at=datetime.now()), item) is None


# -- .widget files and the commands ---------------------------------------------------------------


def test_shipped_widget_files_parse_check_and_reproduce_exactly():
    files = sorted(EXAMPLE_WIDGETS.glob("*.widget"))
    assert {f.stem for f in files} == {"line_selector", "item_list", "article_button", "suggestions"}
    for path in files:
        definition = WidgetDefinition.from_file(path)
        assert definition.check() is not None
        assert definition.to_widget_file() == path.read_text(encoding="utf-8")


def test_builder_file_with_unknown_keys_round_trips():
    document = {
        "version": "1.0",
        "name": "x",
        "template": CARD,
        "jsonSchema": TITLE_SCHEMA,
        "outputJsonPreview": {"a": 1},
    }
    definition = WidgetDefinition.from_widget_json(document)
    assert definition.extra == {"outputJsonPreview": {"a": 1}}
    assert definition.to_widget_json() == document


@pytest.mark.parametrize(
    "document, message",
    [
        ({"version": "2.0", "name": "x", "template": "{}"}, "unsupported .widget version"),
        ({"version": "1.0", "template": "{}"}, "non-empty string 'name'"),
        ({"version": "1.0", "name": "x", "template": 3}, "'template' must be a string"),
    ],
)
def test_bad_widget_files_are_refused_clearly(document, message):
    with pytest.raises(widgets.WidgetError, match=message):
        WidgetDefinition.from_widget_json(document)


@pytest.mark.django_db
def test_import_is_idempotent_and_a_changed_file_makes_a_new_version(tmp_path):
    for path in EXAMPLE_WIDGETS.glob("*.widget"):
        shutil.copy(path, tmp_path)
    out = StringIO()
    call_command("chatkit_import_widgets", str(tmp_path), stdout=out)
    assert "4 created, 0 updated, 0 unchanged" in out.getvalue()
    out = StringIO()
    call_command("chatkit_import_widgets", str(tmp_path), stdout=out)
    assert "0 created, 0 updated, 4 unchanged" in out.getvalue()
    assert WidgetTemplate.objects.get(name="line_selector").version == 1

    changed = tmp_path / "line_selector.widget"
    document = json.loads(changed.read_text())
    document["title"] = "Pick a line"
    changed.write_text(json.dumps(document))
    out = StringIO()
    call_command("chatkit_import_widgets", str(changed), stdout=out)
    assert "1 updated" in out.getvalue()
    template = WidgetTemplate.objects.get(name="line_selector")
    assert (template.version, template.title, template.versions.count()) == (2, "Pick a line", 2)


@pytest.mark.django_db
@pytest.mark.parametrize("content, reason", BROKEN_FILES)
def test_import_command_refuses_each_kind_of_broken_file_with_the_reason(tmp_path, content, reason):
    good = tmp_path / "good.widget"
    shutil.copy(EXAMPLE_WIDGETS / "item_list.widget", good)
    (tmp_path / "broken.widget").write_bytes(content)
    with pytest.raises(CommandError) as refused:
        call_command("chatkit_import_widgets", str(tmp_path), stdout=StringIO())
    assert "broken.widget: " in str(refused.value) and reason in str(refused.value), str(refused.value)
    assert "1 created" in str(refused.value)
    assert list(WidgetTemplate.objects.values_list("name", flat=True)) == ["item_list"]


@pytest.mark.django_db
def test_import_checks_a_builder_export_with_its_preview_state_and_warns_without_any(tmp_path):
    (tmp_path / "builder.widget").write_bytes(
        widget_file(sampleData=None, encodedWidget=builder_state({"title": "Hi"}))
    )
    out, err = StringIO(), StringIO()
    call_command("chatkit_import_widgets", str(tmp_path / "builder.widget"), stdout=out, stderr=err)
    assert "created   broken (version 1)" in out.getvalue() and err.getvalue() == ""
    template = WidgetTemplate.objects.get()
    assert template.sample_data is None and "encodedWidget" in template.extra  # exported as it came

    (tmp_path / "bare.widget").write_bytes(widget_file(name="bare", sampleData=None))
    call_command("chatkit_import_widgets", str(tmp_path / "bare.widget"), stdout=out, stderr=err)
    assert "bare.widget: Not checked by rendering: the file has no sample data" in err.getvalue()
    assert WidgetTemplate.objects.filter(name="bare").exists()


@pytest.mark.django_db
def test_import_refuses_a_broken_file_and_names_it(tmp_path):
    bad = tmp_path / "bad.widget"
    bad.write_text(json.dumps({"version": "1.0", "name": "bad", "template": "{{ x", "jsonSchema": {}}))
    with pytest.raises(CommandError, match="bad.widget: Widget template 'bad': template failed"):
        call_command("chatkit_import_widgets", str(bad), stdout=StringIO())
    assert not WidgetTemplate.objects.exists()


@pytest.mark.django_db
def test_export_round_trips_the_shipped_files_exactly(tmp_path):
    call_command("chatkit_import_widgets", str(EXAMPLE_WIDGETS), stdout=StringIO())
    out = StringIO()
    call_command("chatkit_export_widgets", str(tmp_path), stdout=out)
    assert "4 written, 0 unchanged" in out.getvalue()
    for path in EXAMPLE_WIDGETS.glob("*.widget"):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()
    out = StringIO()
    call_command("chatkit_export_widgets", str(tmp_path), "suggestions", stdout=out)
    assert "0 written, 1 unchanged" in out.getvalue()
    with pytest.raises(CommandError, match="No widget template named 'nope'"):
        call_command("chatkit_export_widgets", str(tmp_path), "nope", stdout=StringIO())


@pytest.mark.django_db
def test_stored_definitions_are_cached_and_forgotten_on_save(django_assert_num_queries):
    widgets.clear_template_cache()
    template, _ = save_widget_definition(card(version=None))
    render_widget("card", {"title": "x"})
    with django_assert_num_queries(0):
        assert render_widget("card", {"title": "x"}).children[0].type == "Text"
    template.template = CARD.replace('"Text"', '"Title"')
    template.save()
    assert render_widget("card", {"title": "x"}).children[0].type == "Title"
    template.delete()
    with pytest.raises(WidgetNotFound):
        render_widget("card", {"title": "x"})


@pytest.mark.django_db
def test_cache_timeout_zero_reads_every_time(django_assert_num_queries, settings):
    settings.CHATKIT = {**settings.CHATKIT, "WIDGET_CACHE_TIMEOUT": 0}
    widgets.clear_template_cache()
    save_widget_definition(card(version=None))
    with django_assert_num_queries(1):
        render_widget("card", {"title": "x"})
    with django_assert_num_queries(1):
        render_widget("card", {"title": "x"})


def test_iter_actions_finds_every_action_config():
    document = {
        "type": "Card",
        "confirm": {"label": "OK", "action": {"type": "order.confirm", "payload": {"id": 7}}},
        "children": [
            {"type": "Select", "onChangeAction": {"type": "size.pick", "handler": "client", "payload": {"a": 1}}},
            {"type": "Form", "onSubmitAction": {"type": "form.send"}, "children": []},
        ],
    }
    found = {(a.type, a.handler, a.has_payload, a.path) for a in widgets.iter_actions(document)}
    assert found == {
        ("order.confirm", "server", True, "$.confirm.action"),
        ("size.pick", "client", True, "$.children[0].onChangeAction"),
        ("form.send", "server", False, "$.children[1].onSubmitAction"),
    }


@pytest.mark.parametrize(
    "schema, data",
    [
        ({"type": "integer"}, True),
        ({"type": "integer"}, 1.5),
        ({"type": "number"}, False),
        ({"type": "object", "additionalProperties": False, "properties": {"a": {}}}, {"b": 1}),
        ({"type": "object", "additionalProperties": {"type": "string"}}, {"b": 1}),
        ({"type": "array", "items": {"type": "string"}, "minItems": 2}, ["a"]),
        ({"type": "string", "maxLength": 2}, "abc"),
        ({"type": "number", "minimum": 3}, 2),
        ({"type": "string", "format": "email"}, "not-an-email"),
        ({"enum": [1]}, True),
    ],
)
def test_fast_schema_path_never_accepts_what_jsonschema_refuses(schema, data):
    import jsonschema

    assert not jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).is_valid(data)
    with pytest.raises(WidgetDataError):
        WidgetDefinition(name="s", template="{}", json_schema=schema).validate_data(data)


@pytest.mark.parametrize(
    "schema, accepted, refused",
    [
        ({"type": "integer"}, 2.0, 2.5),
        ({"type": ["string", "null"]}, None, 3),
        ({"type": "object", "required": ["a"]}, {"a": None}, {"b": 1}),
    ],
)
def test_fast_schema_path_accepts_what_jsonschema_accepts(schema, accepted, refused):
    definition = WidgetDefinition(name="s", template="{}", json_schema=schema)
    definition.validate_data(accepted)  # the edge cases jsonschema accepts: no WidgetDataError
    with pytest.raises(WidgetDataError):
        definition.validate_data(refused)


def test_a_thread_remembers_only_its_latest_widgets():
    thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
    for index in range(widgets.MAX_REMEMBERED_WIDGETS + 5):
        widgets.remember_source(thread, f"msg_{index}", widgets.WidgetSource("card", 1, {"i": index}))
    widgets.remember_source(thread, "msg_5", widgets.WidgetSource("card", 1, {"i": "again"}))
    widgets.remember_source(thread, "msg_new", widgets.WidgetSource("card", 1, {}))
    remembered = thread.metadata[widgets.THREAD_METADATA_KEY]
    assert len(remembered) == widgets.MAX_REMEMBERED_WIDGETS
    assert widget_source(thread, "msg_0") is None and widget_source(thread, "msg_6") is None
    assert widget_source(thread, "msg_5").data == {"i": "again"}


# -- the fast paths agree with the full checks -----------------------------------------------

from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5, allow_nan=False)
    | st.sampled_from(["", "a", "abc"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    max_leaves=8,
)
_TYPES = st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"])


def _schemas(inner):
    bound = st.integers(0, 3)
    return st.fixed_dictionaries(
        {},
        optional={
            "type": _TYPES | st.lists(_TYPES, min_size=1, max_size=2, unique=True),
            "properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=2),
            "required": st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True),
            "additionalProperties": st.booleans() | inner,
            "items": inner,
            "minItems": bound,
            "maxItems": bound,
            "minLength": bound,
            "maxLength": bound,
            "minimum": st.integers(-3, 3) | st.floats(-3, 3),
            "maximum": st.integers(-3, 3) | st.floats(-3, 3),
        },
    )


_SCHEMA = st.recursive(st.just({}) | _schemas(st.just({})), _schemas, max_leaves=4)


@hypothesis_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=_SCHEMA, data=_JSON)
def test_data_checks_answer_exactly_as_jsonschema(schema, data):
    """The schemas generated here use only the keywords the compiled checks handle: their
    answers must be jsonschema's."""
    import jsonschema

    definition = WidgetDefinition(name="s", template="{}", json_schema=schema)
    try:
        definition.validate_data(data)
    except WidgetDataError:
        accepted = False
    else:
        accepted = True
    assert accepted == jsonschema.Draft202012Validator(schema).is_valid(data), (schema, data)


_VALID_WIDGET = {
    "type": "Card",
    "size": "md",
    "children": [
        {"type": "Title", "value": "Lines"},
        {
            "type": "Row",
            "children": [{"type": "Text", "value": "A"}, {"type": "Spacer"}, {"type": "Badge", "label": "ok"}],
        },
        {"type": "Col", "gap": 2, "children": [{"type": "Markdown", "value": "**b**"}, {"type": "Divider"}]},
        {"type": "Transition", "children": {"type": "Caption", "value": "c"}},
        {
            "type": "Form",
            "onSubmitAction": {"type": "f.send"},
            "children": [
                {"type": "Input", "name": "q"},
                {"type": "Button", "label": "Go", "submit": True},
            ],
        },
    ],
}
_LIST_VIEW = {"type": "ListView", "children": [{"type": "ListViewItem", "children": [{"type": "Text", "value": "x"}]}]}


def _nodes(node, found):
    if isinstance(node, dict):
        found.append(node)
        children = node.get("children")
        for child in children if isinstance(children, list) else [children] if isinstance(children, dict) else []:
            _nodes(child, found)
    return found


@pytest.mark.parametrize(
    "document", [_VALID_WIDGET, _LIST_VIEW, {"type": "Basic", "children": [{"type": "Text", "value": "x"}]}]
)
def test_a_valid_widget_passes_in_one_pass_and_equals_the_sdks_reading(document):
    import warnings

    from chatkit.widgets import DynamicWidgetRoot

    assert widgets.widget_problems(document) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the SDK's classes warn per instance; the checked ones must not
        assert widgets.validate_widget(document) == DynamicWidgetRoot.model_validate(document)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from([_VALID_WIDGET, _LIST_VIEW]),
    pick=st.integers(0, 100),
    key=st.sampled_from(["type", "value", "children", "label", "size", "gap", "onSubmitAction", "name", "submit"]),
    value=_JSON | st.sampled_from(["Text", "Row", "ListViewItem", "Nope", "Card"]),
)
def test_an_accepted_widget_has_no_problem_the_full_walk_finds(base, pick, key, value):
    document = json.loads(json.dumps(base))
    nodes = _nodes(document, [])
    nodes[pick % len(nodes)][key] = value
    try:
        widgets.validate_widget(document)  # a widget, or a WidgetOutputError: nothing else
    except WidgetOutputError as exc:
        assert exc.problems, document  # a refusal says what is wrong
    else:
        assert widgets.widget_problems(document) == [], document  # nothing the full walk refuses


def test_sandbox_shortcuts_keep_jinja_meaning():
    template = (
        '{"type": "Card", "children": [{% for row in rows %}{"type": "Text", "value": '
        '{{ (row.label ~ "/" ~ row["items"] ~ "/" ~ loop.index ~ "/" ~ loop.last)|tojson }}}'
        "{% if not loop.last %},{% endif %}{% endfor %}]}"
    )
    root = WidgetDefinition(name="rows", template=template).render(
        {"rows": [{"label": "a", "items": 1}, {"label": "b", "items": 2}]}
    )
    assert [child.value for child in root.children] == ["a/1/1/False", "b/2/2/True"]
    # A missing key is an undefined variable, and dict internals stay out of reach.
    with pytest.raises(WidgetTemplateError, match="undefined variable: 'dict object' has no attribute 'labl'"):
        WidgetDefinition(name="rows", template="{{ rows[0].labl|tojson }}").render({"rows": [{"label": "a"}]})
    with pytest.raises(WidgetTemplateError, match="unsafe"):
        WidgetDefinition(name="rows", template="{{ rows[0].__class__.__subclasses__() }}").render({"rows": [{}]})


# -- lenient templates: the SDK's rendering rules ------------------------------------------------

# Written the way the SDK ecosystem's .widget files are: the schema names fields the code
# never passes (and forbids the ones it does), the template reads a value that may be absent.
SDK_STYLE_FILE = {
    "version": "1.0",
    "name": "room_list",
    "template": (
        '{"type": "ListView", "children": [{%- for room in rooms -%}{{ "," if not loop.first }}'
        '{"type": "ListViewItem", "key": {{ room.id|tojson }}, "children": [{"type": "Text", '
        '"value": {{ room.name|tojson }}}, {"type": "Text", "value": "{{ room.floor }}"}]}{%- endfor -%}], '
        '"status": {"text": {{ caption|tojson }}}}'
    ),
    "jsonSchema": {
        "type": "object",
        "properties": {
            "rooms": {
                "type": "array",
                "items": {"type": "object", "properties": {"id": {"type": "string"}}, "additionalProperties": False},
            },
            "caption": {"type": "string"},
        },
        "required": ["rooms", "caption"],
        "additionalProperties": False,
    },
    "outputJsonPreview": {"type": "ListView", "children": []},
}
SDK_STYLE_DATA = {"rooms": [{"id": "r1", "name": "Blue room"}, {"id": "r2", "name": "Green room", "floor": 2}]}


def test_a_strict_template_refuses_what_a_lenient_one_renders_as_the_sdk_does():
    from chatkit.widgets import WidgetTemplate as SDKWidgetTemplate

    strict = WidgetDefinition.from_widget_json(SDK_STYLE_FILE)
    with pytest.raises(WidgetDataError):
        strict.render(SDK_STYLE_DATA)
    strict.check()  # compiles: a replaced copy must not reuse the strict compilation
    lenient = dataclasses.replace(strict, lenient=True)
    root = lenient.render(SDK_STYLE_DATA).model_dump(mode="json", exclude_none=True)
    texts = [[c["value"] for c in item["children"]] for item in root["children"]]
    assert texts == [["Blue room", ""], ["Green room", "2"]]  # the missing floor is blank, not an error
    assert "status" not in root or root["status"].get("text") is None  # a missing caption is null
    # Data the SDK's WidgetTemplate.build renders (it does not check the schema either)
    # renders to the same widget here.
    complete = {"rooms": [{"id": "r1", "name": "Blue room", "floor": 1, "beds": 2}], "caption": "Rooms"}
    ours = lenient.render(complete).model_dump(mode="json")
    assert ours == SDKWidgetTemplate(SDK_STYLE_FILE).build(complete).model_dump(mode="json")


@pytest.mark.django_db
def test_import_lenient_stores_a_template_that_renders_by_name(tmp_path):
    path = tmp_path / "room_list.widget"
    path.write_text(json.dumps(SDK_STYLE_FILE))
    call_command("chatkit_import_widgets", str(path), stdout=StringIO())
    with pytest.raises(WidgetDataError):  # this app's rules: the schema is enforced
        render_widget("room_list", SDK_STYLE_DATA)
    out = StringIO()
    call_command("chatkit_import_widgets", "--lenient", str(path), stdout=out)
    assert "1 updated" in out.getvalue()
    template = WidgetTemplate.objects.get(name="room_list")
    assert (
        template.lenient and template.versions.get(version=2).lenient and not template.versions.get(version=1).lenient
    )
    root = render_widget("room_list", {"rooms": [{"id": "r1", "name": "Blue room", "beds": 2}]})
    assert root.model_dump(mode="json")["children"][0]["key"] == "r1"
    exported = json.loads(WidgetTemplate.objects.get(name="room_list").definition().to_widget_file())
    assert exported == SDK_STYLE_FILE  # the mode is this app's, not part of the file


def test_the_chat_still_imports_when_the_sdk_widget_models_cannot_be_rebuilt():
    """The strict widget models are built from the SDK's classes on first render, not at
    import: an SDK release that changes them fails a render, not every import of the chat."""
    import os
    import subprocess
    import sys

    code = (
        "import chatkit.widgets\n"
        "del chatkit.widgets.StrictWidgetRoot  # as an SDK release that renamed it would\n"
        "import django; django.setup()\n"
        "import django_chatkit.transport.views, django_chatkit.transport.consumers\n"
        "from django_chatkit.widgets import WidgetDefinition\n"
        "try:\n"
        '    WidgetDefinition(name=\'c\', template=\'{"type": "Card", "children": []}\').render({})\n'
        "except AttributeError as exc:\n"
        "    print('render failed:', exc)\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "render failed:" in done.stdout and "StrictWidgetRoot" in done.stdout


TRICKY_TEXT = ']]}}[[{{"x\\'


@pytest.mark.parametrize("columns, refused", [(30, False), (31, True)])
def test_the_nesting_limit_counts_the_widgets_levels_not_brackets_in_its_text(columns, refused):
    """Card > children > (Col > children) x n > Text: 3 + 2n levels against the limit of 64,
    with brackets and an escaped quote in the text that must not count."""
    template = (
        '{"type": "Card", "children": ['
        + '{% for i in range(n) %}{"type": "Col", "children": [{% endfor %}'
        + '{"type": "Text", "value": {{ text|tojson }}}'
        + "{% for i in range(n) %}]}{% endfor %}]}"
    )
    definition = WidgetDefinition(name="deep", template=template, json_schema={})
    if refused:
        with pytest.raises(WidgetOutputError, match="nests too deeply"):
            definition.render({"n": columns, "text": TRICKY_TEXT})
    else:
        root = definition.render({"n": columns, "text": TRICKY_TEXT})
        node = root.model_dump(exclude_none=True)["children"][0]
        for _ in range(columns - 1):
            node = node["children"][0]
        assert node["children"][0]["value"] == TRICKY_TEXT
