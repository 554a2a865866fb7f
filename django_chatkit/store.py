"""The SDK's ``Store`` and ``AttachmentStore`` on Django models, with the async ORM.

Every query is scoped to the owner derived from the request context (by default
``context.user_id``), so one user's rows are never visible to another: a foreign
thread, item or attachment looks exactly like a missing one (``NotFoundError``).

Pages are keyset-paginated on ``(created_at_us, seq)``: the cost of a page does not
grow with the thread, and rows created in the same microsecond keep insertion order.

Long because: it implements the SDK's whole ``Store`` and ``AttachmentStore`` contracts,
about twenty methods of a few ORM lines each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Generic

from asgiref.sync import sync_to_async
from chatkit.store import AttachmentStore, NotFoundError, Store, StoreItemType
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
    Page,
    ThreadItem,
    ThreadMetadata,
)
from django.core.files.storage import storages
from django.db import DEFAULT_DB_ALIAS, IntegrityError, router, transaction
from django.db.models import AutoField, Field, Model, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from pydantic import TypeAdapter

from . import models
from .conf import chatkit_settings
from .context import TContext
from .exceptions import BadRequest
from .ids import new_id
from .limits import check_attachment_quota, owner_lock

__all__ = ["DjangoAttachmentStore", "DjangoStore", "NotFoundError"]

_EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)
_ITEM_ADAPTER: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
_ATTACHMENT_ADAPTER: TypeAdapter[Attachment] = TypeAdapter(Attachment)

_ID_PREFIXES: dict[str, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}

OwnerResolver = Callable[[Any], str]

#: Items saved before they were added that one store instance remembers (see ``save_item``).
_UNFINISHED_LIMIT = 10_000


def to_microseconds(moment: datetime) -> int:
    """Sort key of an SDK timestamp: microseconds since 1970 of the naive wall-clock time."""
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    return (moment - _EPOCH) // _ONE_US


#: Key of the run marker in the metadata of a thread a response is being written in:
#: ``load_thread`` adds it from the run's lease row (:mod:`django_chatkit.runs`), and
#: ``save_thread`` never stores it.
RUN_MARKER_KEY = "chatkit_run"


def run_marker(run_id: str, started_at: datetime, mode: str) -> dict[str, str]:
    """The ``chatkit_run`` metadata of a thread with a running response."""
    return {"run_id": run_id, "started_at": started_at.isoformat(), "mode": mode}


def _thread_data(thread: ThreadMetadata) -> dict[str, Any]:
    # A ``Thread`` carries its items; only the metadata is stored on the thread row.
    data = thread.model_dump(mode="json", exclude={"items"})
    data["metadata"].pop(RUN_MARKER_KEY, None)
    return data


def column_field(model: type[Model], name: str) -> Field[Any, Any]:
    """The concrete field ``name`` of ``model`` (for raw SQL: its ``column``)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is a relation, not a column")
    return field


def column_name(model: type[Model], name: str) -> str:
    """The database column of the field ``name`` of ``model``."""
    column = column_field(model, name).column
    if column is None:
        raise TypeError(f"{model.__name__}.{name} has no column")
    return column


def write_alias(model: type[Model]) -> str:
    """The database alias ``model`` is written to."""
    return router.db_for_write(model) or DEFAULT_DB_ALIAS


def _title_column(title: str | None) -> str | None:
    """The title as the indexed column holds it: cut to the column's length (a generated
    title can be any length; the stored thread keeps it whole)."""
    limit = column_field(models.Thread, "title").max_length or 1024
    if title is None or len(title) <= limit:
        return title
    return title[: limit - 1] + "…"


def _owned_threads(context: object) -> set[tuple[str, str]] | None:
    """The context's memo of threads seen owned during this request (see ``RequestContext``)."""
    return getattr(context, "owned_threads", None)


def _remember_owned(context: object, owner: str, thread_id: str) -> None:
    memo = _owned_threads(context)
    if memo is not None:
        memo.add((owner, thread_id))


#: Backends whose ``INSERT ... ON CONFLICT`` this module writes as raw SQL.
_RAW_VENDORS = frozenset({"sqlite", "postgresql"})


def _raw_sql(connection: Any) -> bool:
    return connection.vendor in _RAW_VENDORS


def _insert_columns(model: type[Model]) -> list[Any]:
    """The concrete fields an INSERT of ``model`` names (all but an auto primary key)."""
    return [field for field in model._meta.concrete_fields if not isinstance(field, AutoField)]


