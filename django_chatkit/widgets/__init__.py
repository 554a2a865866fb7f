"""Widgets rendered from reusable templates, safely.

A widget template is the ``.widget`` format of OpenAI's widget builder: a Jinja
``template`` whose output is widget JSON, and a ``jsonSchema`` for the data it takes.
Templates live in the database (:class:`django_chatkit.models.WidgetTemplate`, edited in
the admin, imported from ``.widget`` files) and render in four guarded steps:

1. the data is checked against the template's JSON Schema (before any rendering);
2. the source is compiled in a sandboxed, immutable Jinja environment with strict
   undefined variables, so a template cannot reach Python internals, mutate the data,
   or silently print an empty string for a typo;
3. the output is parsed as JSON;
4. the JSON is validated as a ChatKit widget root, component by component.

Every failure raises a :class:`WidgetError` naming the template, its version and the
JSON path at fault. Compiled templates are cached per template version.

Public API::

    from django_chatkit.widgets import render_widget, widget_item

    root = await arender_widget("line_selector", {"lines": [...], "selected": None})
    item = await awidget_item("line_selector", data, thread=thread)   # a WidgetItem

``render_widget`` / ``widget_item`` are the synchronous twins (for management commands,
the admin, or ``sync_to_async`` code); the ``a``-prefixed ones are for the event loop.

The modules, the pure renderer first (none of these imports the ORM):

- ``sandbox``: the Jinja sandbox and the bounds of a render;
- ``schema``: the JSON Schema of the data (RE2 patterns, local references only);
- ``output``: the rendered JSON checked against the SDK's widget models; its actions;
- ``definition``: :class:`WidgetDefinition`, the ``.widget`` file format and the render;

then what reads the database:

- ``library``: stored templates by name and version, their cache, saving, ``.widget`` files;
- ``items``: ``WidgetItem`` objects that remember the template and data that made them.

The errors are defined in :mod:`django_chatkit.exceptions`.
"""

from __future__ import annotations

from ..exceptions import (
    WidgetDataError,
    WidgetError,
    WidgetNotFound,
    WidgetOutputError,
    WidgetProblem,
    WidgetSchemaError,
    WidgetTemplateError,
)
from .definition import (
    MAX_WIDGET_DEPTH,
    NOT_RENDERED,
    WIDGET_FILE_VERSION,
    WidgetDefinition,
    widget_filename,
)
from .items import (
    MAX_REMEMBERED_WIDGETS,
    THREAD_METADATA_KEY,
    WidgetSource,
    awidget_item,
    remember_source,
    widget_item,
    widget_source,
)
from .library import (
    aget_widget_definition,
    arender_widget,
    clear_template_cache,
    discover_widget_files,
    get_widget_definition,
    render_widget,
    save_widget_definition,
    widget_directories,
)
from .output import (
    ROOT_TYPES,
    WidgetAction,
    iter_actions,
    validate_widget,
    widget_problems,
)
from .sandbox import RenderLimitExceeded, compile_template, render_budget
from .schema import check_schema

__all__ = [
    "MAX_REMEMBERED_WIDGETS",
    "MAX_WIDGET_DEPTH",
    "NOT_RENDERED",
    "ROOT_TYPES",
    "THREAD_METADATA_KEY",
    "WIDGET_FILE_VERSION",
    "RenderLimitExceeded",
    "WidgetAction",
    "WidgetDataError",
    "WidgetDefinition",
    "WidgetError",
    "WidgetNotFound",
    "WidgetOutputError",
    "WidgetProblem",
    "WidgetSchemaError",
    "WidgetSource",
    "WidgetTemplateError",
    "aget_widget_definition",
    "arender_widget",
    "awidget_item",
    "check_schema",
    "clear_template_cache",
    "compile_template",
    "discover_widget_files",
    "get_widget_definition",
    "iter_actions",
    "remember_source",
    "render_budget",
    "render_widget",
    "save_widget_definition",
    "validate_widget",
    "widget_directories",
    "widget_filename",
    "widget_item",
    "widget_problems",
    "widget_source",
]
