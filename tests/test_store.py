"""DjangoStore / DjangoAttachmentStore honour the SDK's Store contract."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from chatkit.store import NotFoundError
from chatkit.types import (
    ActiveStatus,
    AssistantMessageContent,
    AssistantMessageItem,
    AttachmentCreateParams,
    ClientToolCallItem,
    ClosedStatus,
    CustomTask,
    EndOfTurnItem,
    FileAttachment,
    GeneratedImage,
    GeneratedImageItem,
    HiddenContextItem,
    ImageAttachment,
    InferenceOptions,
    LockedStatus,
    SDKHiddenContextItem,
    StructuredInputFreeform,
    StructuredInputItem,
    TaskItem,
    Thread,
    ThreadMetadata,
    ToolChoice,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import Card, Text

from django_chatkit import models
from django_chatkit import store as store_module
from django_chatkit.context import RequestContext
from django_chatkit.store import DjangoAttachmentStore, DjangoStore

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 24, 12, 0, 0, 123456)


def thread(thread_id: str = "thr_1", **extra) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, created_at=extra.pop("created_at", T0), **extra)


def message(item_id: str, thread_id: str = "thr_1", at: datetime = T0, text: str = "hi") -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id, thread_id=thread_id, created_at=at, content=[AssistantMessageContent(text=text)]
    )


def every_item_type(thread_id: str) -> list:
    """One instance of every ThreadItem type the SDK defines, with optional fields set."""
    at = T0
    return [
        UserMessageItem(
            id="i_user",
            thread_id=thread_id,
            created_at=at,
            content=[
                UserMessageTextContent(text="look at "),
                UserMessageTagContent(id="art_1", text="Article", data={"article_id": 1}, interactive=True),
            ],
            attachments=[
                FileAttachment(id="atc_f", name="a.txt", mime_type="text/plain", thread_id=thread_id, metadata={"k": 1})
            ],
            quoted_text="quoted",
            inference_options=InferenceOptions(tool_choice=ToolChoice(id="event_finder"), model="gpt-x"),
        ),
        AssistantMessageItem(
            id="i_assistant",
            thread_id=thread_id,
            created_at=at + timedelta(microseconds=1),
            content=[AssistantMessageContent(text="answer")],
        ),
        ClientToolCallItem(
            id="i_tool",
            thread_id=thread_id,
            created_at=at + timedelta(microseconds=2),
            call_id="c1",
            name="get_location",
            arguments={"a": [1, 2]},
            output={"city": "Oslo"},
            status="completed",
        ),
        WidgetItem(
            id="i_widget",
            thread_id=thread_id,
            created_at=at + timedelta(microseconds=3),
            widget=Card(children=[Text(id="t", value="hello", streaming=False)]),
            copy_text="hello",
        ),
        GeneratedImageItem(
            id="i_image",
            thread_id=thread_id,
            created_at=at + timedelta(microseconds=4),
            image=GeneratedImage(id="img", url="https://example.com/i.png"),
        ),
        StructuredInputItem(
            id="i_structured",
            thread_id=thread_id,
            created_at=at + timedelta(microseconds=5),
            inputs=[StructuredInputFreeform(id="q", question="Why?", description="d")],
        ),
        WorkflowItem(
            id="i_workflow",
            thread_id=thread_id,
            created_at=at + timedelta(microseconds=6),
            workflow=Workflow(type="custom", tasks=[CustomTask(title="step", content="done")], expanded=True),
        ),
        TaskItem(
            id="i_task",
            thread_id=thread_id,
            created_at=at + timedelta(microseconds=7),
            task=CustomTask(title="t", status_indicator="complete"),
        ),
        HiddenContextItem(
            id="i_hidden", thread_id=thread_id, created_at=at + timedelta(microseconds=8), content={"secret": "ctx"}
        ),
        SDKHiddenContextItem(
            id="i_sdk_hidden",
            thread_id=thread_id,
            created_at=at + timedelta(microseconds=9),
            content="The user cancelled the stream.",
        ),
        EndOfTurnItem(id="i_end", thread_id=thread_id, created_at=at + timedelta(microseconds=10)),
    ]


@pytest.fixture
def store() -> DjangoStore:
    return DjangoStore()


# -- threads ---------------------------------------------------------------------------


async def test_store_constructs_with_no_arguments_and_uses_context_user_id(store, ctx):
    await store.save_thread(thread(), ctx)
    row = await models.Thread.objects.aget(thread_id="thr_1")
    assert row.owner == ctx.user_id


async def test_any_object_with_user_id_is_a_context(store):
    class Plain:
        user_id = "plain-owner"

    await store.save_thread(thread(), Plain())
    assert (await store.load_thread("thr_1", Plain())).id == "thr_1"


async def test_owner_resolution_is_overridable(ctx):
    store = DjangoStore(owner_resolver=lambda context: f"tenant-a/{context.user_id}")
    await store.save_thread(thread(), ctx)
    assert (await models.Thread.objects.aget(thread_id="thr_1")).owner == "tenant-a/user:1"


@dataclass
class TenantContext:
    """A site's own request context: no ``user_id``, its owner is the tenant's member."""

    tenant: str
    member: str


def tenant_owner(context: TenantContext) -> str:
    return f"{context.tenant}/{context.member}"


async def test_a_site_context_is_the_stores_type_argument(settings):
    settings.CHATKIT = {**settings.CHATKIT, "OWNER_RESOLVER": "tests.test_store.tenant_owner"}
    store = DjangoStore[TenantContext]()
    attachments = DjangoAttachmentStore[TenantContext]()
    alice, bob = TenantContext("acme", "alice"), TenantContext("acme", "bob")
    await store.save_thread(thread(), alice)
    await store.add_thread_item("thr_1", message("m1"), alice)
    upload = await attachments.create_attachment(
        AttachmentCreateParams(name="a.txt", size=3, mime_type="text/plain"), alice
    )

    assert (await models.Thread.objects.aget(thread_id="thr_1")).owner == "acme/alice"
    assert (await store.load_thread_items("thr_1", None, 10, "asc", alice)).data == [message("m1")]
    assert (await store.load_attachment(upload.id, alice)).name == "a.txt"
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_1", bob)
    with pytest.raises(NotFoundError):
        await attachments.delete_attachment(upload.id, bob)


@pytest.mark.parametrize("status", [ActiveStatus(), LockedStatus(reason="read only"), ClosedStatus(reason="archived")])
async def test_thread_round_trips_exactly(store, ctx, status):
    original = thread(title=None, status=status, allowed_image_domains=["example.com"], metadata={"a": {"b": [1]}})
    await store.save_thread(original, ctx)
    loaded = await store.load_thread("thr_1", ctx)
    assert loaded == original
    assert loaded.created_at.tzinfo is None and loaded.created_at.microsecond == 123456


async def test_save_thread_is_an_upsert_and_ignores_items(store, ctx):
    await store.save_thread(thread(title="first"), ctx)
    full = Thread(id="thr_1", created_at=T0, title="second", items={"data": [message("m1")], "has_more": False})
    await store.save_thread(full, ctx)
    loaded = await store.load_thread("thr_1", ctx)
    assert loaded.title == "second"
    assert await models.Thread.objects.acount() == 1
    assert await models.ThreadItem.objects.acount() == 0
    assert "items" not in (await models.Thread.objects.aget()).data


async def test_missing_thread_raises_not_found(store, ctx):
    with pytest.raises(NotFoundError, match="Thread nope not found"):
        await store.load_thread("nope", ctx)


async def test_threads_page_in_both_orders_with_cursors(store, ctx):
    for n in range(5):
        await store.save_thread(thread(f"thr_{n}", created_at=T0 + timedelta(seconds=n)), ctx)

    page = await store.load_threads(2, None, "desc", ctx)
    assert [t.id for t in page.data] == ["thr_4", "thr_3"] and page.has_more and page.after == "thr_3"
    page = await store.load_threads(2, page.after, "desc", ctx)
    assert [t.id for t in page.data] == ["thr_2", "thr_1"] and page.after == "thr_1"
    page = await store.load_threads(2, page.after, "desc", ctx)
    assert [t.id for t in page.data] == ["thr_0"] and not page.has_more and page.after is None

    page = await store.load_threads(3, None, "asc", ctx)
    assert [t.id for t in page.data] == ["thr_0", "thr_1", "thr_2"] and page.after == "thr_2"
    page = await store.load_threads(3, page.after, "asc", ctx)
    assert [t.id for t in page.data] == ["thr_3", "thr_4"] and not page.has_more


async def test_delete_thread_removes_its_items(store, ctx, other_ctx):
    await store.save_thread(thread(), ctx)
    await store.add_thread_item("thr_1", message("m1"), ctx)
    await store.delete_thread("thr_1", ctx)
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_1", ctx)
    assert await models.ThreadItem.objects.acount() == 0
    with pytest.raises(NotFoundError):
        await store.delete_thread("thr_1", ctx)


# -- items -----------------------------------------------------------------------------


async def test_every_item_type_round_trips_exactly(store, ctx):
    await store.save_thread(thread(), ctx)
    items = every_item_type("thr_1")
    for item in items:
        await store.add_thread_item("thr_1", item, ctx)
    for item in items:
        assert await store.load_item("thr_1", item.id, ctx) == item
    page = await store.load_thread_items("thr_1", None, 50, "asc", ctx)
    assert page.data == items  # hidden items included: the server filters them, not the store
    assert all(i.created_at.tzinfo is None for i in page.data)


async def test_items_page_in_both_orders_with_cursors(store, ctx):
    await store.save_thread(thread(), ctx)
    for n in range(7):
        await store.add_thread_item("thr_1", message(f"m{n}", at=T0 + timedelta(milliseconds=n)), ctx)

    seen, after = [], None
    while True:
        page = await store.load_thread_items("thr_1", after, 3, "asc", ctx)
        seen += [i.id for i in page.data]
        assert page.after == (page.data[-1].id if page.has_more else None)
        if not page.has_more:
            break
        after = page.after
    assert seen == [f"m{n}" for n in range(7)]

    page = await store.load_thread_items("thr_1", None, 3, "desc", ctx)
    assert [i.id for i in page.data] == ["m6", "m5", "m4"]
    page = await store.load_thread_items("thr_1", page.after, 10, "desc", ctx)
    assert [i.id for i in page.data] == ["m3", "m2", "m1", "m0"] and not page.has_more


async def test_rows_created_in_a_tight_loop_keep_their_order(store, ctx):
    await store.save_thread(thread(), ctx)
    ids = [f"m{n:02d}" for n in range(30)]
    for item_id in reversed(ids):  # ids sort the other way: order must come from insertion
        await store.add_thread_item("thr_1", message(item_id, at=T0), ctx)
    page = await store.load_thread_items("thr_1", None, 100, "asc", ctx)
    assert [i.id for i in page.data] == list(reversed(ids))
    page = await store.load_thread_items("thr_1", None, 100, "desc", ctx)
    assert [i.id for i in page.data] == ids
    first = await store.load_thread_items("thr_1", None, 10, "asc", ctx)
    second = await store.load_thread_items("thr_1", first.after, 10, "asc", ctx)
    assert [i.id for i in second.data] == list(reversed(ids))[10:20]


async def test_add_and_save_item_are_upserts_and_type_may_change(store, ctx):
    await store.save_thread(thread(), ctx)
    await store.add_thread_item("thr_1", message("m1", text="draft"), ctx)
    await store.add_thread_item("thr_1", message("m1", text="final"), ctx)
    assert (await store.load_item("thr_1", "m1", ctx)).content[0].text == "final"
    widget = WidgetItem(id="m1", thread_id="thr_1", created_at=T0, widget=Card(children=[]))
    await store.save_item("thr_1", widget, ctx)
    assert isinstance(await store.load_item("thr_1", "m1", ctx), WidgetItem)
    assert await models.ThreadItem.objects.acount() == 1


async def test_a_checkpoint_of_many_items_stores_each_exactly(store, ctx):
    # The checkpoint writes every running answer in one statement (on PostgreSQL as
    # arrays, one a column): text with quotes, braces, commas, backslashes and emoji must
    # come back as it went in, for new rows and for rows it updates.
    await store.save_thread(thread(), ctx)
    tricky = ['say "hi", {ok}', 'back\\slash \\" end', "NULL", "", "tab\tand newline\n", "🙂 ünïcode, {a,b}"]
    await store.add_thread_item("thr_1", message("m0", text="before"), ctx)
    items = [
        message(f"m{n}", at=T0 + timedelta(seconds=n), text=tricky[n % len(tricky)] * (n % 3 + 1)) for n in range(40)
    ]
    rows = [
        ("thr_1", i.id, ctx.user_id, i.type, store_module.to_microseconds(i.created_at), i.model_dump_json())
        for i in items
    ]
    await sync_to_async(store_module.upsert_item_rows)(rows)
    page = await store.load_thread_items("thr_1", None, 100, "asc", ctx)
    assert [i.model_dump() for i in page.data] == [i.model_dump() for i in items]


async def test_item_in_unknown_thread_is_refused(store, ctx):
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_missing", message("m1", thread_id="thr_missing"), ctx)


async def test_a_thread_deleted_elsewhere_refuses_items_though_this_request_loaded_it(store, ctx):
    # Item writes skip the ownership check for a thread the request has loaded; its foreign
    # key still refuses them once another request deleted the thread.
    await store.save_thread(thread(), ctx)
    await store.load_thread("thr_1", ctx)
    await models.Thread.objects.filter(thread_id="thr_1").adelete()
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_1", message("m1"), ctx)
    with pytest.raises(NotFoundError):
        await store.save_item("thr_1", message("m2"), ctx)
    assert await models.ThreadItem.objects.acount() == 0


async def test_an_item_id_held_by_another_owner_is_never_overwritten(store, ctx):
    await store.save_thread(thread(), ctx)
    await models.ThreadItem.objects.acreate(
        thread_id="thr_1", item_id="m1", owner="user:2", type="assistant_message", created_at_us=1, data={"id": "m1"}
    )
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_1", message("m1", text="mine"), ctx)
    with pytest.raises(NotFoundError):
        await store.save_item("thr_1", message("m1", text="mine"), ctx)
    row = await models.ThreadItem.objects.aget(thread_id="thr_1", item_id="m1")
    assert (row.owner, row.data) == ("user:2", {"id": "m1"})


async def test_the_run_marker_in_thread_metadata_is_never_stored(store, ctx):
    marked = thread(metadata={"chatkit_run": {"run_id": "run_1"}, "topic": "kept"})
    await store.save_thread(marked, ctx)
    assert (await store.load_thread("thr_1", ctx)).metadata == {"topic": "kept"}
    assert marked.metadata["chatkit_run"] == {"run_id": "run_1"}  # the caller's copy is untouched


async def test_deletes_of_unknown_ids_are_tolerated(store, ctx):
    await store.save_thread(thread(), ctx)
    await store.delete_thread_item("thr_1", "never-existed", ctx)
    await store.delete_attachment("atc_never", ctx)
    await store.add_thread_item("thr_1", message("m1"), ctx)
    await store.delete_thread_item("thr_1", "m1", ctx)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_1", "m1", ctx)


async def test_items_of_an_unknown_or_foreign_thread_are_an_empty_page(store, ctx, other_ctx):
    assert (await store.load_thread_items("thr_missing", None, 10, "asc", ctx)).data == []
    await store.save_thread(thread(), ctx)
    await store.add_thread_item("thr_1", message("m1"), ctx)
    assert (await store.load_thread_items("thr_1", None, 10, "asc", other_ctx)).data == []
    assert [i.id for i in (await store.load_thread_items("thr_1", None, 10, "asc", ctx)).data] == ["m1"]


async def test_adding_an_id_again_for_a_new_item_keeps_the_stored_one(store, ctx):
    await store.save_thread(thread(), ctx)
    await store.add_thread_item("thr_1", message("m1", text="first"), ctx)
    await store.save_item("thr_1", message("m1", text="answered"), ctx)
    await store.add_thread_item("thr_1", message("m1", at=T0 + timedelta(seconds=1), text="again"), ctx)
    assert (await store.load_item("thr_1", "m1", ctx)).content[0].text == "answered"


async def test_adding_the_same_item_again_updates_it(store, ctx):
    """The agents helper re-adds a workflow it continues: same item, same creation time."""
    await store.save_thread(thread(), ctx)
    await store.add_thread_item("thr_1", message("m1", text="step 1"), ctx)
    await store.add_thread_item("thr_1", message("m1", text="step 1, step 2"), ctx)
    assert (await store.load_item("thr_1", "m1", ctx)).content[0].text == "step 1, step 2"


async def test_adding_an_item_saved_while_in_progress_stores_the_finished_one(store, ctx):
    """A checkpoint saves the unfinished message; the finished one (a new creation time,
    as the SDK's agents helper builds it) replaces it."""
    await store.save_thread(thread(), ctx)
    await store.save_item("thr_1", message("m1", text="Hal"), ctx)
    await store.add_thread_item("thr_1", message("m1", at=T0 + timedelta(seconds=2), text="Hallo"), ctx)
    assert (await store.load_item("thr_1", "m1", ctx)).content[0].text == "Hallo"


# -- isolation -------------------------------------------------------------------------


async def test_two_owners_never_see_each_others_rows(store, ctx, other_ctx):
    await store.save_thread(thread(), ctx)
    await store.add_thread_item("thr_1", message("m1"), ctx)
    attachment = FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain")
    await store.save_attachment(attachment, ctx)

    with pytest.raises(NotFoundError):
        await store.load_thread("thr_1", other_ctx)
    assert (await store.load_thread_items("thr_1", None, 10, "asc", other_ctx)).data == []
    with pytest.raises(NotFoundError):
        await store.load_item("thr_1", "m1", other_ctx)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", other_ctx)
    assert (await store.load_threads(10, None, "desc", other_ctx)).data == []
    with pytest.raises(NotFoundError):
        await store.delete_thread("thr_1", other_ctx)
    with pytest.raises(NotFoundError):
        await store.save_thread(thread(title="hijacked"), other_ctx)
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_1", message("m2"), other_ctx)
    with pytest.raises(NotFoundError):
        await store.save_attachment(attachment.model_copy(update={"name": "x"}), other_ctx)
    await store.delete_thread_item("thr_1", "m1", other_ctx)
    await store.delete_attachment("atc_1", other_ctx)

    # Nothing of the first owner's changed.
    assert (await store.load_thread("thr_1", ctx)).title is None
    assert (await store.load_item("thr_1", "m1", ctx)).id == "m1"
    assert (await store.load_attachment("atc_1", ctx)).name == "a.txt"


# -- attachments -----------------------------------------------------------------------


async def test_attachments_round_trip_and_upsert(store, ctx):
    file = FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain", metadata={"origin": "test"})
    image = ImageAttachment(id="atc_2", name="i.png", mime_type="image/png", preview_url="https://x.test/p.png")
    await store.save_attachment(file, ctx)
    await store.save_attachment(image, ctx)
    assert await store.load_attachment("atc_1", ctx) == file
    assert await store.load_attachment("atc_2", ctx) == image
    await store.save_attachment(file.model_copy(update={"thread_id": "thr_1"}), ctx)
    assert (await store.load_attachment("atc_1", ctx)).thread_id == "thr_1"
    await store.delete_attachment("atc_1", ctx)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", ctx)


async def test_attachment_store_describes_a_two_phase_upload(ctx):
    from chatkit.types import AttachmentCreateParams

    attachments = DjangoAttachmentStore()
    image = await attachments.create_attachment(
        AttachmentCreateParams(name="p.png", size=10, mime_type="image/png"), ctx
    )
    assert image.type == "image" and image.id.startswith("atc_")
    assert str(image.upload_descriptor.url).endswith(f"/chatkit/attachments/{image.id}/upload/")
    assert str(image.preview_url).endswith(f"/chatkit/attachments/{image.id}/preview/")
    doc = await attachments.create_attachment(
        AttachmentCreateParams(name="a.pdf", size=10, mime_type="application/pdf"), ctx
    )
    assert doc.type == "file"


# -- ids -------------------------------------------------------------------------------


def test_generated_ids_carry_sdk_prefixes_and_sort_by_creation():
    store = DjangoStore()
    context = RequestContext(user_id="u")
    meta = thread()
    assert store.generate_thread_id(context).startswith("thr_")
    assert store.generate_item_id("message", meta, context).startswith("msg_")
    assert store.generate_item_id("tool_call", meta, context).startswith("tc_")
    assert store.generate_item_id("sdk_hidden_context", meta, context).startswith("shcx_")
    ids = [store.generate_item_id("message", meta, context) for _ in range(20000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


async def test_read_bytes_gives_the_owner_the_uploaded_file_and_nobody_else(ctx, other_ctx):
    from django.core.files.base import ContentFile

    from django_chatkit.store import attachment_storage

    name = await sync_to_async(attachment_storage().save)("chatkit/tests/read.txt", ContentFile(b"the bytes"))
    await models.Attachment.objects.acreate(
        attachment_id="atc_r", owner=ctx.user_id, name="read.txt", mime_type="text/plain", file=name, data={}
    )
    await models.Attachment.objects.acreate(
        attachment_id="atc_pending", owner=ctx.user_id, name="p.txt", mime_type="text/plain", file="", data={}
    )
    attachments = DjangoAttachmentStore()
    assert await attachments.read_bytes("atc_r", ctx) == b"the bytes"
    for attachment_id, context in [("atc_r", other_ctx), ("atc_pending", ctx), ("atc_never", ctx)]:
        with pytest.raises(NotFoundError):
            await attachments.read_bytes(attachment_id, context)
