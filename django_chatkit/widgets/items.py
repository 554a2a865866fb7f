"""Widget items that remember the template, version and data that rendered them, so a
server action can render the widget again with new data.

What is remembered sits in the thread's server-side ``metadata`` (the SDK never sends
thread metadata to the browser).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

from chatkit.types import ThreadMetadata, WidgetItem
from chatkit.widgets import DynamicWidgetRoot

from ..ids import new_id
from .definition import WidgetDefinition, plain_data
from .library import aget_widget_definition, get_widget_definition

__all__ = [
    "MAX_REMEMBERED_WIDGETS",
    "THREAD_METADATA_KEY",
    "ItemOptions",
    "WidgetSource",
    "awidget_item",
    "remember_source",
    "widget_item",
    "widget_source",
]

#: Where :func:`widget_item` remembers which template made an item: a key of the thread's
#: server-side ``metadata`` (the SDK never sends thread metadata to the browser).
THREAD_METADATA_KEY = "django_chatkit_widgets"

#: How many widget sources a thread remembers (the oldest are forgotten first), so a long
#: thread's metadata stays small.
MAX_REMEMBERED_WIDGETS = 100


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


class ItemOptions(TypedDict, total=False):
    """The keyword options of :func:`widget_item` and :func:`awidget_item`."""

    #: The item's id (a new ``msg_...`` id if not given).
    item_id: str | None
    #: The text the copy button copies.
    copy_text: str | None
    #: The template version to render (the current one if not given).
    version: int | None


def _make_item(
    definition: WidgetDefinition, data: Any, thread: ThreadMetadata, options: ItemOptions, root: DynamicWidgetRoot
) -> WidgetItem:
    item = WidgetItem(
        id=options.get("item_id") or new_id("msg"),
        thread_id=thread.id,
        created_at=datetime.now(),
        widget=root,
        copy_text=options.get("copy_text"),
    )
    remember_source(thread, item.id, WidgetSource(definition.name, definition.version, plain_data(data)))
    return item


def widget_item(name: str, data: Any = None, *, thread: ThreadMetadata, **options: Unpack[ItemOptions]) -> WidgetItem:
    """A ``WidgetItem`` for ``thread`` rendered from template ``name``.

    The template name, version and data are remembered in the thread's metadata
    (server-side only), so a server action can later re-render the widget with new data.
    """
    definition = get_widget_definition(name, options.get("version"))
    return _make_item(definition, data, thread, options, definition.render(data))


async def awidget_item(
    name: str, data: Any = None, *, thread: ThreadMetadata, **options: Unpack[ItemOptions]
) -> WidgetItem:
    """:func:`widget_item` for async code."""
    definition = await aget_widget_definition(name, options.get("version"))
    return _make_item(definition, data, thread, options, await definition.arender(data))
