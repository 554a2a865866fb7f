"""The JSON Schema of a template's data: checking the schema, then the data against it.

References resolve inside the schema only (nothing is fetched), ``pattern`` and
``patternProperties`` run on RE2 (linear time), and simple schemas are checked by a
compiled function before jsonschema is asked. Imports no ORM.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin

import jsonschema
import re2
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012, specification_with

from ..exceptions import WidgetDataError, WidgetProblem, WidgetSchemaError

__all__ = ["check_schema", "clear_validators", "data_checker", "json_path"]

_CACHE_SIZE = 256
_validators_lock = threading.Lock()


def json_path(parts: Any) -> str:
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
        problem = WidgetProblem(json_path(exc.absolute_path), exc.message)
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
    except Exception as exc:
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
                        '(like "#/$defs/item") are resolved, nothing is fetched',
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


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Iterator[Any]:
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
        key for key in instance if key not in properties and not any(_matches(pattern, key) for pattern in patterns)
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
    with _validators_lock:
        validator = _validators.get(key)
    if validator is not None:
        return validator
    check_schema(schema, name=name, version=version)
    validator_class = _validator_class(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER, registry=_NO_RETRIEVAL)
    with _validators_lock:
        _validators[key] = validator
        while len(_validators) > _CACHE_SIZE:
            _validators.popitem(last=False)
    return validator


# A fast path for the JSON Schema keywords templates use most. It only ever answers "valid"
# when jsonschema would; any other keyword, and any failure, goes to jsonschema (which also
# writes the error messages).
_FAST_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "items",
        "additionalProperties",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "title",
        "description",
        "default",
        "examples",
        "$schema",
        "$comment",
    }
)
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
        sub_check = _fast_checker(sub)
        if sub_check is None:
            return None
        if sub_check is not _always_valid:
            compiled.append((key, sub_check))
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


def data_checker(schema: Any, name: str | None, version: int | None) -> Callable[[Any], None]:
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


def clear_validators() -> None:
    """Forget every cached schema validator."""
    with _validators_lock:
        _validators.clear()