def _insert_values(model: type[Model], fields: dict[str, Any], connection: Any) -> list[Any]:
    """The database values of a new row of ``model``: the given fields (by name or
    attname), ``auto_now`` fields now, the others their defaults."""
    values = []
    for field in _insert_columns(model):
        if field.attname in fields:
            value = fields[field.attname]
        elif field.name in fields:
            value = fields[field.name]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = timezone.now()
        else:
            value = field.get_default()
        values.append(field.get_db_prep_save(value, connection))
    return values


def _insert_sql(model: type[Model], connection: Any, conflict: str) -> str:
    quote = connection.ops.quote_name
    columns = _insert_columns(model)
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) {conflict}"
    )


@sync_to_async
def insert_unless_taken(model: type[Model], **fields: Any) -> bool:
    """Insert a row; False when a unique constraint refuses it.

    Inside a transaction the insert gets a savepoint, so the enclosing transaction stays
    usable after a refusal. In autocommit mode (the requests of both transports) the
    INSERT is atomic on its own: no BEGIN/COMMIT round trips (4 of a turn's 11 statements).
    On SQLite and PostgreSQL it is one raw ``INSERT ... ON CONFLICT DO NOTHING`` (a
    refusal raises nothing), elsewhere the ORM's ``create()``.
    """
    alias = write_alias(model)
    connection = transaction.get_connection(alias)
    try:
        if connection.in_atomic_block:
            with transaction.atomic(using=alias):
                return _insert(model, alias, connection, fields)
        return _insert(model, alias, connection, fields)
    except IntegrityError:
        return False


def _insert(model: type[Model], alias: str, connection: Any, fields: dict[str, Any]) -> bool:
    if not _raw_sql(connection):
        model._default_manager.using(alias).create(**fields)
        return True
    values = _insert_values(model, fields, connection)
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, connection, "ON CONFLICT DO NOTHING"), values)
        return cursor.rowcount > 0


