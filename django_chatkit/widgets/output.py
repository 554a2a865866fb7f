"""What a render produces: widget JSON checked against the SDK's widget models, and the
actions a rendered widget can dispatch.

The strict models are built from the SDK's classes on first use (:func:`_checked_models`),
not at import: building them costs most of a second, and an SDK change that breaks it
fails the first render with its traceback instead of every import of the chat.
Imports no ORM.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple, Union, get_args

from chatkit import widgets as sdk_widgets
from chatkit.widgets import DynamicWidgetRoot
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from ..exceptions import WidgetOutputError, WidgetProblem
from .schema import json_path

__all__ = ["ROOT_TYPES", "WidgetAction", "iter_actions", "validate_widget", "widget_problems"]

ROOT_TYPES = ("Card", "ListView", "Basic")


class _CheckedModels(NamedTuple):
    #: A strict model per component ``type``.
    components: dict[str, type[BaseModel]]
    #: Checks a whole widget root in one pass.
    root: TypeAdapter[Any]


_built: _CheckedModels | None = None
_build_lock = threading.Lock()


def _checked_models() -> _CheckedModels:
    """The strict models, built on first use (once per process)."""
    global _built
    if _built is None:
        with _build_lock:
            if _built is None:
                _built = _build_checked_models()
    return _built


def _build_checked_models() -> _CheckedModels:
    """The SDK's strict widget models, with children typed by component ``type``.

    A private subclass per component: validating with the SDK's classes issues a
    deprecation warning per instance (the largest cost of validation), and their
    children also accept any dynamic component.
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
    return _CheckedModels(classes, root)


def _type_of(cls: type[BaseModel]) -> str:
    return cls.model_fields["type"].default


def _tagged_union(classes: Iterator[type[BaseModel]]) -> Any:
    return Annotated[Union[tuple(classes)], Field(discriminator="type")]  # noqa: UP007


def pydantic_problems(exc: ValidationError, base: str) -> list[WidgetProblem]:
    components = _checked_models().components
    problems = []
    for error in exc.errors():
        # Union branches show up as class names in ``loc``; keep only real fields/indexes.
        loc = [part for part in error["loc"] if isinstance(part, int) or part not in components]
        problems.append(WidgetProblem(base + json_path(loc)[1:], error["msg"]))
    return problems


def _format_path(parts: tuple[Any, ...]) -> str:
    return "$" + "".join(f".children[{i}]" if isinstance(i, int) else ".children" for i in parts)


def validate_widget(document: Any, *, name: str | None = None, version: int | None = None) -> DynamicWidgetRoot:
    """Validate rendered JSON as a widget root; every component is checked against its SDK model."""
    try:
        _checked_models().root.validate_python(document)  # one pass: the common case, a valid widget
    except ValidationError:
        problems = widget_problems(document)
        if problems:
            raise WidgetOutputError(problems, template=name, version=version) from None
    try:
        return DynamicWidgetRoot.model_validate(document)
    except ValidationError as exc:
        raise WidgetOutputError(pydantic_problems(exc, "$"), template=name, version=version) from exc


def widget_problems(document: Any) -> list[WidgetProblem]:
    """Every problem of ``document`` as a widget root, with readable paths (none: valid)."""
    if not isinstance(document, dict) or document.get("type") not in ROOT_TYPES:
        found = document.get("type") if isinstance(document, dict) else type(document).__name__
        return [WidgetProblem("$.type", f"a widget root must be one of {', '.join(ROOT_TYPES)}, not {found!r}")]
    components = _checked_models().components
    problems: list[WidgetProblem] = []
    # Walk the tree with a stack; paths (tuples of child indexes) are formatted only on error.
    stack: list[tuple[Any, tuple[Any, ...]]] = [(document, ())]
    while stack:
        node, parts = stack.pop()
        kind = node.get("type") if isinstance(node, dict) else None
        if not isinstance(kind, str):
            problems.append(WidgetProblem(_format_path(parts), "a component must be an object with a string 'type'"))
            continue
        cls = components.get(kind)
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
            problems.append(
                WidgetProblem(f"{_format_path(parts)}.children", "children must be a component or a list of them")
            )
            continue
        # Children are validated on their own (pushed above): checking them here too would
        # make validation quadratic in the depth of the tree.
        own = node if children is None else {**node, "children": [] if isinstance(children, list) else None}
        try:
            cls.model_validate(own)
        except ValidationError as exc:
            problems.extend(p for p in pydantic_problems(exc, _format_path(parts)) if p not in problems)
    return problems


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
