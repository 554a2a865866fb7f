""".widget files for the import tests: a good card, and broken files with (a piece of) the
reason each must be refused with."""

from __future__ import annotations

import json

import pytest

CARD = '{"type": "Card", "children": [{"type": "Text", "value": {{ title|tojson }}}]}'
TITLE_SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def widget_file(**keys) -> bytes:
    document = {
        "version": "1.0",
        "name": "broken",
        "template": CARD,
        "jsonSchema": TITLE_SCHEMA,
        "sampleData": {"title": "Hi"},
    }
    document.update(keys)
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


def builder_state(state: dict) -> str:
    """What the widget builder puts in `encodedWidget`: base64url of a JSON object, unpadded."""
    import base64

    return base64.urlsafe_b64encode(json.dumps({"name": "broken", "defaultState": state}).encode()).decode().rstrip("=")


#: .widget files that must be refused, with (a piece of) the reason given.
BROKEN_FILES = [
    pytest.param(b'{"version": "1.0", "name": ', "is not valid JSON (Expecting value, line 1", id="bad JSON"),
    pytest.param(b'{"name": "caf\xe9"}', "is not UTF-8 text", id="not UTF-8"),
    pytest.param(
        widget_file(template='{"type": "Card", "children": [{% for %}]}'),
        "template failed",
        id="template does not compile",
    ),
    pytest.param(
        widget_file(template='{"type": "Card", "children": [{"type": "Text", "value": {{ title }}}]}'),
        "the rendered template is not valid JSON",
        id="renders no JSON",
    ),
    pytest.param(
        widget_file(template='{"type": "Card", "children": [{"type": "Buton", "label": {{ title|tojson }}}]}'),
        "widget validation failed: $.children[0].type",
        id="renders no widget",
    ),
    pytest.param(
        widget_file(sampleData={"title": 3}),
        "data validation failed: $.title: 3 is not of type 'string'",
        id="sample data fails the schema",
    ),
    pytest.param(widget_file(jsonSchema={"type": "objekt"}), "schema failed: $.type", id="schema invalid"),
    pytest.param(
        widget_file(jsonSchema=[1, 2]), "'jsonSchema' must be a JSON Schema object", id="schema not an object"
    ),
    pytest.param(
        widget_file(sampleData=None, encodedWidget=builder_state({"title": 3})),
        "data validation failed: $.title",
        id="builder preview state fails the schema",
    ),
    pytest.param(widget_file(title=["x"]), "'title' must be a string", id="title not a string"),
]