@sync_to_async
def insert_or_update_same(thread_id: str, item_id: str, owner: str, fields: dict[str, Any]) -> bool | None:
    """Insert an item row, or update the stored row of the same owner with the same
    ``created_at_us`` (the same item, saved unfinished): one statement on SQLite and
    PostgreSQL. True when a row was written, False when another row holds the id, None
    when the backend has no such statement (the caller does it in steps)."""
    model = models.ThreadItem
    alias = write_alias(model)
    connection = transaction.get_connection(alias)
    if not _raw_sql(connection) or connection.in_atomic_block:
        return None
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column = {
        name: quote(column_name(model, name))
        for name in ("thread", "item_id", "owner", "type", "created_at_us", "data")
    }
    sql = _insert_sql(
        model,
        connection,
        f"ON CONFLICT ({column['thread']}, {column['item_id']}) DO UPDATE SET "
        f"{column['type']} = EXCLUDED.{column['type']}, {column['data']} = EXCLUDED.{column['data']} "
        f"WHERE {table}.{column['owner']} = EXCLUDED.{column['owner']} "
        f"AND {table}.{column['created_at_us']} = EXCLUDED.{column['created_at_us']}",
    )
    values = _insert_values(model, {"thread_id": thread_id, "item_id": item_id, "owner": owner, **fields}, connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            return cursor.rowcount > 0
    except IntegrityError:  # the thread is gone
        return False


#: Most rows one checkpoint statement writes (a statement per this many running answers).
_ROWS_PER_STATEMENT = 1000


def upsert_item_rows(rows: list[tuple[str, str, str, str, int, str]]) -> None:
    """Insert or update item rows ``(thread id, item id, owner, type, created_at_us, JSON
    text)`` (a checkpoint; runs on a database thread). The JSON is the item's
    ``model_dump_json()``, made once. One statement (its own transaction, one commit): on
    PostgreSQL for any number of rows, elsewhere per ``_ROWS_PER_STATEMENT`` rows or the
    backend's parameter limit."""
    model = models.ThreadItem
    alias = write_alias(model)
    connection = transaction.get_connection(alias)
    if not _raw_sql(connection):
        model._default_manager.using(alias).bulk_create(
            [
                model(thread_id=t, item_id=i, owner=o, type=k, created_at_us=c, data=json.loads(d))
                for t, i, o, k, c, d in rows
            ],
            update_conflicts=True,
            unique_fields=["thread", "item_id"],
            update_fields=["type", "created_at_us", "data"],
        )
        return
    quote = connection.ops.quote_name
    names = ("thread", "item_id", "owner", "type", "created_at_us", "data")
    column = {name: quote(column_name(model, name)) for name in names}
    into = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(column[n] for n in names)})"
    tail = f" ON CONFLICT ({column['thread']}, {column['item_id']}) DO UPDATE SET " + ", ".join(
        f"{column[n]} = EXCLUDED.{column[n]}" for n in ("type", "created_at_us", "data")
    )
    if connection.vendor == "postgresql":
        # One array a column: the statement's text is the same for any number of rows, so
        # the driver parses it once (a VALUES list of 500 rows was 80% of a checkpoint's CPU).
        arrays = "unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::jsonb[])"
        with connection.cursor() as cursor:
            cursor.execute(f"{into} SELECT * FROM {arrays}{tail}", [list(values) for values in zip(*rows, strict=True)])
        return
    value = "(%s, %s, %s, %s, %s, %s)"
    limit = _ROWS_PER_STATEMENT
    if connection.features.max_query_params:
        limit = min(limit, _parameter_limit(connection) // len(names))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), limit):
            chunk = rows[start : start + limit]
            cursor.execute(f"{into} VALUES {', '.join([value] * len(chunk))}{tail}", [v for row in chunk for v in row])


def _parameter_limit(connection: Any) -> int:
    """The most parameters one statement takes (SQLite's compiled-in limit when it says)."""
    if connection.vendor == "sqlite":
        import sqlite3

        try:
            return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except (AttributeError, sqlite3.Error):
            pass
    return connection.features.max_query_params


async def _upsert_owned(
    model: type[Model], key: dict[str, str], owner: str, fields: dict[str, Any], not_found: str
) -> None:
    """Update the owner's row with ``key``, or insert it; a row with that key owned by
    someone else is never touched (``NotFoundError``, as if it did not exist)."""
    rows = model._default_manager.filter(owner=owner, **key)
    if await rows.aupdate(**fields):
        return
    if await insert_unless_taken(model, owner=owner, **key, **fields):
        return
    # Either a concurrent request of the owner created it a moment ago, or it is foreign.
    if not await rows.aupdate(**fields):
        raise NotFoundError(not_found)


async def _owned_data(rows: Any, not_found: str) -> Any:
    """The stored SDK object of the one row ``rows`` selects, or ``NotFoundError``."""
    data = await rows.values_list("data", flat=True).afirst()
    if data is None:
        raise NotFoundError(not_found)
    return data


def _item_fields(item: ThreadItem) -> dict[str, Any]:
    return {"type": item.type, "created_at_us": to_microseconds(item.created_at), "data": item.model_dump(mode="json")}


def item_row(thread_id: str, owner: str, item: ThreadItem) -> models.ThreadItem:
    """The (unsaved) row that stores ``item`` for ``owner``."""
    return models.ThreadItem(thread_id=thread_id, item_id=item.id, owner=owner, **_item_fields(item))


class _OwnedStore(Generic[TContext]):
    """Owner resolution shared by both stores."""

    def __init__(self, owner_resolver: OwnerResolver | None = None) -> None:
        self._owner_resolver = owner_resolver

    def owner_of(self, context: TContext) -> str:
        """The owner string that scopes every row this context may see."""
        resolver = self._owner_resolver or chatkit_settings.OWNER_RESOLVER
        return resolver(context)


class DjangoStore(_OwnedStore[TContext], Store[TContext]):
    """``chatkit.store.Store`` backed by :mod:`django_chatkit.models`.

    Generic over the request context: ``DjangoStore()`` takes a
    :class:`~django_chatkit.context.RequestContext`, ``DjangoStore[MyContext]()`` a
    site's own context (its owner comes from ``OWNER_RESOLVER``).
    """

    # -- ids -------------------------------------------------------------------------

    def generate_thread_id(self, context: TContext) -> str:
        thread_id = new_id("thr")
        fresh = self.__dict__.setdefault("_fresh_threads", {})
        fresh[thread_id] = None  # a new thread: its save_thread inserts first (see there)
        while len(fresh) > _UNFINISHED_LIMIT:
            fresh.pop(next(iter(fresh)))
        return thread_id

    def generate_item_id(self, item_type: StoreItemType, thread: ThreadMetadata, context: TContext) -> str:
        return new_id(_ID_PREFIXES.get(item_type, str(item_type)))

    # -- threads ---------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: TContext) -> ThreadMetadata:
        owner = self.owner_of(context)
        # The running response, if any, comes in the same query (its lease row, joined).
        row = await (
            models.Thread.objects.filter(thread_id=thread_id, owner=owner)
            .values_list("data", "run__run_id", "run__started_at", "run__mode")
            .afirst()
        )
        if row is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        data, run_id, started_at, mode = row
        thread = ThreadMetadata.model_validate(data)
        if run_id is not None:
            thread.metadata[RUN_MARKER_KEY] = run_marker(run_id, started_at, mode)
        _remember_owned(context, owner, thread_id)
        return thread

    async def save_thread(self, thread: ThreadMetadata, context: TContext) -> None:
        owner = self.owner_of(context)
        fields = {
            "title": _title_column(thread.title),
            "created_at_us": to_microseconds(thread.created_at),
            "data": _thread_data(thread),
        }
        # An id this store made for a new thread: no row has it yet, insert first.
        fresh = self.__dict__.get("_fresh_threads", {}).pop(thread.id, False) is None
        if fresh and await insert_unless_taken(models.Thread, thread_id=thread.id, owner=owner, **fields):
            _remember_owned(context, owner, thread.id)
            return
        await _upsert_owned(models.Thread, {"thread_id": thread.id}, owner, fields, f"Thread {thread.id} not found")
        _remember_owned(context, owner, thread.id)

    async def load_threads(self, limit: int, after: str | None, order: str, context: TContext) -> Page[ThreadMetadata]:
        owner = self.owner_of(context)
        rows = models.Thread.objects.filter(owner=owner)
        anchor = models.Thread.objects.filter(owner=owner, thread_id=after)
        page = await self._page(rows, anchor, "thread_id", after, limit, order)
        return Page(
            data=[ThreadMetadata.model_validate(data) for _, data in page.data],
            has_more=page.has_more,
            after=page.after,
        )

    async def delete_thread(self, thread_id: str, context: TContext) -> None:
        owner = self.owner_of(context)
        memo = _owned_threads(context)
        if memo is not None:
            memo.discard((owner, thread_id))
        deleted, _ = await models.Thread.objects.filter(thread_id=thread_id, owner=owner).adelete()
        if not deleted:
            raise NotFoundError(f"Thread {thread_id} not found")
        # The thread's attachments go with it: rows and stored files.
        attachments = models.Attachment.objects.filter(thread_id=thread_id, owner=owner)
        files = [name async for name in attachments.exclude(file="").values_list("file", flat=True)]
        await attachments.adelete()
        if files:
            await sync_to_async(_delete_files)(files)

    # -- items -----------------------------------------------------------------------

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: TContext
    ) -> Page[ThreadItem]:
        owner = self.owner_of(context)
        rows = models.ThreadItem.objects.filter(thread_id=thread_id, owner=owner)
        anchor = rows.filter(item_id=after)
        page = await self._page(rows, anchor, "item_id", after, limit, order)
        # Another owner's thread (or a missing one) is an empty page, as the SDK's Store
        # contract says; the server answers 404 for it before asking (``items.list``).
        return Page(
            data=[_ITEM_ADAPTER.validate_python(data) for _, data in page.data],
            has_more=page.has_more,
            after=page.after,
        )

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        """Insert first: the SDK adds new items.

        An id that is already stored is updated only when the stored row is that same item
        unfinished: saved by a checkpoint of the running response (``save_item`` before the
        item was added), or with the same creation time (the agents helper re-adds a
        workflow it continues). A response that adds an id again for a new item (a
        structured input yielded twice, say) leaves the stored one, which may have been
        answered since, as it is.
        """
        owner = self.owner_of(context)
        await self._check_thread_owned(thread_id, owner, context)
        fields = _item_fields(item)
        unfinished = self._unfinished_items().pop((owner, thread_id, item.id), False) is not False
        if not unfinished:
            # Insert, or update the same item checkpointed unfinished: one statement.
            written = await insert_or_update_same(thread_id, item.id, owner, fields)
            if written:
                return
            if written is False:  # another item holds the id (it stays), or a foreign row
                if await models.ThreadItem.objects.filter(thread_id=thread_id, item_id=item.id, owner=owner).aexists():
                    return
                raise NotFoundError(f"Thread {thread_id} not found")
        if await insert_unless_taken(models.ThreadItem, thread_id=thread_id, item_id=item.id, owner=owner, **fields):
            return
        rows = models.ThreadItem.objects.filter(thread_id=thread_id, item_id=item.id, owner=owner)
        if not unfinished:
            rows = rows.filter(created_at_us=fields["created_at_us"])
        if await rows.aupdate(**fields):
            return
        if await models.ThreadItem.objects.filter(thread_id=thread_id, item_id=item.id, owner=owner).aexists():
            return  # another item is stored under this id: it stays
        # The id is taken by a row that is not the owner's, or the thread is gone.
        raise NotFoundError(f"Thread {thread_id} not found")

    async def save_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        """Update first: the SDK saves items it has added (replaced widgets, say)."""
        owner = self.owner_of(context)
        fields = _item_fields(item)
        rows = models.ThreadItem.objects.filter(thread_id=thread_id, item_id=item.id, owner=owner)
        if await rows.aupdate(**fields):
            return
        await self._check_thread_owned(thread_id, owner, context)
        inserted = await insert_unless_taken(
            models.ThreadItem, thread_id=thread_id, item_id=item.id, owner=owner, **fields
        )
        if not inserted and not await rows.aupdate(**fields):  # a concurrent save won the insert; ours is newer
            raise NotFoundError(f"Thread {thread_id} not found")
        if inserted:
            self._remember_unfinished((owner, thread_id, item.id))

    def _remember_unfinished(self, key: tuple[str, str, str]) -> None:
        """An item saved before it was added (a checkpoint of a response in progress): its
        ``add_thread_item`` replaces it. Bounded: a run that died before adding its item
        leaves an entry, which ages out."""
        unfinished = self._unfinished_items()
        unfinished[key] = None
        while len(unfinished) > _UNFINISHED_LIMIT:
            unfinished.pop(next(iter(unfinished)))

    def _unfinished_items(self) -> dict[tuple[str, str, str], None]:
        # (owner, thread id, item id), oldest first; made on first use, so a subclass's
        # own __init__ need not call this one's.
        return self.__dict__.setdefault("_unfinished", {})

    async def _check_thread_owned(self, thread_id: str, owner: str, context: TContext) -> None:
        memo = _owned_threads(context)
        if memo is not None and (owner, thread_id) in memo:
            return
        if not await models.Thread.objects.filter(thread_id=thread_id, owner=owner).aexists():
            raise NotFoundError(f"Thread {thread_id} not found")
        _remember_owned(context, owner, thread_id)

    async def load_item(self, thread_id: str, item_id: str, context: TContext) -> ThreadItem:
        rows = models.ThreadItem.objects.filter(thread_id=thread_id, item_id=item_id, owner=self.owner_of(context))
        return _ITEM_ADAPTER.validate_python(await _owned_data(rows, f"Item {item_id} not found in thread {thread_id}"))

    async def delete_thread_item(self, thread_id: str, item_id: str, context: TContext) -> None:
        await models.ThreadItem.objects.filter(
            thread_id=thread_id, item_id=item_id, owner=self.owner_of(context)
        ).adelete()

    # -- attachment metadata -----------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: TContext) -> None:
        owner = self.owner_of(context)
        fields = {
            "thread_id": attachment.thread_id,
            "name": attachment.name,
            "mime_type": attachment.mime_type,
            "data": attachment.model_dump(mode="json"),
        }
        await _upsert_owned(
            models.Attachment, {"attachment_id": attachment.id}, owner, fields, f"Attachment {attachment.id} not found"
        )

    async def load_attachment(self, attachment_id: str, context: TContext) -> Attachment:
        rows = models.Attachment.objects.filter(attachment_id=attachment_id, owner=self.owner_of(context))
        return _ATTACHMENT_ADAPTER.validate_python(await _owned_data(rows, f"Attachment {attachment_id} not found"))

    async def delete_attachment(self, attachment_id: str, context: TContext) -> None:
        await models.Attachment.objects.filter(attachment_id=attachment_id, owner=self.owner_of(context)).adelete()

    # -- paging ----------------------------------------------------------------------

    @staticmethod
    async def _page(rows, anchor, id_field: str, after: str | None, limit: int, order: str) -> Page:
        """One keyset query: rows strictly after ``after`` in ``order``, ``limit`` + 1 to see more."""
        descending = order == "desc"
        if after is not None:
            anchor_us = Subquery(anchor.values("created_at_us")[:1])
            anchor_seq = Subquery(anchor.values("seq")[:1])
            # The plain bound on created_at_us lets the index seek straight to the anchor;
            # with the OR alone, SQLite and PostgreSQL walk every row from the end of the
            # thread to the anchor (a page deep in a 100,000-item thread took 4-8x longer).
            if descending:
                rows = rows.filter(created_at_us__lte=anchor_us).filter(
                    Q(created_at_us__lt=anchor_us) | Q(seq__lt=anchor_seq)
                )
            else:
                rows = rows.filter(created_at_us__gte=anchor_us).filter(
                    Q(created_at_us__gt=anchor_us) | Q(seq__gt=anchor_seq)
                )
        ordering = ("-created_at_us", "-seq") if descending else ("created_at_us", "seq")
        limit = max(int(limit), 1)
        found = [row async for row in rows.order_by(*ordering).values_list(id_field, "data")[: limit + 1]]
        has_more = len(found) > limit
        found = found[:limit]
        return Page(data=found, has_more=has_more, after=found[-1][0] if has_more else None)


