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
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Union, get_args
from urllib.parse import urljoin

import jsonschema
import re2
from asgiref.sync import sync_to_async
from django.db.models.signals import post_delete, post_save
from chatkit import widgets as sdk_widgets
from chatkit.types import ThreadMetadata, WidgetItem
from chatkit.widgets import DynamicWidgetRoot, WidgetRoot
from jinja2 import (
    ChainableUndefined,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    nodes,
    pass_context,
    pass_eval_context,
)
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import LoopContext
from jinja2.utils import _PassArg, generate_lorem_ipsum
from jinja2.visitor import NodeTransformer
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012, specification_with

from .ids import new_id

__all__ = [
    "WIDGET_FILE_VERSION",
    "WidgetDefinition",
    "WidgetError",
    "WidgetNotFound",
    "WidgetTemplateError",
    "WidgetSchemaError",
    "WidgetDataError",
    "WidgetOutputError",
    "WidgetProblem",
    "WidgetSource",
    "render_widget",
    "arender_widget",
    "widget_item",
    "awidget_item",
    "get_widget_definition",
    "save_widget_definition",
    "aget_widget_definition",
    "widget_source",
    "iter_actions",
]

#: The only ``.widget`` spec version the SDK (and this app) understands.
WIDGET_FILE_VERSION = "1.0"

#: Where :func:`widget_item` remembers which template made an item: a key of the thread's
#: server-side ``metadata`` (the SDK never sends thread metadata to the browser).
THREAD_METADATA_KEY = "django_chatkit_widgets"

#: How many widget sources a thread remembers (the oldest are forgotten first), so a long
#: thread's metadata stays small.
MAX_REMEMBERED_WIDGETS = 100

_MAX_SEQUENCE_PRODUCT = 100_000
_MAX_EXPONENT = 100
_CACHE_SIZE = 256


# -- errors ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WidgetProblem:
    """One thing wrong, at a JSON path (``$`` is the whole document)."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class WidgetError(Exception):
    """A widget template could not produce a valid widget.

    ``field`` names what is at fault, in the words of the ``WidgetTemplate`` model:
    ``template``, ``json_schema`` or ``data``.
    """

    field = "template"
    stage = "render"

    def __init__(
        self,
        problems: list[WidgetProblem] | str,
        *,
        template: str | None = None,
        version: int | None = None,
    ) -> None:
        if isinstance(problems, str):
            problems = [WidgetProblem("$", problems)]
        self.problems = problems
        self.template = template
        self.version = version
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"Widget template {self.template!r}" if self.template else "Widget template"
        if self.version is not None:
            where += f" (version {self.version})"
        details = "; ".join(f"{p.path}: {p.message}" for p in self.problems)
        return f"{where}: {self.stage} failed: {details}"

    @property
    def messages(self) -> list[str]:
        """Each problem as ``path: message`` (what the admin shows next to a field)."""
        return [f"{p.path}: {p.message}" for p in self.problems]

    def as_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "version": self.version,
            "stage": self.stage,
            "field": self.field,
            "detail": str(self),
            "errors": [p.as_dict() for p in self.problems],
        }


class WidgetNotFound(WidgetError, LookupError):
    """No template (or no such version of it) exists."""

    stage = "lookup"

    def _describe(self) -> str:
        if self.version is not None:
            return f"Widget template {self.template!r} has no version {self.version}."
        return f"No widget template named {self.template!r}."


class WidgetTemplateError(WidgetError):
    """The Jinja source does not compile, or fails (unsafe access, undefined name) while rendering."""

    stage = "template"


class WidgetSchemaError(WidgetError):
    """The template's ``jsonSchema`` is not a valid JSON Schema."""

    field = "json_schema"
    stage = "schema"


class WidgetDataError(WidgetError):
    """The data does not match the template's JSON Schema (nothing was rendered)."""

    field = "data"
    stage = "data validation"


class WidgetOutputError(WidgetError):
    """The rendered output is not JSON, or not a valid ChatKit widget root."""

    stage = "widget validation"


# -- the sandbox -------------------------------------------------------------------------


#: Names a dict has as attributes: ``data.items`` must keep meaning the method, as in Jinja.
_DICT_ATTRIBUTES = frozenset(dir(dict))
#: The loop variable's read-only properties (``loop.last``...), which the sandbox allows.
_LOOP_PROPERTIES = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0", "previtem", "nextitem"}
)


class RenderLimitExceeded(SecurityError):
    """A render went over one of its bounds (time, loop iterations, call depth, characters)."""


