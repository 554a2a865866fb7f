"""A widget template in memory (:class:`WidgetDefinition`): the ``.widget`` file format and
the four guarded steps of a render (data check, sandboxed Jinja, JSON, widget check).

Imports no ORM: the database's templates become definitions in
:mod:`django_chatkit.widgets.library`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from chatkit.widgets import DynamicWidgetRoot
from jinja2 import Template, TemplateError
from pydantic import BaseModel, ValidationError

from ..exceptions import (
    WidgetDataError,
    WidgetError,
    WidgetOutputError,
    WidgetProblem,
    WidgetSchemaError,
    WidgetTemplateError,
)
from .output import pydantic_problems, validate_widget
from .sandbox import compile_template, jinja_problem, render_budget
from .schema import check_schema, data_checker

__all__ = ["MAX_WIDGET_DEPTH", "NOT_RENDERED", "WIDGET_FILE_VERSION", "WidgetDefinition", "widget_filename"]

#: The only ``.widget`` spec version the SDK (and this app) understands.
WIDGET_FILE_VERSION = "1.0"

#: Deepest nesting of JSON objects and arrays a rendered widget may have.
MAX_WIDGET_DEPTH = 64


_ESCAPE = re.compile(r"\\.")
#: Every byte but the JSON brackets (deleted by ``bytes.translate``).
_NOT_A_BRACKET = bytes(range(256)).translate(None, b"[]{}")
_INNERMOST = re.compile(rb"\{\}|\[\]")


def _nests_too_deeply(text: str) -> bool:
    """Whether the valid JSON ``text`` nests deeper than ``MAX_WIDGET_DEPTH``, counted on its
    brackets outside strings: each regex pass takes away the innermost level (no recursion,
    no Python loop over the document's nodes)."""
    if text.count("{") + text.count("[") <= MAX_WIDGET_DEPTH:
        return False  # at most one level per opening bracket
    if "\\" in text:
        text = _ESCAPE.sub("", text)  # an escaped quote does not end a string
    brackets = "".join(text.split('"')[::2]).encode().translate(None, _NOT_A_BRACKET)
    for _level in range(MAX_WIDGET_DEPTH):
        brackets, removed = _INNERMOST.subn(b"", brackets)
        if not removed or not brackets:
            return False
    return bool(brackets)


def plain_data(data: Any) -> Any:
    if data is None:
        return {}
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    return data


#: Said of an imported file that could not be checked by rendering it.
NOT_RENDERED = (
    "Not checked by rendering: the file has no sample data (sampleData, or the widget builder's "
    "preview state); add sample data in the admin editor to check it."
)


def _builder_default_state(encoded: Any) -> Any:
    """The preview data of a widget builder export: ``defaultState`` in its ``encodedWidget``
    (base64 of a JSON object). ``None`` when absent or unreadable (the key is the builder's own)."""
    if not isinstance(encoded, str) or not encoded:
        return None
    text = encoded.strip().replace("-", "+").replace("_", "/")
    try:
        state = json.loads(base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    except (binascii.Error, ValueError):
        return None
    data = state.get("defaultState") if isinstance(state, dict) else None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class WidgetDefinition:
    """One version of a widget template, in memory: what a ``.widget`` file holds."""

    name: str
    template: str
    json_schema: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    title: str = ""
    description: str = ""
    sample_data: Any = None
    #: Other keys of the ``.widget`` file, kept so an export reproduces the file.
    extra: dict[str, Any] = field(default_factory=dict)
    #: The widget builder's preview data (``defaultState`` in its ``encodedWidget``): what
    #: :meth:`check` renders when there is no ``sample_data``. Not stored, not exported.
    builder_data: Any = field(default=None, compare=False, repr=False)
    #: The SDK's rendering rules (``chatkit.widgets.WidgetTemplate.build``) instead of this
    #: app's stricter ones: the data is not checked against the schema, an undefined value
    #: renders as nothing (``null`` through ``tojson``), and the output is validated as the
    #: SDK validates it. For ``.widget`` files written for the SDK (OpenAI's samples).
    lenient: bool = False
    #: The compiled template and data check, made on first use (definitions are immutable).
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False, init=False)

    def compile(self) -> Template:
        template = self._memo.get("template")
        if template is None:
            template = self._memo["template"] = compile_template(
                self.template, name=self.name, version=self.version, lenient=self.lenient
            )
        return template

    def validate_data(self, data: Any) -> None:
        """Raise :class:`WidgetDataError` unless ``data`` matches this template's schema
        (a lenient template takes any data)."""
        if self.lenient:
            return
        check = self._memo.get("data_check")
        if check is None:
            check = self._memo["data_check"] = data_checker(self.json_schema, self.name, self.version)
        check(data)

    def render(self, data: Any = None) -> DynamicWidgetRoot:
        """Validate ``data``, render, and validate the result as a widget root."""
        data = plain_data(data)
        self.validate_data(data)
        template = self.compile()
        if not isinstance(data, dict):
            raise WidgetDataError("the data must be a JSON object", template=self.name, version=self.version)
        try:
            with render_budget():
                output = template.render(**data)
        except TemplateError as exc:
            raise WidgetTemplateError([jinja_problem(exc)], template=self.name, version=self.version) from exc
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise WidgetTemplateError(f"rendering failed: {exc}", template=self.name, version=self.version) from exc
        except RecursionError as exc:
            raise WidgetTemplateError(
                "rendering failed: it recursed too deeply", template=self.name, version=self.version
            ) from exc
        except MemoryError as exc:
            raise WidgetTemplateError(
                "rendering failed: it ran out of memory", template=self.name, version=self.version
            ) from exc
        try:
            document = json.loads(output)
        except RecursionError as exc:
            problem = WidgetProblem("$", f"the rendered JSON nests too deeply (limit {MAX_WIDGET_DEPTH} levels)")
            raise WidgetOutputError([problem], template=self.name, version=self.version) from exc
        except json.JSONDecodeError as exc:
            problem = WidgetProblem(
                f"output line {exc.lineno} column {exc.colno}",
                f"the rendered template is not valid JSON ({exc.msg}); "
                "use the tojson filter for values, e.g. {{ title|tojson }}",
            )
            raise WidgetOutputError([problem], template=self.name, version=self.version) from exc
        if _nests_too_deeply(output):
            problem = WidgetProblem("$", f"the rendered JSON nests too deeply (limit {MAX_WIDGET_DEPTH} levels)")
            raise WidgetOutputError([problem], template=self.name, version=self.version)
        if self.lenient:
            try:
                return DynamicWidgetRoot.model_validate(document)
            except ValidationError as exc:
                raise WidgetOutputError(pydantic_problems(exc, "$"), template=self.name, version=self.version) from exc
        return validate_widget(document, name=self.name, version=self.version)

    @property
    def check_data(self) -> Any:
        """The data :meth:`check` renders: ``sample_data``, else the builder's preview data."""
        return self.sample_data if self.sample_data is not None else self.builder_data

    async def arender(self, data: Any = None) -> DynamicWidgetRoot:
        """:meth:`render` in a worker thread: a slow template never holds up the event loop
        (the other requests and streams of the process)."""
        return await sync_to_async(self.render, thread_sensitive=False)(data)

    def check(self) -> DynamicWidgetRoot | None:
        """Everything an editor must get right: compiles, valid schema (not for a lenient
        template, whose schema only documents the data), sample renders.

        Returns the rendered sample, or ``None`` when there is no data to render it with.
        """
        if not self.lenient:
            check_schema(self.json_schema, name=self.name, version=self.version)
        self.compile()
        if self.check_data is None:
            return None
        return self.render(self.check_data)

    # .widget files ---------------------------------------------------------------------

    @classmethod
    def from_widget_json(cls, document: Any) -> WidgetDefinition:
        """Read the parsed contents of a ``.widget`` file."""
        if not isinstance(document, dict):
            raise WidgetError("a .widget file must hold a JSON object")
        name = document.get("name")
        if not isinstance(name, str) or not name.strip():
            raise WidgetError([WidgetProblem("$.name", "a .widget file needs a non-empty string 'name'")])
        spec_version = document.get("version")
        if spec_version != WIDGET_FILE_VERSION:
            raise WidgetError(
                [
                    WidgetProblem(
                        "$.version", f"unsupported .widget version {spec_version!r} (expected {WIDGET_FILE_VERSION!r})"
                    )
                ],
                template=name,
            )
        source = document.get("template")
        if not isinstance(source, str):
            raise WidgetError(
                [WidgetProblem("$.template", "'template' must be a string of Jinja source")], template=name
            )
        schema = document.get("jsonSchema")
        if schema is None:
            schema = {}
        if not isinstance(schema, dict):
            raise WidgetSchemaError(
                [
                    WidgetProblem(
                        "$.jsonSchema", f"'jsonSchema' must be a JSON Schema object, not {json.dumps(schema)[:40]}"
                    )
                ],
                template=name,
            )
        for key in ("title", "description"):
            if not isinstance(document.get(key) or "", str):
                raise WidgetError([WidgetProblem(f"$.{key}", f"'{key}' must be a string")], template=name)
        known = {"version", "name", "template", "jsonSchema", "title", "description", "sampleData"}
        return cls(
            name=name,
            template=source,
            json_schema=schema,
            title=document.get("title") or "",
            description=document.get("description") or "",
            sample_data=document.get("sampleData"),
            extra={k: v for k, v in document.items() if k not in known},
            builder_data=_builder_default_state(document.get("encodedWidget")),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> WidgetDefinition:
        path = Path(path)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise WidgetError(f"{path} cannot be read ({exc.strerror or exc})") from exc
        return cls.from_bytes(content, source=str(path))

    @classmethod
    def from_bytes(cls, content: bytes, *, source: str = "the file") -> WidgetDefinition:
        """Read a ``.widget`` file's bytes; :class:`WidgetError` names what is wrong with them."""
        try:
            document = json.loads(content.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise WidgetError(f"{source} is not UTF-8 text (byte {exc.start + 1})") from exc
        except json.JSONDecodeError as exc:
            raise WidgetError(f"{source} is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from exc
        return cls.from_widget_json(document)

    def to_widget_json(self) -> dict[str, Any]:
        """The ``.widget`` document: the builder's four keys, then this app's optional ones."""
        document: dict[str, Any] = {
            "version": WIDGET_FILE_VERSION,
            "name": self.name,
            "template": self.template,
            "jsonSchema": self.json_schema,
        }
        if self.title:
            document["title"] = self.title
        if self.description:
            document["description"] = self.description
        if self.sample_data is not None:
            document["sampleData"] = self.sample_data
        document.update(self.extra)
        return document

    def to_widget_file(self) -> str:
        """The ``.widget`` file text (2-space indented JSON, final newline)."""
        return json.dumps(self.to_widget_json(), indent=2, ensure_ascii=False) + "\n"


def widget_filename(name: str) -> str:
    """A safe ``.widget`` file name for template ``name`` (no path separators)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).lstrip(".") + ".widget"