class DjangoAttachmentStore(_OwnedStore[TContext], AttachmentStore[TContext]):
    """Two-phase uploads: ``attachments.create`` answers with an upload URL of this app,
    whose view stores the bytes through Django's storage API. Generic over the request
    context, like :class:`DjangoStore`."""

    def generate_attachment_id(self, mime_type: str, context: TContext) -> str:
        return new_id("atc")

    async def create_attachment(self, input: AttachmentCreateParams, context: TContext) -> Attachment:
        check_attachment_name(input.name)
        check_attachment_allowed(input.mime_type, input.size)
        owner = self.owner_of(context)
        # The quota counts rows: count and write this one at once (the SDK's
        # save_attachment then updates it), or a burst of creates all pass the count.
        async with owner_lock(owner):
            await check_attachment_quota(owner, input.size)
            attachment = self._describe_upload(input, context)
            await models.Attachment.objects.acreate(
                attachment_id=attachment.id,
                owner=owner,
                name=attachment.name,
                mime_type=attachment.mime_type,
                data=attachment.model_dump(mode="json"),
            )
        return attachment

    def _describe_upload(self, input: AttachmentCreateParams, context: TContext) -> Attachment:
        attachment_id = self.generate_attachment_id(input.mime_type, context)
        upload = AttachmentUploadDescriptor(
            url=_absolute_url(context, "django_chatkit:attachment-upload", attachment_id),
            method="POST",
            headers={},
        )
        common = {
            "id": attachment_id,
            "name": input.name,
            "mime_type": parse_mime_type(input.mime_type),
            "upload_descriptor": upload,
        }
        if common["mime_type"] in RASTER_IMAGE_TYPES:
            preview = _absolute_url(context, "django_chatkit:attachment-preview", attachment_id)
            return ImageAttachment(preview_url=preview, **common)
        return FileAttachment(**common)

    async def read_bytes(self, attachment_id: str, context: TContext) -> bytes:
        """The uploaded bytes of the requester's attachment; ``NotFoundError`` for an
        attachment that is another owner's, not uploaded yet, or whose file is gone."""
        name = await (
            models.Attachment.objects.filter(attachment_id=attachment_id, owner=self.owner_of(context))
            .values_list("file", flat=True)
            .afirst()
        )
        if not name:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        content = await read_stored_file(name)
        if content is None:
            raise NotFoundError(f"The file of attachment {attachment_id} is gone")
        return content

    async def delete_attachment(self, attachment_id: str, context: TContext) -> None:
        """Delete the stored file. Runs before ``Store.delete_attachment``; an attachment
        that is not the requester's is a ``NotFoundError`` (404), not a silent no-op."""
        found = await (
            models.Attachment.objects.filter(attachment_id=attachment_id, owner=self.owner_of(context))
            .values_list("file", flat=True)
            .afirst()
        )
        if found is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        name = found
        if name:
            await sync_to_async(attachment_storage().delete)(name)


