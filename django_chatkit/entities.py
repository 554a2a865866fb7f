"""Entity sources for @-mentions: what a user can tag in the composer, and what a tag means.

Register a Django model (or a pair of callables) once, usually in a ``chatkit_entities``
module of one of your apps (found automatically, like ``admin.py``)::

    from django_chatkit import entities

    entities.register_model(
        Article,
        key="article",
        search_fields=["title", "summary"],
        group="Articles",
        icon="document",
        data=lambda article: {"type": "article", "article_id": str(article.pk)},
        visible_to=lambda user: Article.objects.filter(published=True),
    )

The search endpoint (``GET .../search?q=``) then returns ChatKit ``Entity`` objects
(``id``, ``title``, ``group``, ``icon``, ``interactive``, ``data``) for rows the requesting
user may see, and :class:`~django_chatkit.agents.AgentChatKitServer` turns a tag in a
user message back into its row, re-checking visibility, before the agent sees it.

Entity ids are ``"<key>:<pk>"``, so a tag names both its source and its row.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Model, Q, QuerySet
from django.utils.module_loading import autodiscover_modules

__all__ = [
    "CallableEntitySource",
    "EntitySource",
    "ModelEntitySource",
    "ResolvedEntity",
    "aresolve_entity",
    "entity_sources",
    "register_callable",
    "register_model",
    "resolve_entity",
    "search_entities",
]

AUTODISCOVER_MODULE = "chatkit_entities"


@dataclass(frozen=True)
class ResolvedEntity:
    """A tag resolved to its row: the ChatKit entity plus the text the agent reads."""

    entity: dict[str, Any]
    description: str
    obj: Any = None

    @property
    def id(self) -> str:
        return self.entity["id"]

    @property
    def title(self) -> str:
        return self.entity["title"]


def split_entity_id(entity_id: str) -> tuple[str, str]:
    """``"article:12"`` -> ``("article", "12")``; raises ``ValueError`` on a malformed id."""
    key, sep, local_id = str(entity_id).partition(":")
    if not sep or not key or not local_id:
        raise ValueError(f"Entity id {entity_id!r} is not of the form '<source>:<id>'.")
    return key, local_id


class EntitySource(ABC):
    """Base class: one kind of thing a user can @-mention. Methods run synchronously."""

    key: str
    group: str | None = None
    icon: str | None = None
    interactive: bool = True

    def __init__(
        self, key: str, *, group: str | None = None, icon: str | None = None, interactive: bool = True
    ) -> None:
        """Set what every entity of the source shows; a subclass may set them as class attributes instead."""
        self.key = key
        self.group = group
        self.icon = icon
        self.interactive = interactive

    @abstractmethod
    def search(self, user: Any, query: str, limit: int) -> list[dict[str, Any]]:
        """Entities matching ``query`` that ``user`` may see."""

    @abstractmethod
    def resolve(self, user: Any, local_id: str) -> ResolvedEntity | None:
        """The entity with this id if ``user`` may see it, else ``None``."""

    def preview(self, user: Any, local_id: str) -> Any:
        """A widget root previewing the entity, ``None`` if the source has no preview.

        Raises ``LookupError`` when the entity does not exist or is not visible.
        """
        return None

    def _entity(self, local_id: Any, title: str, data: Mapping[str, Any] | None) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "id": f"{self.key}:{local_id}",
            "title": title,
            "interactive": self.interactive,
            "data": dict(data or {}),
            # The seed's onTagSearch maps `name` and `type`; keep them so its code works as is.
            "name": title,
            "type": self.key,
        }
        if self.group:
            entity["group"] = self.group
        if self.icon:
            entity["icon"] = self.icon
        return entity


def _attribute_or_call(spec: str | Callable[[Any], Any], obj: Any) -> Any:
    return spec(obj) if callable(spec) else getattr(obj, spec)


class ModelEntitySource(EntitySource):
    """Rows of a Django model, searched with ``icontains`` over ``search_fields``."""

    def __init__(
        self,
        model: type[Model],
        *,
        key: str,
        search_fields: Iterable[str],
        title: str | Callable[[Any], str] = str,
        group: str | None = None,
        icon: str | None = None,
        interactive: bool = True,
        data: Callable[[Any], Mapping[str, Any]] | None = None,
        visible_to: Callable[[Any], QuerySet] | None = None,
        describe: Callable[[Any], str] | None = None,
        preview: Callable[[Any], Any] | None = None,
        ordering: Iterable[str] | None = None,
    ) -> None:
        super().__init__(key, group=group, icon=icon, interactive=interactive)
        self.model = model
        self.search_fields = list(search_fields)
        if not self.search_fields:
            raise ValueError(f"Entity source {key!r} needs at least one search field.")
        self.title = title
        self.data = data
        self.visible_to = visible_to
        self.describe = describe
        self._preview = preview
        self.ordering = list(ordering) if ordering is not None else None

    def queryset(self, user: Any) -> QuerySet:
        """Rows ``user`` may see (all rows when no ``visible_to`` was given)."""
        if self.visible_to is None:
            return self.model._default_manager.all()
        return self.visible_to(user)

    def to_entity(self, obj: Any) -> dict[str, Any]:
        data = self.data(obj) if self.data else {"type": self.key, "id": str(obj.pk)}
        return self._entity(obj.pk, str(_attribute_or_call(self.title, obj)), data)

    def search(self, user: Any, query: str, limit: int) -> list[dict[str, Any]]:
        rows = self.queryset(user)
        query = query.strip()
        if query:
            rows = rows.filter(reduce(or_, (Q(**{f"{name}__icontains": query}) for name in self.search_fields)))
        if self.ordering is not None:
            rows = rows.order_by(*self.ordering)
        elif not rows.query.order_by and not self.model._meta.ordering:
            rows = rows.order_by("pk")
        return [self.to_entity(obj) for obj in rows[:limit]]

    def _get(self, user: Any, local_id: str) -> Any:
        try:
            return self.queryset(user).get(pk=local_id)
        except (ObjectDoesNotExist, ValueError, TypeError, ValidationError):
            # A malformed pk ("abc" for an integer key, a bad UUID) is just "not found".
            return None

    def resolve(self, user: Any, local_id: str) -> ResolvedEntity | None:
        obj = self._get(user, local_id)
        if obj is None:
            return None
        entity = self.to_entity(obj)
        description = self.describe(obj) if self.describe else json.dumps(entity["data"], default=str)
        return ResolvedEntity(entity=entity, description=description, obj=obj)

    def preview(self, user: Any, local_id: str) -> Any:
        obj = self._get(user, local_id)
        if obj is None:
            raise LookupError(f"Entity {self.key}:{local_id} not found.")
        return self._preview(obj) if self._preview else None


class CallableEntitySource(EntitySource):
    """Entities from two functions, for data that is not (only) a Django model.

    ``search(user, query, limit)`` returns entity dicts with at least ``id`` (the local
    part, without the ``key:`` prefix) and ``title``, optionally ``data`` and
    ``description``; ``resolve(user, local_id)`` returns one such dict or ``None``
    when the user may not see it.
    """

    def __init__(
        self,
        key: str,
        *,
        search: Callable[[Any, str, int], Iterable[Mapping[str, Any]]],
        resolve: Callable[[Any, str], Mapping[str, Any] | None],
        group: str | None = None,
        icon: str | None = None,
        interactive: bool = True,
        preview: Callable[[Any, str], Any] | None = None,
    ) -> None:
        super().__init__(key, group=group, icon=icon, interactive=interactive)
        self._search = search
        self._resolve = resolve
        self._preview = preview

    def _from_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return self._entity(row["id"], str(row["title"]), row.get("data"))

    def search(self, user: Any, query: str, limit: int) -> list[dict[str, Any]]:
        return [self._from_row(row) for row in list(self._search(user, query, limit))[:limit]]

    def resolve(self, user: Any, local_id: str) -> ResolvedEntity | None:
        row = self._resolve(user, local_id)
        if row is None:
            return None
        entity = self._from_row(row)
        description = row.get("description") or json.dumps(entity["data"], default=str)
        return ResolvedEntity(entity=entity, description=str(description), obj=row)

    def preview(self, user: Any, local_id: str) -> Any:
        if self._resolve(user, local_id) is None:
            raise LookupError(f"Entity {self.key}:{local_id} not found.")
        return self._preview(user, local_id) if self._preview else None


@dataclass
class EntitySourceRegistry:
    """All registered entity sources, by key. ``reset()`` empties it (for tests)."""

    _sources: dict[str, EntitySource] = field(default_factory=dict)
    _discovered: bool = False

    def _discover(self) -> None:
        if not self._discovered:
            self._discovered = True
            autodiscover_modules(AUTODISCOVER_MODULE)

    def register(self, source: EntitySource) -> EntitySource:
        key = getattr(source, "key", None)
        if not key or ":" in key:
            raise ValueError(f"Entity source key {key!r} must be a non-empty string without ':'.")
        if key in self._sources:
            raise ValueError(f"An entity source with key {key!r} is already registered.")
        self._sources[key] = source
        return source

    def get(self, key: str) -> EntitySource | None:
        self._discover()
        return self._sources.get(key)

    def all(self) -> list[EntitySource]:
        self._discover()
        return list(self._sources.values())

    def reset(self) -> None:
        """Forget every source; autodiscovery is not run again."""
        self._sources.clear()
        self._discovered = True


entity_sources = EntitySourceRegistry()


def register_model(model: type[Model], **options: Any) -> ModelEntitySource:
    """Register ``model`` as an entity source (see :class:`ModelEntitySource` for options).

    ``key`` defaults to the model's lower-case name.
    """
    options.setdefault("key", model._meta.model_name)
    return entity_sources.register(ModelEntitySource(model, **options))  # type: ignore[return-value]


def register_callable(key: str, **options: Any) -> CallableEntitySource:
    """Register a :class:`CallableEntitySource` under ``key``."""
    return entity_sources.register(CallableEntitySource(key, **options))  # type: ignore[return-value]


def search_entities(
    user: Any, query: str, *, limit: int = 10, sources: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Entities matching ``query`` across sources (``limit`` per source), for ``user``."""
    wanted = set(sources) if sources is not None else None
    results: list[dict[str, Any]] = []
    for source in entity_sources.all():
        if wanted is None or source.key in wanted:
            results.extend(source.search(user, query, limit))
    return results


def resolve_entity(user: Any, entity_id: str) -> ResolvedEntity | None:
    """The entity ``entity_id`` names if ``user`` may see it; ``None`` otherwise."""
    try:
        key, local_id = split_entity_id(entity_id)
    except ValueError:
        return None
    source = entity_sources.get(key)
    if source is None:
        return None
    return source.resolve(user, local_id)


def is_entity_source_id(entity_id: str) -> bool:
    """Whether ``entity_id`` is ``"<source>:<id>"`` with a registered source: an id this
    app resolves (with the user's visibility), not a raw id of the site's own making."""
    try:
        key, _ = split_entity_id(entity_id)
    except ValueError:
        return False
    return entity_sources.get(key) is not None


aresolve_entity = sync_to_async(resolve_entity)
"""Async :func:`resolve_entity`, for the request path."""
