"""The Jinja sandbox widget templates compile in, and the bounds of one render.

The environment is Jinja's immutable sandbox (a template cannot reach Python internals or
mutate its data) with strict undefined variables, plus a budget (:func:`render_budget`)
charged as the template runs: loop iterations, call depth, characters made and time
(``CHATKIT["WIDGET_RENDER_*"]``). Compiled templates are cached per template version.
Imports no ORM.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any, cast

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
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from ..exceptions import WidgetProblem, WidgetTemplateError
from .budget import (
    AMPLIFIERS,
    RenderLimitExceeded,
    current_budget,
    expected_size,
    render_budget,
    render_state,
    value_size,
)

__all__ = ["RenderLimitExceeded", "clear_compiled_templates", "compile_template", "render_budget"]

_MAX_SEQUENCE_PRODUCT = 100_000
_MAX_EXPONENT = 100
_CACHE_SIZE = 256


#: Names a dict has as attributes: ``data.items`` must keep meaning the method, as in Jinja.
_DICT_ATTRIBUTES = frozenset(dir(dict))
#: The loop variable's read-only properties (``loop.last``...), which the sandbox allows.
_LOOP_PROPERTIES = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0", "previtem", "nextitem"}
)


def _bounded_filter(name: str, function: Any) -> Any:
    # The wrapper takes the context, so Jinja never runs the filter while compiling
    # (constant folding), where no budget would bound it.
    passes = _PassArg.from_obj(function)
    amplifies = name in AMPLIFIERS

    @functools.wraps(function)
    @pass_context
    def bounded(context: Context, *args: Any, **kwargs: Any) -> Any:
        budget = render_state.budget
        if budget is not None and amplifies and args:
            budget.expect(expected_size(name, args[0], args[1:], kwargs))
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
    budget = current_budget()
    if budget is not None:
        budget.expect(value_size(n) * value_size(max) * 10)
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

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > _MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large (limit {_MAX_EXPONENT})")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(count, int)
                    and len(seq) * count > _MAX_SEQUENCE_PRODUCT
                ):
                    raise SecurityError("sequence repetition produces too large a result")
        budget = current_budget()
        if budget is None:
            return super().call_binop(context, operator, left, right)
        if operator == "+" and isinstance(left, (str, list, tuple)):
            budget.expect(len(left) + value_size(right))
        elif operator == "%" and isinstance(left, str):
            budget.expect(expected_size("%", left, right if isinstance(right, tuple) else (right,), {}))
        return budget.charge(super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        if budget is None:
            return super().call(context, obj, *args, **kwargs)
        target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str):
            budget.expect(expected_size(getattr(target, "__name__", ""), owner, args, kwargs))
        budget.depth += 1
        try:
            if budget.depth > budget.max_depth:
                raise RenderLimitExceeded(
                    f"calls (macros, loop()) nest over {budget.max_depth} deep (CHATKIT['WIDGET_RENDER_MAX_DEPTH'])"
                )
            return budget.charge(super().call(context, obj, *args, **kwargs))
        finally:
            budget.depth -= 1

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _BoundedTree().visit(super()._parse(source, name, filename))


class _BoundedTree(NodeTransformer):
    """Rewrites a parsed template so that the render budget sees its work: every loop
    iterates through ``_chatkit_loop``, every ``~`` result and every output chunk (template
    text included) is charged."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        loop = cast(nodes.For, self.generic_visit(node))  # generic_visit returns the node
        loop.iter = nodes.Filter(loop.iter, "_chatkit_loop", [], [], None, None, lineno=loop.lineno)
        return loop

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        concat = cast(nodes.Concat, self.generic_visit(node))
        return nodes.Filter(concat, "_chatkit_value", [], [], None, None, lineno=concat.lineno)

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        output = cast(nodes.Output, self.generic_visit(node))
        # Template text becomes a constant: output through finalize, which charges it.
        output.nodes = [
            nodes.Const(child.data, lineno=child.lineno) if isinstance(child, nodes.TemplateData) else child
            for child in output.nodes
        ]
        return output


def _bounded_loop(iterable: Any) -> Any:
    budget = current_budget()
    return iterable if budget is None else budget.iterate(iterable)


def _charged(value: Any) -> Any:
    budget = current_budget()
    return value if budget is None else budget.charge(value)


@pass_eval_context
def _finalize(eval_context: EvalContext, value: Any) -> Any:
    # Runs at render time for every output chunk (a plain finalize would run on constants
    # at compile time, and template text would escape the count).
    budget = render_state.budget
    if budget is not None:
        budget.charge(value if type(value) is str else str(value))
    return value


_environment = _WidgetSandbox(undefined=StrictUndefined, autoescape=False, finalize=_finalize)


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
    for _name, _function in list(_sandbox.filters.items()):
        _sandbox.filters[_name] = _bounded_filter(_name, _function)
    # Not wrapped: the filter templates use most, and it never amplifies its input (its
    # output is charged as the template writes it, loops that repeat it are bounded).
    _sandbox.filters["tojson"] = _tojson
    _sandbox.filters["_chatkit_loop"] = _bounded_loop
    _sandbox.filters["_chatkit_value"] = _charged
    _sandbox.globals["lipsum"] = _bounded_lipsum
_cache: OrderedDict[tuple[str, int | None, str], Template] = OrderedDict()
_cache_lock = threading.Lock()


def jinja_problem(exc: TemplateError) -> WidgetProblem:
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
        raise WidgetTemplateError([jinja_problem(exc)], template=name, version=version) from exc
    with _cache_lock:
        _cache[key] = template
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return template


def clear_compiled_templates() -> None:
    """Forget every compiled template."""
    with _cache_lock:
        _cache.clear()