def _delete_files(names: list[str]) -> None:
    storage = attachment_storage()
    for name in names:
        storage.delete(name)


async def read_stored_file(name: str, limit: int = -1) -> bytes | None:
    """The first ``limit`` bytes (all with -1) of a stored attachment file; None if gone."""

    def read() -> bytes:
        with attachment_storage().open(name, "rb") as handle:
            return handle.read(limit)

    try:
        return await sync_to_async(read)()
    except FileNotFoundError:
        return None


def attachment_storage():
    return storages[chatkit_settings.ATTACHMENT_STORAGE]


#: A MIME type as ``type/subtype`` (RFC 6838 names): no parameters, spaces, commas or
#: control characters.
_MIME_TOKEN = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")

#: Types a browser may run script from when it opens them: a ``type/*`` entry never allows
#: them (only an exact entry of ATTACHMENT_ALLOWED_MIME_TYPES does).
SCRIPTABLE_MIME_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "text/ecmascript",
        "application/x-javascript",
        "text/css",
        "text/xsl",
        "application/xslt+xml",
        "application/pdf+xml",
        "multipart/x-mixed-replace",
        "application/x-shockwave-flash",
        "application/wasm",
    }
)

#: Images a browser shows without running anything; every other type is served as a download.
RASTER_IMAGE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "image/x-icon",
        "image/vnd.microsoft.icon",
    }
)


