"""django_chatkit/actions.py: the @chatkit_action registry and the server's action dispatch.

Handlers used here live in tests/chatkit_actions.py, found by autodiscovery (the daphne
process of the live tests finds them the same way).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadMetadata
from django.contrib.auth.models import Permission
from pydantic import BaseModel

from django_chatkit import models
from django_chatkit.actions import ActionRegistrationError, ActionRegistry, chatkit_action, registry
from django_chatkit.context import RequestContext
from django_chatkit.exceptions import BadRequest, Forbidden
from django_chatkit.ids import new_id
from django_chatkit.offline import OfflineChatKitServer
from django_chatkit.store import DjangoStore
from django_chatkit.widgets import WidgetDefinition, awidget_item, save_widget_definition, widget_source
from tests.support.http import parse_sse

pytestmark = pytest.mark.django_db(transaction=True)

WIDGETS = Path(__file__).resolve().parent.parent / "example_project" / "demo" / "widgets"
LINES = [
    {"id": "blue-line", "name": "Blue Line", "color": "blue-500"},
    {"id": "red-line", "name": "Red Line", "color": "red-500"},
]


# -- registration ------------------------------------------------------------------------


def test_autodiscovery_registers_installed_apps_handlers():
    registered = registry.get("line.select")
    assert registered is not None
    assert registered.handler_name == "tests.chatkit_actions.select_line"
    assert registered.takes_helpers and registered.payload.__name__ == "LineSelection"


def test_registering_a_type_twice_raises_naming_both_handlers():
    local = ActionRegistry()

    @chatkit_action("dup.action", registry=local)
    async def first(thread, action, sender, context):
        yield None

    with pytest.raises(ActionRegistrationError) as excinfo:

        @chatkit_action("dup.action", registry=local)
        async def second(thread, action, sender, context):
            yield None

    message = str(excinfo.value)
    assert "dup.action" in message and "first" in message and "second" in message
    assert local.get("dup.action").handler is first


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: chatkit_action(""), "non-empty string"),
        (lambda: chatkit_action(42), "non-empty string"),
        (lambda: chatkit_action("x", registry=ActionRegistry())(lambda t, a, s, c: None), "async def"),
        (lambda: chatkit_action("x", registry=ActionRegistry())("not a function"), "must decorate a function"),
        (lambda: chatkit_action("x", payload=dict, registry=ActionRegistry())(_four_args), "pydantic"),
        (lambda: chatkit_action("x", permission="no-dot", registry=ActionRegistry())(_four_args), "permission"),
        (lambda: chatkit_action("x", sync=True, registry=ActionRegistry())(_async_gen), "sync action"),
        (lambda: chatkit_action("x", registry=ActionRegistry())(_two_args), "(thread, action, sender, context"),
    ],
)
def test_decorator_validates_at_decoration_time(make, expected):
    with pytest.raises(ActionRegistrationError, match=None) as excinfo:
        make()
    assert expected in str(excinfo.value)


async def _four_args(thread, action, sender, context):
    return None


async def _two_args(thread, action):
    return None


async def _async_gen(thread, action, sender, context):
    yield None


def test_reset_and_isolated_registry():
    with registry.isolated():
        assert len(registry) == 0

        @chatkit_action("temp.action")
        async def temp(thread, action, sender, context):
            return None

        assert "temp.action" in registry
        registry.reset()
        assert registry.get("temp.action") is None
    assert "temp.action" not in registry and "line.select" in registry


# -- dispatch, in process ------------------------------------------------------------------


@pytest.fixture
def templates(db):
    for path in sorted(WIDGETS.glob("*.widget")):
        save_widget_definition(WidgetDefinition.from_file(path))


@pytest.fixture
def alice_ctx(user) -> RequestContext:
    return RequestContext(user_id=f"user:{user.pk}", user=user)


async def seed_thread(ctx: RequestContext) -> tuple[ThreadMetadata, str, str]:
    """A thread holding a line selector widget and an assistant message."""
    store = DjangoStore()
    thread = ThreadMetadata(id=new_id("thr"), created_at=datetime.now())
    item = await awidget_item("line_selector", {"lines": LINES, "selected": None}, thread=thread)
    await store.save_thread(thread, ctx)
    await store.add_thread_item(thread.id, item, ctx)
    message = AssistantMessageItem(
        id=new_id("msg"), thread_id=thread.id, created_at=datetime.now(), content=[AssistantMessageContent(text="hi")]
    )
    await store.add_thread_item(thread.id, message, ctx)
    return thread, item.id, message.id


async def stream(server, ctx, op: str, params: dict) -> list[dict]:
    result = await server.process(json.dumps({"type": op, "params": params}).encode(), ctx)
    chunks = [chunk async for chunk in result]
    return parse_sse(b"".join(chunks))


async def call(server, ctx, op: str, params: dict) -> dict:
    result = await server.process(json.dumps({"type": op, "params": params}).encode(), ctx)
    return json.loads(result.json)


@sync_to_async
def snapshot(thread_id: str) -> tuple[list, dict]:
    items = list(models.ThreadItem.objects.filter(thread_id=thread_id).order_by("seq").values_list("item_id", "data"))
    thread = models.Thread.objects.get(thread_id=thread_id)
    return items, {"title": thread.title, "data": thread.data}


def icons(widget: dict) -> dict[str, str]:
    """line id -> icon name of a rendered line selector."""
    return {row["key"]: row["children"][0]["children"][0]["name"] for row in widget["children"]}


async def test_line_select_replaces_widget_says_so_and_emits_client_effect(templates, alice_ctx):
    thread, widget_id, _ = await seed_thread(alice_ctx)
    server = OfflineChatKitServer()
    events = await stream(
        server,
        alice_ctx,
        "threads.custom_action",
        {
            "thread_id": thread.id,
            "item_id": widget_id,
            "action": {"type": "line.select", "payload": {"id": "blue-line"}},
        },
    )
    kinds = [e["type"] for e in events]
    # The remembered template data changed too: the SDK saves the thread (thread.updated).
    assert kinds == ["stream_options", "thread.item.replaced", "thread.updated", "thread.item.done", "client_effect"]
    replaced = events[1]["item"]
    assert replaced["id"] == widget_id
    assert icons(replaced["widget"]) == {"blue-line": "check-circle-filled", "red-line": "empty-circle"}
    assert events[3]["item"]["content"][0]["text"] == "Selected blue-line"
    assert events[4] == {"type": "client_effect", "name": "selection_changed", "data": {"lineId": "blue-line"}}

    # A reload shows the replaced widget, and the new data is remembered for the next action.
    stored = await DjangoStore().load_item(thread.id, widget_id, alice_ctx)
    assert icons(stored.widget.model_dump(mode="json")) == icons(replaced["widget"])
    reloaded = await DjangoStore().load_thread(thread.id, alice_ctx)
    assert widget_source(reloaded, widget_id).data["selected"] == "blue-line"

    events = await stream(
        server,
        alice_ctx,
        "threads.custom_action",
        {
            "thread_id": thread.id,
            "item_id": widget_id,
            "action": {"type": "line.select", "payload": {"id": "red-line"}},
        },
    )
    assert icons(events[1]["item"]["widget"]) == {"blue-line": "empty-circle", "red-line": "check-circle-filled"}


@pytest.mark.parametrize(
    "action, message",
    [
        (
            {"type": "no.such.action", "payload": {"id": "x"}},
            "No server handler is registered for the action 'no.such.action'",
        ),
        (
            {"type": "line.select", "payload": {"line": "blue-line"}},
            "Invalid payload for the action 'line.select': id: Field required",
        ),
        ({"type": "line.select"}, "Invalid payload for the action 'line.select'"),
        (
            {"type": "line.delete", "payload": {"id": "blue-line"}},
            "You are not allowed to perform the action 'line.delete'",
        ),
        ({"type": "staff.only", "payload": {"x": 1}}, "You are not allowed to perform the action 'staff.only'"),
        (
            {"type": "line.explode", "payload": {"x": 1}},
            "Widget template 'line_selector' (version 1): data validation failed: $.selected",
        ),
    ],
)
async def test_refused_actions_stream_one_clear_error_and_write_nothing(templates, alice_ctx, action, message):
    thread, widget_id, _ = await seed_thread(alice_ctx)
    before = await snapshot(thread.id)
    events = await stream(
        OfflineChatKitServer(),
        alice_ctx,
        "threads.custom_action",
        {"thread_id": thread.id, "item_id": widget_id, "action": action},
    )
    assert [e["type"] for e in events] == ["stream_options", "error"]
    assert events[1]["code"] == "custom" and events[1]["message"].startswith(message), events[1]["message"]
    assert await snapshot(thread.id) == before


async def test_django_permission_allows_the_action_once_granted(templates, user, alice_ctx):
    await sync_to_async(user.user_permissions.add)(await Permission.objects.aget(codename="delete_thread"))
    fresh = await type(user).objects.aget(pk=user.pk)  # permission caches are per instance
    ctx = RequestContext(user_id=alice_ctx.user_id, user=fresh)
    thread, widget_id, _ = await seed_thread(ctx)
    events = await stream(
        OfflineChatKitServer(),
        ctx,
        "threads.custom_action",
        {
            "thread_id": thread.id,
            "item_id": widget_id,
            "action": {"type": "line.delete", "payload": {"id": "red-line"}},
        },
    )
    assert events[-1]["type"] == "thread.item.done" and events[-1]["item"]["content"][0]["text"] == "Deleted red-line"


async def test_coroutine_handler_sets_title_and_adds_hidden_context(templates, alice_ctx):
    thread, widget_id, _ = await seed_thread(alice_ctx)
    events = await stream(
        OfflineChatKitServer(),
        alice_ctx,
        "threads.custom_action",
        {
            "thread_id": thread.id,
            "item_id": widget_id,
            "action": {"type": "thread.rename", "payload": {"title": "Lines"}},
        },
    )
    kinds = [e["type"] for e in events]
    # The hidden context item is stored but never streamed to the browser.
    assert kinds == ["stream_options", "thread.updated", "thread.item.done"]
    assert events[1]["thread"]["title"] == "Lines"
    items, thread_row = await snapshot(thread.id)
    assert thread_row["title"] == "Lines"
    assert [data["type"] for _, data in items][-1] == "assistant_message"
    assert any(data["type"] == "hidden_context_item" and data["content"] == "renamed to Lines" for _, data in items)


async def test_sync_action_returns_and_persists_the_updated_item(templates, alice_ctx):
    thread, widget_id, _ = await seed_thread(alice_ctx)
    answer = await call(
        OfflineChatKitServer(),
        alice_ctx,
        "threads.sync_custom_action",
        {
            "thread_id": thread.id,
            "item_id": widget_id,
            "action": {"type": "line.select_sync", "payload": {"id": "red-line"}},
        },
    )
    assert answer["updated_item"]["id"] == widget_id
    assert icons(answer["updated_item"]["widget"])["red-line"] == "check-circle-filled"
    stored = await DjangoStore().load_item(thread.id, widget_id, alice_ctx)
    assert icons(stored.widget.model_dump(mode="json"))["red-line"] == "check-circle-filled"
    _, thread_row = await snapshot(thread.id)
    assert thread_row["title"] == "Line red-line"


@pytest.mark.parametrize(
    "action, error, message",
    [
        ({"type": "no.such.action"}, BadRequest, "No server handler is registered for the action 'no.such.action'"),
        ({"type": "line.select_sync", "payload": {}}, BadRequest, "Invalid payload"),
        ({"type": "line.select", "payload": {"id": "red-line"}}, BadRequest, "streams its answer"),
        ({"type": "line.delete", "payload": {"id": "red-line"}}, Forbidden, "not allowed"),
    ],
)
async def test_refused_sync_actions_raise_a_clear_request_error_and_write_nothing(
    templates, alice_ctx, action, error, message
):
    thread, widget_id, _ = await seed_thread(alice_ctx)
    before = await snapshot(thread.id)
    with pytest.raises(error) as excinfo:
        await call(
            OfflineChatKitServer(),
            alice_ctx,
            "threads.sync_custom_action",
            {"thread_id": thread.id, "item_id": widget_id, "action": action},
        )
    assert message in excinfo.value.message
    assert await snapshot(thread.id) == before


async def test_replace_sender_without_a_template_source_explains_what_to_pass(alice_ctx):
    with registry.isolated():

        @chatkit_action("card.refresh")
        async def refresh(thread, action, sender, context, act):
            yield await act.replace_sender(update={"x": 1})

        thread = ThreadMetadata(id=new_id("thr"), created_at=datetime.now())
        store = DjangoStore()
        await store.save_thread(thread, alice_ctx)
        from chatkit.types import WidgetItem

        from tests.servers import widget_card

        item = WidgetItem(id=new_id("msg"), thread_id=thread.id, created_at=datetime.now(), widget=widget_card("a"))
        await store.add_thread_item(thread.id, item, alice_ctx)
        events = await stream(
            OfflineChatKitServer(),
            alice_ctx,
            "threads.custom_action",
            {"thread_id": thread.id, "item_id": item.id, "action": {"type": "card.refresh", "payload": {"a": 1}}},
        )
    assert events[-1]["type"] == "error"
    assert "was not rendered from a widget template" in events[-1]["message"]


async def test_payload_model_is_parsed_for_the_handler(alice_ctx):
    class Pick(BaseModel):
        id: str
        count: int = 1

    seen = {}
    with registry.isolated():

        @chatkit_action("pick.it", payload=Pick)
        async def pick(thread, action, sender, context, act):
            seen["payload"] = act.payload
            seen["raw"] = action.payload
            seen["user_id"] = context.user_id
            return act.assistant_message("ok")

        thread = ThreadMetadata(id=new_id("thr"), created_at=datetime.now())
        await DjangoStore().save_thread(thread, alice_ctx)
        events = await stream(
            OfflineChatKitServer(),
            alice_ctx,
            "threads.custom_action",
            {"thread_id": thread.id, "action": {"type": "pick.it", "payload": {"id": "a", "count": "3"}}},
        )
    assert events[-1]["type"] == "thread.item.done"
    assert seen == {"payload": Pick(id="a", count=3), "raw": {"id": "a", "count": "3"}, "user_id": alice_ctx.user_id}


# -- over real HTTP ---------------------------------------------------------------------------


@pytest.fixture
def seeded(templates, user):
    ctx = RequestContext(user_id=f"user:{user.pk}", user=user)
    from asgiref.sync import async_to_sync

    return async_to_sync(seed_thread)(ctx)


def test_line_select_over_http_streams_replacement_message_and_effect_and_reload_shows_it(live_daphne, user, seeded):
    thread, widget_id, _ = seeded
    alice = live_daphne.client(user)
    events = alice.stream(
        "threads.custom_action",
        {
            "thread_id": thread.id,
            "item_id": widget_id,
            "action": {"type": "line.select", "payload": {"id": "red-line"}},
        },
    )
    by_type = {e["type"]: e for e in events}
    assert icons(by_type["thread.item.replaced"]["item"]["widget"])["red-line"] == "check-circle-filled"
    assert by_type["thread.item.done"]["item"]["content"][0]["text"] == "Selected red-line"
    assert by_type["client_effect"] == {
        "type": "client_effect",
        "name": "selection_changed",
        "data": {"lineId": "red-line"},
    }

    reloaded = alice.call("threads.get_by_id", {"thread_id": thread.id})
    widget = next(i for i in reloaded["items"]["data"] if i["id"] == widget_id)
    assert icons(widget["widget"]) == {"blue-line": "empty-circle", "red-line": "check-circle-filled"}
    assert "django_chatkit_widgets" not in json.dumps(reloaded)  # remembered template data stays server-side


def test_sync_action_over_http_persists_for_a_reload(live_daphne, user, seeded):
    thread, widget_id, _ = seeded
    alice = live_daphne.client(user, transport="view")
    answer = alice.call(
        "threads.sync_custom_action",
        {
            "thread_id": thread.id,
            "item_id": widget_id,
            "action": {"type": "line.select_sync", "payload": {"id": "blue-line"}},
        },
    )
    assert icons(answer["updated_item"]["widget"])["blue-line"] == "check-circle-filled"
    items = alice.call("items.list", {"thread_id": thread.id, "order": "asc"})["data"]
    widget = next(i for i in items if i["id"] == widget_id)
    assert icons(widget["widget"])["blue-line"] == "check-circle-filled"


def test_foreign_thread_and_non_widget_sender_are_refused_over_http(live_daphne, user, other_user, seeded):
    thread, widget_id, message_id = seeded
    before = (
        list(models.ThreadItem.objects.filter(thread_id=thread.id).values_list("item_id", "data")),
        models.Thread.objects.get(thread_id=thread.id).data,
    )
    action = {"type": "line.select", "payload": {"id": "red-line"}}
    bob = live_daphne.client(other_user)
    for op in ("threads.custom_action", "threads.sync_custom_action"):
        response = bob.post(op, {"thread_id": thread.id, "item_id": widget_id, "action": action})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"

    alice = live_daphne.client(user)
    for op in ("threads.custom_action", "threads.sync_custom_action"):
        response = alice.post(op, {"thread_id": thread.id, "item_id": message_id, "action": action})
        assert response.status_code == 400, response.text
        assert "not a widget" in response.json()["error"]["message"]

    response = alice.post(
        "threads.sync_custom_action", {"thread_id": thread.id, "item_id": widget_id, "action": {"type": "nope"}}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "No server handler is registered for the action 'nope'."

    after = (
        list(models.ThreadItem.objects.filter(thread_id=thread.id).values_list("item_id", "data")),
        models.Thread.objects.get(thread_id=thread.id).data,
    )
    assert after == before
