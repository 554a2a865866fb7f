"""The widget templates stored in the database: lookup by name and version, a short
in-memory cache, saving a definition as a new version, and the ``.widget`` files of the
installed apps.

The only part of :mod:`django_chatkit.widgets` that reads the database; the models are
imported where they are used, so the package imports before the app registry is ready.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from chatkit.widgets import WidgetRoot
from django.db.models.signals import post_delete, post_save

from ..conf import chatkit_settings
from ..exceptions import WidgetNotFound
from .definition import WidgetDefinition
from .sandbox import clear_compiled_templates
from .schema import clear_validators

if TYPE_CHECKING:
    from ..models import WidgetTemplate

__all__ = [
    "aget_widget_definition",
    "arender_widget",
    "clear_template_cache",
    "discover_widget_files",
    "get_widget_definition",
    "render_widget",
    "save_widget_definition",
    "widget_directories",
]

_definitions: dict[tuple[str, int | None], tuple[float, WidgetDefinition]] = {}


def get_widget_definition(name: str, version: int | None = None) -> WidgetDefinition:
    """The current (or a given) version of the stored template ``name``.

    Kept in memory for ``CHATKIT["WIDGET_CACHE_TIMEOUT"]`` seconds; saving or deleting a
    template forgets it at once in this process (other processes see it within the timeout).
    """
    from ..models import WidgetTemplate, WidgetTemplateVersion

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
) -> tuple[WidgetTemplate, str]:
    """Create or update the stored template named like ``definition`` (after checking it).

    Returns ``(template, status)`` with status ``"created"``, ``"updated"`` (a new
    version) or ``"unchanged"`` (same content: no new version, so imports are idempotent).
    """
    from ..models import WidgetTemplate

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


def widget_directories() -> list[Path]:
    """``CHATKIT["WIDGET_DIRS"]`` plus every installed app's ``widgets/`` directory."""
    from django.apps import apps

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


def clear_template_cache() -> None:
    """Forget compiled templates, schema validators and stored definitions."""
    clear_compiled_templates()
    clear_validators()
    _definitions.clear()