def parse_mime_type(mime_type: str) -> str:
    """``mime_type`` lower-cased, or ``BadRequest`` unless it is exactly ``type/subtype``."""
    if not isinstance(mime_type, str) or len(mime_type) > 255:
        raise BadRequest("mime_type must be a MIME type like image/png of at most 255 characters.")
    kind, slash, subtype = mime_type.lower().partition("/")
    if not slash or not _MIME_TOKEN.fullmatch(kind) or not _MIME_TOKEN.fullmatch(subtype) or ".." in subtype:
        raise BadRequest(
            f"mime_type {mime_type[:100]!r} is not a MIME type: give exactly type/subtype, like image/png "
            "(no parameters, spaces, commas or control characters)."
        )
    return f"{kind}/{subtype}"


def _scriptable(mime_type: str) -> bool:
    subtype = mime_type.partition("/")[2]
    return mime_type in SCRIPTABLE_MIME_TYPES or subtype.endswith(("+xml", "script")) or "html" in subtype


def mime_type_allowed(mime_type: str, allowed: list[str]) -> bool:
    """Whether ``ATTACHMENT_ALLOWED_MIME_TYPES`` (exact types, or ``type/*``) allows a parsed type."""
    kind = mime_type.partition("/")[0]
    for allowed_type in allowed:
        pattern = allowed_type.lower()
        if pattern == mime_type:
            return True
        if pattern == f"{kind}/*" and not _scriptable(mime_type):
            return True
    return False