class _RenderBudget:
    """What one render may still spend; the sandbox charges it as the template runs."""

    __slots__ = ("deadline", "timeout", "iterations", "max_iterations", "depth", "max_depth", "chars", "max_chars")

    def __init__(self) -> None:
        from .conf import chatkit_settings

        self.timeout = chatkit_settings.WIDGET_RENDER_TIMEOUT
        self.deadline = time.monotonic() + self.timeout
        self.iterations = 0
        self.max_iterations = chatkit_settings.WIDGET_RENDER_MAX_ITERATIONS
        self.depth = 0
        self.max_depth = chatkit_settings.WIDGET_RENDER_MAX_DEPTH
        self.chars = 0
        self.max_chars = chatkit_settings.WIDGET_RENDER_MAX_CHARS

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded(
                f"the render took longer than {self.timeout:g} s (CHATKIT['WIDGET_RENDER_TIMEOUT'])"
            )

    def iterate(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            self.iterations += 1
            if self.iterations > self.max_iterations:
                raise RenderLimitExceeded(
                    f"the render went over {self.max_iterations} loop iterations "
                    "(CHATKIT['WIDGET_RENDER_MAX_ITERATIONS'])"
                )
            if not self.iterations & 63:
                self.check_time()
            yield item

    def charge(self, value: Any) -> Any:
        """Count the characters (or items) of a value the template made."""
        if isinstance(value, (str, list, tuple, dict)):
            self.chars += len(value)
            if self.chars > self.max_chars:
                raise RenderLimitExceeded(
                    f"the render produced over {self.max_chars} characters (CHATKIT['WIDGET_RENDER_MAX_CHARS'])"
                )
        self.check_time()
        return value

    def expect(self, size: int) -> None:
        """Refuse, before making it, a value of ``size`` characters that would not fit."""
        if size > self.max_chars - self.chars:
            raise RenderLimitExceeded(
                f"the result would be {size} characters, over what the render may produce "
                "(CHATKIT['WIDGET_RENDER_MAX_CHARS'])"
            )


_render_state = threading.local()


def _budget() -> _RenderBudget | None:
    return getattr(_render_state, "budget", None)


def _size(value: Any) -> int:
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value)
    return len(str(value)) if isinstance(value, float) else 0


_NUMBER_RUN = re.compile(r"[0-9]+")


