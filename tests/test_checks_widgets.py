"""The widget/action system checks of django_chatkit/checks.py, through ``manage.py check``."""

from __future__ import annotations

import importlib
import json
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from django_chatkit.actions import chatkit_action, registry
from django_chatkit.widgets import WidgetDefinition, save_widget_definition

EXAMPLE_WIDGETS = Path(__file__).resolve().parent.parent / "example_project" / "demo" / "widgets"


def run_check(**options) -> str:
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err, **options)
    return out.getvalue() + err.getvalue()


def button_widget(name: str, action: dict, *, sample: dict | None = None) -> dict:
    return {
        "version": "1.0",
        "name": name,
        "template": json.dumps(
            {"type": "Card", "children": [{"type": "Button", "label": "Go", "onClickAction": action}]}
        ),
        "jsonSchema": {"type": "object"},
        "sampleData": {} if sample is None else sample,
    }


@pytest.fixture
def widget_dir(tmp_path):
    def write(*documents: dict) -> Path:
        for document in documents:
            (tmp_path / f"{document['name']}.widget").write_text(json.dumps(document))
        return tmp_path

    return write


@pytest.fixture
def isolated_registry():
    with registry.isolated():
        yield registry


async def _handler(thread, action, sender, context):
    return None


def test_example_project_is_silent(isolated_registry):
    sys.modules.pop("example_project.demo.chatkit_actions", None)
    importlib.import_module("example_project.demo.chatkit_actions")
    assert "line.select" in registry
    with override_settings(CHATKIT={"WIDGET_DIRS": [str(EXAMPLE_WIDGETS)]}):
        output = run_check()
    assert "django_chatkit." not in output, output
    assert "no issues" in output


def test_w020_server_action_without_handler(isolated_registry, widget_dir):
    directory = widget_dir(button_widget("ghost", {"type": "ghost.save", "handler": "server", "payload": {"id": 1}}))
    with override_settings(CHATKIT={"WIDGET_DIRS": [str(directory)]}):
        output = run_check()
        assert "django_chatkit.W020" in output and "'ghost.save'" in output and "'ghost'" in output
        chatkit_action("ghost.save")(_handler)
        assert "W020" not in run_check()


def test_w020_default_handler_is_server(isolated_registry, widget_dir):
    directory = widget_dir(button_widget("implicit", {"type": "implicit.go", "payload": {"id": 1}}))
    with override_settings(CHATKIT={"WIDGET_DIRS": [str(directory)]}):
        assert "django_chatkit.W020" in run_check()


def test_w021_action_handled_client_and_server_side(isolated_registry, widget_dir):
    chatkit_action("line.select")(_handler)
    directory = widget_dir(button_widget("lines", {"type": "line.select", "handler": "client", "payload": {"id": "a"}}))
    with override_settings(CHATKIT={"WIDGET_DIRS": [str(directory)]}):
        output = run_check()
    assert "django_chatkit.W021" in output and "'line.select'" in output


def test_w021_mixed_between_templates(isolated_registry, widget_dir):
    chatkit_action("pick")(_handler)
    directory = widget_dir(
        button_widget("one", {"type": "pick", "handler": "client", "payload": {"id": 1}}),
        button_widget("two", {"type": "pick", "handler": "server", "payload": {"id": 2}}),
    )
    with override_settings(CHATKIT={"WIDGET_DIRS": [str(directory)]}):
        assert run_check().count("django_chatkit.W021") == 1


def test_w022_action_without_payload(isolated_registry, widget_dir):
    directory = widget_dir(button_widget("bare", {"type": "more_suggestions", "handler": "client"}))
    with override_settings(CHATKIT={"WIDGET_DIRS": [str(directory)]}):
        output = run_check()
    assert "django_chatkit.W022" in output and "'more_suggestions'" in output


def test_w023_sample_data_does_not_render(isolated_registry, widget_dir):
    broken = button_widget("broken", {"type": "x", "handler": "client", "payload": {"a": 1}})
    broken["jsonSchema"] = {"type": "object", "required": ["title"]}
    directory = widget_dir(broken)
    with override_settings(CHATKIT={"WIDGET_DIRS": [str(directory)]}):
        output = run_check()
    assert "django_chatkit.W023" in output and "'title' is a required property" in output


def test_i020_registered_handler_no_template_uses(isolated_registry, widget_dir):
    chatkit_action("orphan.action")(_handler)
    directory = widget_dir(button_widget("other", {"type": "x", "handler": "client", "payload": {"a": 1}}))
    with override_settings(CHATKIT={"WIDGET_DIRS": [str(directory)]}):
        output = run_check()
    assert "django_chatkit.I020" in output and "orphan.action" in output


def test_no_templates_no_info(isolated_registry):
    chatkit_action("orphan.action")(_handler)
    with override_settings(CHATKIT={"WIDGET_DIRS": []}):
        assert "I020" not in run_check()


@pytest.mark.django_db
def test_stored_templates_are_checked_with_database(isolated_registry):
    save_widget_definition(
        WidgetDefinition.from_widget_json(
            button_widget("stored", {"type": "stored.go", "handler": "server", "payload": {"id": 1}})
        )
    )
    with override_settings(CHATKIT={"WIDGET_DIRS": []}):
        assert "W020" not in run_check()
        output = run_check(databases=["default"])
    assert "django_chatkit.W020" in output and "'stored.go'" in output


def test_w020_is_not_reported_when_the_server_answers_actions_in_its_own_action(isolated_registry, widget_dir):
    """A backend written for the SDK handles ``room.pick`` in ``action()``, not through
    ``@chatkit_action`` (tests/sample_backend.py)."""
    directory = widget_dir(button_widget("rooms", {"type": "room.pick", "handler": "server", "payload": {"room": "b"}}))
    with override_settings(CHATKIT={"WIDGET_DIRS": [str(directory)]}):
        assert "django_chatkit.W020" in run_check()
    with override_settings(
        CHATKIT={"WIDGET_DIRS": [str(directory)], "SERVER_CLASS": "tests.sample_backend.FrontDeskServer"}
    ):
        assert "W020" not in run_check()