def check_attachment_allowed(mime_type: str, size: int) -> None:
    """Refuse a file the settings do not allow, with a message that says why."""
    limit = chatkit_settings.ATTACHMENT_MAX_BYTES
    if size > limit:
        raise BadRequest(f"Attachment is {size} bytes; the limit is {limit} bytes.")
    allowed = chatkit_settings.ATTACHMENT_ALLOWED_MIME_TYPES
    if not mime_type_allowed(parse_mime_type(mime_type), allowed):
        raise BadRequest(f"Attachments of type {mime_type!r} are not allowed (allowed: {', '.join(allowed)}).")


def check_attachment_name(name: str) -> None:
    """Refuse a file name storage cannot keep: control characters (NUL), path parts, over 255 bytes."""
    if not name or len(name.encode("utf-8", errors="surrogatepass")) > 255:
        raise BadRequest("name must be a file name of 1 to 255 bytes.")
    if any(ord(char) < 32 or ord(char) == 127 or 0xD800 <= ord(char) <= 0xDFFF for char in name):
        raise BadRequest("name must not contain control characters or lone surrogates.")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise BadRequest("name must be a file name, without / or \\.")


def check_message_attachments(attachment_ids: list[str]) -> None:
    """Refuse a message that lists an attachment twice or carries too many of them."""
    seen: set[str] = set()
    for attachment_id in attachment_ids:
        if attachment_id in seen:
            raise BadRequest(f"input.attachments lists attachment {attachment_id} more than once.")
        seen.add(attachment_id)
    limit = chatkit_settings.ATTACHMENT_MAX_PER_MESSAGE
    if len(attachment_ids) > limit:
        raise BadRequest(f"input.attachments has {len(attachment_ids)} attachments; a message may carry {limit}.")


def _absolute_url(context: object, name: str, attachment_id: str) -> str:
    path = reverse(name, kwargs={"attachment_id": attachment_id})
    request = getattr(context, "request", None)
    if request is not None:
        return request.build_absolute_uri(path)
    return f"http://localhost{path}"