def _expected_size(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """An upper bound of the size of what string operation ``name`` makes (0: not an amplifier)."""
    text = value if isinstance(value, str) else None
    if name in ("center", "ljust", "rjust", "zfill", "expandtabs", "batch", "slice", "indent", "truncate"):
        widths = [_size(a) for a in (*args, *kwargs.values()) if isinstance(a, int) and not isinstance(a, bool)]
        size = max(widths, default=0)
        if name == "indent":
            width = kwargs.get("width", args[0] if args else 4)
            lines = str(value).count("\n") + 1
            size = max(size, lines * (len(width) if isinstance(width, str) else _size(width)))
        return size + _size(value)
    if name == "replace" and text is not None and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = text.count(old) if old else len(text) + 1
        return len(text) + count * len(new)
    if name == "join":
        parts = args[0] if text is not None else value  # str.join(parts) / parts|join(sep)
        separator = text if text is not None else str(kwargs.get("d", args[0] if args else ""))
        if hasattr(parts, "__len__"):
            return len(parts) * (len(separator) + 1)
        return 0
    if name in ("format", "format_map", "%") and text is not None:
        numbers = [int(run) for run in _NUMBER_RUN.findall(text)]
        numbers += [_size(a) for a in (*args, *kwargs.values()) if isinstance(a, int) and not isinstance(a, bool)]
        return len(text) + max(numbers, default=0)
    if name == "wordwrap":
        wrap = kwargs.get("wrapstring", args[2] if len(args) > 2 else None)
        return _size(value) * (1 + len(wrap) if isinstance(wrap, str) else 2)
    return 0


def _bounded_filter(name: str, function: Any) -> Any:
    # The wrapper takes the context, so Jinja never runs the filter while compiling
    # (constant folding), where no budget would bound it.
    passes = _PassArg.from_obj(function)

    @functools.wraps(function)
    @pass_context
    def bounded(context: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        if budget is not None and args:
            budget.expect(_expected_size(name, args[0], args[1:], kwargs))
        if passes is _PassArg.context:
            result = function(context, *args, **kwargs)
        elif passes is _PassArg.eval_context:
            result = function(context.eval_ctx, *args, **kwargs)
        elif passes is _PassArg.environment:
            result = function(context.environment, *args, **kwargs)
        else:
            result = function(*args, **kwargs)
        return result if budget is None else budget.charge(result)

    return bounded


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    budget = _budget()
    if budget is not None:
        budget.expect(_size(n) * _size(max) * 10)
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


class _WidgetSandbox(ImmutableSandboxedEnvironment):
    """Immutable sandbox that also bounds what a render may spend (see :class:`_RenderBudget`):
    loop iterations, call depth, characters made and time, and refuses huge sequence
    products and exponents."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Shortcuts for what widget templates read most, with the sandbox's own answers:
        # ``line.label`` on a JSON object (the sandbox would first try, and fail, to find a
        # dict attribute of that name) and ``loop.last``. Everything else is checked as usual.
        kind = type(obj)
        if kind is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        if kind is LoopContext and attribute in _LOOP_PROPERTIES:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > _MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large (limit {_MAX_EXPONENT})")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
                    if len(seq) * count > _MAX_SEQUENCE_PRODUCT:
                        raise SecurityError("sequence repetition produces too large a result")
        budget = _budget()
        if budget is None:
            return super().call_binop(context, operator, left, right)
        if operator == "+" and isinstance(left, (str, list, tuple)):
            budget.expect(len(left) + _size(right))
        elif operator == "%" and isinstance(left, str):
            budget.expect(_expected_size("%", left, right if isinstance(right, tuple) else (right,), {}))
        return budget.charge(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = _budget()
        if budget is None:
            return super().call(__context, __obj, *args, **kwargs)
        target = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str):
            budget.expect(_expected_size(getattr(target, "__name__", ""), owner, args, kwargs))
        budget.depth += 1
        try:
            if budget.depth > budget.max_depth:
                raise RenderLimitExceeded(
                    f"calls (macros, loop()) nest over {budget.max_depth} deep (CHATKIT['WIDGET_RENDER_MAX_DEPTH'])"
                )
            return budget.charge(super().call(__context, __obj, *args, **kwargs))
        finally:
            budget.depth -= 1

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _BoundedTree().visit(super()._parse(source, name, filename))


class _BoundedTree(NodeTransformer):
    """Rewrites a parsed template so that the render budget sees its work: every loop
    iterates through ``_chatkit_loop``, every ``~`` result and every output chunk (template
    text included) is charged."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_chatkit_loop", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return nodes.Filter(node, "_chatkit_value", [], [], None, None, lineno=node.lineno)

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        node = self.generic_visit(node)
        # Template text becomes a constant: output through finalize, which charges it.
        node.nodes = [
            nodes.Const(child.data, lineno=child.lineno) if isinstance(child, nodes.TemplateData) else child
            for child in node.nodes
        ]
        return node


def _bounded_loop(iterable: Any) -> Any:
    budget = _budget()
    return iterable if budget is None else budget.iterate(iterable)


def _charged(value: Any) -> Any:
    budget = _budget()
    return value if budget is None else budget.charge(value)


@pass_eval_context
def _finalize(eval_context: Any, value: Any) -> Any:
    # Runs at render time for every output chunk (a plain finalize would run on constants
    # at compile time, and template text would escape the count).
    budget = _budget()
    if budget is not None:
        budget.charge(value if isinstance(value, str) else str(value))
    return value


_environment = _WidgetSandbox(undefined=StrictUndefined, autoescape=False, finalize=_finalize)


@contextmanager
def render_budget() -> Iterator[None]:
    """Bound the renders inside (this thread's), as :meth:`WidgetDefinition.render` does."""
    previous = _budget()
    _render_state.budget = _RenderBudget()
    try:
        yield
    finally:
        _render_state.budget = previous


class _LenientUndefined(ChainableUndefined):
    """A lenient template's missing value: prints as nothing, ``tojson`` gives ``null``,
    and ``missing.name`` is missing too."""


#: Lenient templates (``WidgetTemplate.lenient``): the same sandbox, undefined values allowed.
_lenient_environment = _WidgetSandbox(undefined=_LenientUndefined, autoescape=False, finalize=_finalize)


def _tojson(value: Any, indent: int | None = None) -> str:
    """``tojson`` for templates whose output is JSON, not HTML.

    Jinja's filter also escapes ``<``, ``>``, ``&`` and ``'`` for HTML script tags, which
    the JSON parser undoes: the parsed widget is the same, at half the cost. Keys are
    sorted, as Jinja's filter sorts them.
    """
    if isinstance(value, _LenientUndefined):
        value = None
    elif isinstance(value, Undefined):
        # json.dumps would say "StrictUndefined is not JSON serializable": name the variable.
        value._fail_with_undefined_error()
    if indent is None:
        return _JSON_ENCODER.encode(value)
    return json.dumps(value, sort_keys=True, indent=indent)


_JSON_ENCODER = json.JSONEncoder(sort_keys=True)


for _sandbox in (_environment, _lenient_environment):  # both bounded alike
    _sandbox.filters["tojson"] = _tojson
    for _name, _function in list(_sandbox.filters.items()):
        _sandbox.filters[_name] = _bounded_filter(_name, _function)
    _sandbox.filters["_chatkit_loop"] = _bounded_loop
    _sandbox.filters["_chatkit_value"] = _charged
    _sandbox.globals["lipsum"] = _bounded_lipsum
_cache: OrderedDict[tuple[str, int | None, str], Template] = OrderedDict()
_cache_lock = threading.Lock()


def _jinja_problem(exc: TemplateError) -> WidgetProblem:
    line = getattr(exc, "lineno", None)
    where = f"template line {line}" if line else "template"
    kind = {
        SecurityError: "unsafe operation refused by the sandbox",
        RenderLimitExceeded: "render limit exceeded",
        UndefinedError: "undefined variable",
        TemplateSyntaxError: "syntax error",
    }.get(type(exc), "template error")
    return WidgetProblem(where, f"{kind}: {exc.message or exc}")


def compile_template(
    source: str, *, name: str | None = None, version: int | None = None, lenient: bool = False
) -> Template:
    """Compile ``source`` in the sandbox; cached per (template, version, source, mode).
    ``lenient``: undefined values render as nothing (``null`` through ``tojson``)."""
    key = (name or "", version, hashlib.sha256(source.encode()).hexdigest() + ("~" if lenient else ""))
    with _cache_lock:
        template = _cache.get(key)
        if template is not None:
            _cache.move_to_end(key)
            return template
    try:
        template = (_lenient_environment if lenient else _environment).from_string(source)
    except TemplateError as exc:
        raise WidgetTemplateError([_jinja_problem(exc)], template=name, version=version) from exc
    with _cache_lock:
        _cache[key] = template
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return template


def clear_template_cache() -> None:
    """Forget compiled templates, schema validators and stored definitions."""
    with _cache_lock:
        _cache.clear()
        _validators.clear()
        _definitions.clear()


# -- validation --------------------------------------------------------------------------


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def check_schema(schema: Any, *, name: str | None = None, version: int | None = None) -> None:
    """Raise :class:`WidgetSchemaError` unless ``schema`` is a valid JSON Schema."""
    if not isinstance(schema, dict):
        raise WidgetSchemaError("the JSON Schema must be an object", template=name, version=version)
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        problem = WidgetProblem(_json_path(exc.absolute_path), exc.message)
        raise WidgetSchemaError([problem], template=name, version=version) from exc
    problems = _reference_problems(schema) + _pattern_problems(schema)
    if problems:
        raise WidgetSchemaError(problems, template=name, version=version)


#: References are resolved inside the schema only: this registry never retrieves anything
#: (jsonschema's default would fetch an ``http://`` ``$ref`` from the server).
_NO_RETRIEVAL: Registry[Any] = Registry()
_REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
#: Keywords whose values are data, not subschemas: a ``"$ref"`` key in them is no reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})


def _subschemas(schema: dict[str, Any], base: str = "") -> Iterator[tuple[dict[str, Any], str, str]]:
    """Every object in ``schema`` that may be a subschema, with its JSON path and base URI."""
    stack: list[tuple[Any, str, str]] = [(schema, "$", base)]
    while stack:
        node, path, base = stack.pop()
        if isinstance(node, list):
            stack.extend((value, f"{path}[{index}]", base) for index, value in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("$id"), str):
            base = urljoin(base, node["$id"])
        yield node, path, base
        for key, value in node.items():
            if key not in _DATA_KEYWORDS:
                stack.append((value, f"{path}.{key}", base))


def _reference_problems(schema: dict[str, Any]) -> list[WidgetProblem]:
    """Every ``$ref`` of ``schema`` that does not point inside the schema itself."""
    dialect = schema.get("$schema")
    specification = specification_with(dialect, default=DRAFT202012) if isinstance(dialect, str) else DRAFT202012
    try:
        resource = specification.create_resource(schema)
        registry = _NO_RETRIEVAL.with_resource(resource.id() or "", resource).crawl()
    except Exception as exc:  # an $id that is not a string, say
        return [WidgetProblem("$", f"the schema's $id values cannot be read ({type(exc).__name__})")]
    problems: list[WidgetProblem] = []
    for node, path, base in _subschemas(schema, resource.id() or ""):
        for keyword in _REFERENCE_KEYWORDS:
            reference = node.get(keyword)
            if reference is None:
                continue
            if not isinstance(reference, str):
                problems.append(WidgetProblem(f"{path}.{keyword}", "a reference must be a string"))
                continue
            try:
                registry.resolver(base).lookup(reference)
            except (Unresolvable, ValueError, TypeError, LookupError):
                problems.append(
                    WidgetProblem(
                        f"{path}.{keyword}",
                        f"{reference!r} does not point inside this schema: only local references "
                        "(like \"#/$defs/item\") are resolved, nothing is fetched",
                    )
                )
    return sorted(problems, key=lambda problem: problem.path)


# -- regular expressions: a linear-time engine -----------------------------------------------
#
# Python's ``re`` backtracks: ``^(a+)+$`` against 28 a's and a "!" takes seconds, holding
# the GIL. Schema patterns run on RE2 instead, whose matching time is linear in the input;
# a pattern RE2 does not support (backreferences, lookaround) is refused with the schema.

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)


def _matches(pattern: str, text: str) -> bool:
    try:
        return _regex(pattern).search(text) is not None
    except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8
        return False


def _pattern_problems(schema: dict[str, Any]) -> list[WidgetProblem]:
    problems: list[WidgetProblem] = []
    unevaluated = any("unevaluatedProperties" in node for node, _, _ in _subschemas(schema))
    for node, path, _base in _subschemas(schema):
        found = []
        if isinstance(node.get("pattern"), str):
            found.append((f"{path}.pattern", node["pattern"]))
        if isinstance(node.get("patternProperties"), dict):
            found += [(f"{path}.patternProperties", key) for key in node["patternProperties"]]
            if unevaluated:
                problems.append(
                    WidgetProblem(path, "patternProperties cannot be combined with unevaluatedProperties here")
                )
        for where, pattern in found:
            try:
                _regex(pattern)
            except (re2.error, UnicodeEncodeError, TypeError) as exc:
                reason = exc.args[0] if exc.args else exc
                reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
                problems.append(
                    WidgetProblem(
                        where,
                        f"the pattern {pattern!r} is not supported by the linear-time regex engine (RE2): {reason}",
                    )
                )
    return problems


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _matches(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _matches(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [
        key for key in instance
        if key not in properties and not any(_matches(pattern, key) for pattern in patterns)
    ]
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif extra is False and extras:
        listed = ", ".join(repr(key) for key in sorted(extras))
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            regexes = ", ".join(repr(pattern) for pattern in sorted(patterns))
            yield jsonschema.ValidationError(f"{listed} {verb} not match any of the regexes: {regexes}")
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield jsonschema.ValidationError(f"Additional properties are not allowed ({listed} {verb} unexpected)")


_LINEAR_KEYWORDS = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}


def _validator_class(schema: Any) -> Any:
    base = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return jsonschema.validators.extend(base, _LINEAR_KEYWORDS)


_validators: OrderedDict[str, Any] = OrderedDict()


def _validator(schema: Any, name: str | None, version: int | None) -> Any:
    """A checked validator for ``schema``, cached (checking a schema costs more than using it)."""
    key = json.dumps(schema, sort_keys=True, default=str)
    with _cache_lock:
        validator = _validators.get(key)
    if validator is not None:
        return validator
    check_schema(schema, name=name, version=version)
    validator_class = _validator_class(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER, registry=_NO_RETRIEVAL)
    with _cache_lock:
        _validators[key] = validator
        while len(_validators) > _CACHE_SIZE:
            _validators.popitem(last=False)
    return validator


# A fast path for the JSON Schema keywords templates use most. It only ever answers "valid"
# when jsonschema would; any other keyword, and any failure, goes to jsonschema (which also
# writes the error messages).
_FAST_KEYWORDS = frozenset({
    "type", "properties", "required", "items", "additionalProperties", "minItems", "maxItems",
    "minLength", "maxLength", "minimum", "maximum", "title", "description", "default", "examples",
    "$schema", "$comment",
})
_TYPE_TESTS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _always_valid(value: Any) -> bool:
    return True


def _fast_checker(schema: Any) -> Any:
    """A function data -> bool for a simple schema, or None when the schema is not simple.

    The schema is read once, here: the returned function only runs plain loops and
    comparisons (data checks run on every render).
    """
    if schema is True or schema == {}:
        return _always_valid
    if not isinstance(schema, dict) or not schema.keys() <= _FAST_KEYWORDS:
        return None
    type_test = None
    if "type" in schema:
        names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        if not isinstance(names, list) or not names or not all(n in _TYPE_TESTS for n in names):
            return None
        tests = tuple(_TYPE_TESTS[n] for n in names)
        type_test = tests[0] if len(tests) == 1 else (lambda v: any(test(v) for test in tests))
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        return None
    compiled = []
    for key, sub in properties.items():
        check = _fast_checker(sub)
        if check is None:
            return None
        if check is not _always_valid:
            compiled.append((key, check))
    required = tuple(required)
    extra = schema.get("additionalProperties", True)
    allowed = frozenset(properties) if extra is False else None
    extra_check = None
    if extra is not True and extra is not False:
        extra_check = _fast_checker(extra)
        if extra_check is None:
            return None
    item_check = None
    if "items" in schema:
        item_check = _fast_checker(schema["items"])
        if item_check is None:
            return None
    bounds = {key: schema.get(key) for key in ("minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum")}
    if any(limit is not None and not _is_number(limit) for limit in bounds.values()):
        return None
    min_items, max_items = bounds["minItems"], bounds["maxItems"]
    min_length, max_length = bounds["minLength"], bounds["maxLength"]
    minimum, maximum = bounds["minimum"], bounds["maximum"]
    check_objects = bool(compiled or required or allowed is not None or extra_check is not None)
    check_arrays = item_check is not None or min_items is not None or max_items is not None
    check_strings = min_length is not None or max_length is not None
    check_numbers = minimum is not None or maximum is not None

    def check(value: Any) -> bool:
        if type_test is not None and not type_test(value):
            return False
        if isinstance(value, dict):
            if check_objects:
                for key, sub in compiled:
                    if key in value and not sub(value[key]):
                        return False
                for key in required:
                    if key not in value:
                        return False
                if allowed is not None and not value.keys() <= allowed:
                    return False
                if extra_check is not None:
                    for key, item in value.items():
                        if key not in properties and not extra_check(item):
                            return False
        elif isinstance(value, list):
            if check_arrays:
                if item_check is not None:
                    for item in value:
                        if not item_check(item):
                            return False
                if min_items is not None and len(value) < min_items:
                    return False
                if max_items is not None and len(value) > max_items:
                    return False
        elif isinstance(value, str):
            if check_strings:
                if min_length is not None and len(value) < min_length:
                    return False
                if max_length is not None and len(value) > max_length:
                    return False
        elif check_numbers and _is_number(value):
            if minimum is not None and value < minimum:
                return False
            if maximum is not None and value > maximum:
                return False
        return True

    return check


def _data_checker(schema: Any, name: str | None, version: int | None) -> Any:
    """A function that raises :class:`WidgetDataError` when data breaks ``schema``."""
    validator = _validator(schema, name, version)
    fast = _fast_checker(schema)

    def check(data: Any) -> None:
        if fast is not None and fast(data):
            return
        errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            problems = [WidgetProblem(e.json_path, e.message) for e in errors]
            raise WidgetDataError(problems, template=name, version=version)

    return check


def validate_data(
    schema: dict[str, Any], data: Any, *, name: str | None = None, version: int | None = None
) -> None:
    """Raise :class:`WidgetDataError` listing every place ``data`` breaks ``schema``."""
    validator = _validator(schema, name, version)
    if validator.is_valid(data):
        return
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        problems = [WidgetProblem(e.json_path, e.message) for e in errors]
        raise WidgetDataError(problems, template=name, version=version)


def _checked_models() -> tuple[dict[str, type[BaseModel]], TypeAdapter[Any]]:
    """The SDK's strict widget models, with children typed by component ``type``.

    A private subclass per component: validating with the SDK's classes issues a
    deprecation warning per instance (the largest cost of validation), and their
    children also accept any dynamic component. Returns the classes by ``type`` and an
    adapter that checks a whole root in one pass.
    """
    strict_components = get_args(get_args(sdk_widgets.StrictWidgetComponent)[0])
    strict_roots = get_args(get_args(sdk_widgets.StrictWidgetRoot)[0])
    classes: dict[str, type[BaseModel]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for cls in (*strict_components, *strict_roots):
            attrs: dict[str, Any] = {
                "__module__": __name__,
                "__qualname__": f"_Checked{cls.__name__}",
                # The SDK's deprecation wrapper around ``__new__`` runs per instance even in a
                # subclass, where it never warns: skip it.
                "__new__": object.__new__,
            }
            children = cls.model_fields.get("children")
            if children is None:
                # Not a field of the component, but the SDK's dynamic reading of the widget
                # still reads ``children`` as components: check them as such.
                attrs["__annotations__"] = {"children": "_CheckedComponent | list[_CheckedComponent] | None"}
                attrs["children"] = None
            else:
                if cls is sdk_widgets.ListView:
                    annotation = "list[_CheckedListViewItem]"
                elif cls is sdk_widgets.BasicRoot:
                    annotation = "_CheckedComponent | list[_CheckedComponent] | None"
                elif cls is sdk_widgets.Transition:
                    annotation = "_CheckedComponent | None"
                else:
                    annotation = "list[_CheckedComponent]" + ("" if children.is_required() else " | None")
                attrs["__annotations__"] = {"children": annotation}
                if not children.is_required():
                    attrs["children"] = children.default
            classes[cls.model_fields["type"].default] = type(cls.__name__, (cls,), attrs)
        namespace = {
            **vars(sdk_widgets),
            "_CheckedComponent": _tagged_union(classes[_type_of(cls)] for cls in strict_components),
            "_CheckedListViewItem": classes["ListViewItem"],
        }
        for checked in classes.values():
            checked.model_rebuild(force=True, _types_namespace=namespace)
        root = TypeAdapter(_tagged_union(classes[_type_of(cls)] for cls in strict_roots))
    return classes, root


def _type_of(cls: type[BaseModel]) -> str:
    return cls.model_fields["type"].default


def _tagged_union(classes: Iterator[type[BaseModel]]) -> Any:
    return Annotated[Union[tuple(classes)], Field(discriminator="type")]  # noqa: UP007


_COMPONENTS, _CHECKED_ROOT = _checked_models()
ROOT_TYPES = ("Card", "ListView", "Basic")


def _pydantic_problems(exc: ValidationError, base: str) -> list[WidgetProblem]:
    problems = []
    for error in exc.errors():
        # Union branches show up as class names in ``loc``; keep only real fields/indexes.
        loc = [part for part in error["loc"] if isinstance(part, int) or part not in _COMPONENTS]
        problems.append(WidgetProblem(base + _json_path(loc)[1:], error["msg"]))
    return problems


def _format_path(parts: tuple[Any, ...]) -> str:
    return "$" + "".join(f".children[{i}]" if isinstance(i, int) else ".children" for i in parts)


def validate_widget(
    document: Any, *, name: str | None = None, version: int | None = None
) -> DynamicWidgetRoot:
    """Validate rendered JSON as a widget root; every component is checked against its SDK model."""
    try:
        _CHECKED_ROOT.validate_python(document)  # one pass: the common case, a valid widget
    except ValidationError:
        problems = widget_problems(document)
        if problems:
            raise WidgetOutputError(problems, template=name, version=version) from None
    try:
        return DynamicWidgetRoot.model_validate(document)
    except ValidationError as exc:
        raise WidgetOutputError(_pydantic_problems(exc, "$"), template=name, version=version) from exc


def widget_problems(document: Any) -> list[WidgetProblem]:
    """Every problem of ``document`` as a widget root, with readable paths (none: valid)."""
    if not isinstance(document, dict) or document.get("type") not in ROOT_TYPES:
        found = document.get("type") if isinstance(document, dict) else type(document).__name__
        return [WidgetProblem("$.type", f"a widget root must be one of {', '.join(ROOT_TYPES)}, not {found!r}")]
    problems: list[WidgetProblem] = []
    # Walk the tree with a stack; paths (tuples of child indexes) are formatted only on error.
    stack: list[tuple[Any, tuple[Any, ...]]] = [(document, ())]
    while stack:
        node, parts = stack.pop()
        kind = node.get("type") if isinstance(node, dict) else None
        if not isinstance(kind, str):
            problems.append(WidgetProblem(_format_path(parts), "a component must be an object with a string 'type'"))
            continue
        cls = _COMPONENTS.get(kind)
        if cls is None:
            problems.append(WidgetProblem(f"{_format_path(parts)}.type", f"unknown component type {kind!r}"))
            continue
        children = node.get("children")
        if isinstance(children, list):
            for index in range(len(children) - 1, -1, -1):
                stack.append((children[index], (*parts, index)))
            if kind == "ListView":
                for index, child in enumerate(children):
                    if not isinstance(child, dict) or child.get("type") != "ListViewItem":
                        problems.append(
                            WidgetProblem(_format_path((*parts, index)), "a ListView holds only ListViewItem children")
                        )
        elif isinstance(children, dict):
            stack.append((children, (*parts, "children")))
        elif children is not None:
            problems.append(WidgetProblem(f"{_format_path(parts)}.children", "children must be a component or a list of them"))
            continue
        # Children are validated on their own (pushed above): checking them here too would
        # make validation quadratic in the depth of the tree.
        own = node if children is None else {**node, "children": [] if isinstance(children, list) else None}
        try:
            cls.model_validate(own)
        except ValidationError as exc:
            problems.extend(p for p in _pydantic_problems(exc, _format_path(parts)) if p not in problems)
    return problems


# -- definitions ---------------------------------------------------------------------------


#: Deepest nesting of JSON objects and arrays a rendered widget may have.
MAX_WIDGET_DEPTH = 64


def _depth(document: Any) -> int:
    """How deeply ``document`` nests (without recursion: the document may be hostile)."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_WIDGET_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _plain_data(data: Any) -> Any:
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
            check = self._memo["data_check"] = _data_checker(self.json_schema, self.name, self.version)
        check(data)

    def render(self, data: Any = None) -> DynamicWidgetRoot:
        """Validate ``data``, render, and validate the result as a widget root."""
        data = _plain_data(data)
        self.validate_data(data)
        template = self.compile()
        if not isinstance(data, dict):
            raise WidgetDataError("the data must be a JSON object", template=self.name, version=self.version)
        try:
            with render_budget():
                output = template.render(**data)
        except TemplateError as exc:
            raise WidgetTemplateError([_jinja_problem(exc)], template=self.name, version=self.version) from exc
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
        if _depth(document) > MAX_WIDGET_DEPTH:
            problem = WidgetProblem("$", f"the rendered JSON nests too deeply (limit {MAX_WIDGET_DEPTH} levels)")
            raise WidgetOutputError([problem], template=self.name, version=self.version)
        if self.lenient:
            try:
                return DynamicWidgetRoot.model_validate(document)
            except ValidationError as exc:
                raise WidgetOutputError(_pydantic_problems(exc, "$"), template=self.name, version=self.version) from exc
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
                [WidgetProblem("$.version", f"unsupported .widget version {spec_version!r} (expected {WIDGET_FILE_VERSION!r})")],
                template=name,
            )
        source = document.get("template")
        if not isinstance(source, str):
            raise WidgetError([WidgetProblem("$.template", "'template' must be a string of Jinja source")], template=name)
        schema = document.get("jsonSchema")
        if schema is None:
            schema = {}
        if not isinstance(schema, dict):
            raise WidgetSchemaError(
                [WidgetProblem("$.jsonSchema", f"'jsonSchema' must be a JSON Schema object, not {json.dumps(schema)[:40]}")],
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


# -- templates in the database --------------------------------------------------------------


_definitions: dict[tuple[str, int | None], tuple[float, WidgetDefinition]] = {}


def get_widget_definition(name: str, version: int | None = None) -> WidgetDefinition:
    """The current (or a given) version of the stored template ``name``.

    Kept in memory for ``CHATKIT["WIDGET_CACHE_TIMEOUT"]`` seconds; saving or deleting a
    template forgets it at once in this process (other processes see it within the timeout).
    """
    from .conf import chatkit_settings
    from .models import WidgetTemplate, WidgetTemplateVersion

    timeout = chatkit_settings.WIDGET_CACHE_TIMEOUT
    key = (name, version)
    cached = _definitions.get(key)
    if cached is not None and time.monotonic() - cached[0] < timeout:
        return cached[1]
    if version is None:
        row = WidgetTemplate.objects.filter(name=name).first()
        if row is None:
            raise WidgetNotFound([], template=name)
        definition = row.definition()
    else:
        stored = (
            WidgetTemplateVersion.objects.select_related("widget_template")
            .filter(widget_template__name=name, version=version)
            .first()
        )
        if stored is None:
            raise WidgetNotFound([], template=name, version=version)
        definition = stored.definition()
    if timeout > 0:
        _definitions[key] = (time.monotonic(), definition)
    return definition


def _forget_definitions(sender: Any, instance: Any, **kwargs: Any) -> None:
    name = getattr(instance, "name", None)
    for key in [key for key in list(_definitions) if key[0] == name]:
        _definitions.pop(key, None)


post_save.connect(_forget_definitions, sender="django_chatkit.WidgetTemplate", dispatch_uid="chatkit_widget_saved")
post_delete.connect(_forget_definitions, sender="django_chatkit.WidgetTemplate", dispatch_uid="chatkit_widget_deleted")


aget_widget_definition = sync_to_async(get_widget_definition)


def render_widget(name: str, data: Any = None, *, version: int | None = None) -> WidgetRoot:
    """Render the stored template ``name`` (its current version unless ``version``) with ``data``."""
    return get_widget_definition(name, version).render(data)


async def arender_widget(name: str, data: Any = None, *, version: int | None = None) -> WidgetRoot:
    """:func:`render_widget` for async code."""
    definition = await aget_widget_definition(name, version)
    return await definition.arender(data)


def save_widget_definition(
    definition: WidgetDefinition, *, user: Any = None, comment: str = ""
) -> tuple[Any, str]:
    """Create or update the stored template named like ``definition`` (after checking it).

    Returns ``(template, status)`` with status ``"created"``, ``"updated"`` (a new
    version) or ``"unchanged"`` (same content: no new version, so imports are idempotent).
    """
    from .models import WidgetTemplate

    definition.check()
    row = WidgetTemplate.objects.filter(name=definition.name).first()
    status = "created" if row is None else "updated"
    if row is None:
        row = WidgetTemplate(name=definition.name)
    values = {
        "title": definition.title,
        "description": definition.description,
        "template": definition.template,
        "json_schema": definition.json_schema,
        "sample_data": definition.sample_data,
        "extra": definition.extra,
        "lenient": definition.lenient,
    }
    if status == "updated" and all(getattr(row, key) == value for key, value in values.items()):
        return row, "unchanged"
    for key, value in values.items():
        setattr(row, key, value)
    row.save(user=user, comment=comment)
    return row, status


def widget_filename(name: str) -> str:
    """A safe ``.widget`` file name for template ``name`` (no path separators)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).lstrip(".") + ".widget"


def widget_directories() -> list[Path]:
    """``CHATKIT["WIDGET_DIRS"]`` plus every installed app's ``widgets/`` directory."""
    from django.apps import apps

    from .conf import chatkit_settings

    found: list[Path] = []
    candidates = [Path(d) for d in chatkit_settings.WIDGET_DIRS]
    candidates += [Path(app.path) / "widgets" for app in apps.get_app_configs()]
    for directory in candidates:
        if directory.is_dir() and directory.resolve() not in {d.resolve() for d in found}:
            found.append(directory)
    return found


def discover_widget_files(paths: list[str | Path] | None = None) -> list[Path]:
    """The ``.widget`` files of ``paths`` (files or directories), or of :func:`widget_directories`."""
    files: list[Path] = []
    for path in map(Path, paths if paths else widget_directories()):
        files.extend(sorted(path.glob("*.widget")) if path.is_dir() else [path])
    return files


# -- widget items that remember their template ------------------------------------------------


@dataclass(frozen=True)
class WidgetSource:
    """Which template, version and data rendered a widget item."""

    template: str
    version: int | None
    data: Any

    def as_dict(self) -> dict[str, Any]:
        return {"template": self.template, "version": self.version, "data": self.data}


def remember_source(thread: ThreadMetadata, item_id: str, source: WidgetSource) -> None:
    """Record ``source`` for ``item_id`` in the thread's server-side metadata.

    Inside ``respond()``/``action()`` the SDK saves a changed thread by itself; elsewhere
    save the thread (``store.save_thread``) after adding the item.
    """
    sources = dict(thread.metadata.get(THREAD_METADATA_KEY) or {})
    sources.pop(item_id, None)  # re-insert: the most recently rendered widgets are kept
    sources[item_id] = source.as_dict()
    while len(sources) > MAX_REMEMBERED_WIDGETS:
        sources.pop(next(iter(sources)))
    thread.metadata = {**thread.metadata, THREAD_METADATA_KEY: sources}


def widget_source(thread: ThreadMetadata, item: WidgetItem | str) -> WidgetSource | None:
    """The template, version and data that made ``item`` (None when it was not rendered from one)."""
    item_id = item if isinstance(item, str) else item.id
    stored = (thread.metadata.get(THREAD_METADATA_KEY) or {}).get(item_id)
    if not stored:
        return None
    return WidgetSource(template=stored["template"], version=stored.get("version"), data=stored.get("data"))


def _make_item(
    definition: WidgetDefinition,
    data: Any,
    thread: ThreadMetadata,
    item_id: str | None,
    copy_text: str | None,
    root: DynamicWidgetRoot | None = None,
) -> WidgetItem:
    if root is None:
        root = definition.render(data)
    item = WidgetItem(
        id=item_id or new_id("msg"),
        thread_id=thread.id,
        created_at=datetime.now(),
        widget=root,
        copy_text=copy_text,
    )
    remember_source(thread, item.id, WidgetSource(definition.name, definition.version, _plain_data(data)))
    return item


def widget_item(
    name: str,
    data: Any = None,
    *,
    thread: ThreadMetadata,
    item_id: str | None = None,
    copy_text: str | None = None,
    version: int | None = None,
) -> WidgetItem:
    """A ``WidgetItem`` for ``thread`` rendered from template ``name``.

    The template name, version and data are remembered in the thread's metadata
    (server-side only), so a server action can later re-render the widget with new data.
    """
    return _make_item(get_widget_definition(name, version), data, thread, item_id, copy_text)


async def awidget_item(
    name: str,
    data: Any = None,
    *,
    thread: ThreadMetadata,
    item_id: str | None = None,
    copy_text: str | None = None,
    version: int | None = None,
) -> WidgetItem:
    """:func:`widget_item` for async code."""
    definition = await aget_widget_definition(name, version)
    root = await definition.arender(data)
    return _make_item(definition, data, thread, item_id, copy_text, root)


# -- reading actions out of a widget --------------------------------------------------------------


@dataclass(frozen=True)
class WidgetAction:
    """An action a rendered widget can dispatch."""

    type: str
    handler: str
    has_payload: bool
    path: str


def iter_actions(document: Any, path: str = "$") -> Iterator[WidgetAction]:
    """Every action config in a rendered widget (``on…Action`` props, Card confirm/cancel)."""
    if isinstance(document, list):
        for index, value in enumerate(document):
            yield from iter_actions(value, f"{path}[{index}]")
        return
    if not isinstance(document, dict):
        return
    for key, value in document.items():
        here = f"{path}.{key}"
        is_action = (key.startswith("on") and key.endswith("Action")) or (
            key == "action" and path.endswith((".confirm", ".cancel"))
        )
        if is_action and isinstance(value, dict) and isinstance(value.get("type"), str):
            payload = value.get("payload")
            yield WidgetAction(
                type=value["type"],
                handler=value.get("handler") or "server",
                has_payload=payload not in (None, {}, [], ""),
                path=here,
            )
        else:
            yield from iter_actions(value, here)
