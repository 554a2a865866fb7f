"""AgentChatKitServer: agents answer over real HTTP, on the offline model and on a
local stub of the OpenAI Responses API."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from chatkit.types import (
    FileAttachment,
    ImageAttachment,
    InferenceOptions,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
)
from django.core.files.base import ContentFile
from django.test import override_settings

from django_chatkit import models
from django_chatkit.agents import AgentChatKitServer, ChatKitItemConverter, first_message_title
from django_chatkit.context import RequestContext
from django_chatkit.offline import OfflineModel
from django_chatkit.store import attachment_storage
from django_chatkit.widgets import WidgetDefinition, save_widget_definition, widget_source
from tests.agent_site import (
    AGENT_SETTINGS,
    BADGE_TEMPLATE,
    event_finder_agent,
    general_agent,
    register_note_source,
    serve_agents,
)
from tests.models import Note
from tests.responses_stub import ResponsesStub
from tests.support.daphne import daphne_server
from tests.support.http import LiveServer, parse_sse

pytestmark = pytest.mark.django_db(transaction=True)


# -- live servers ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def agent_site(django_db_setup, django_db_blocker) -> Iterator[LiveServer]:
    """daphne serving the test site with AgentChatKitServer on the offline model."""
    with daphne_server(django_db_blocker, serve_agents) as server:
        yield server


@pytest.fixture(scope="session")
def responses_stub() -> Iterator[ResponsesStub]:
    with ResponsesStub() as stub:
        yield stub


@pytest.fixture(scope="session")
def stub_site(django_db_setup, django_db_blocker, responses_stub) -> Iterator[LiveServer]:
    """daphne serving AgentChatKitServer on the real OpenAI client, aimed at the stub."""
    with daphne_server(
        django_db_blocker, functools.partial(serve_agents, openai_base_url=responses_stub.base_url)
    ) as server:
        yield server


@pytest.fixture
def alice(agent_site, user, transport):
    """Alice's ChatKit client, through the Channels consumer and through the async view."""
    return agent_site.client(user, transport=transport)


def user_input(text: str = "", *, tool: str | None = None, model: str | None = None, tags=()) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "input_text", "text": text}] if text else []
    content += list(tags)
    options: dict[str, Any] = {}
    if tool:
        options["tool_choice"] = {"id": tool}
    if model:
        options["model"] = model
    return {"content": content, "attachments": [], "inference_options": options}


def done_items(events: list[dict[str, Any]], item_type: str) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == item_type]


def answer(events: list[dict[str, Any]]) -> str:
    messages = done_items(events, "assistant_message")
    assert messages, f"no assistant message in {[e['type'] for e in events]}"
    return messages[-1]["content"][0]["text"]


def thread_items(client, thread_id: str) -> list[dict[str, Any]]:
    return client.call("items.list", {"thread_id": thread_id, "order": "asc", "limit": 100})["data"]


# -- over real HTTP, offline model ---------------------------------------------------------------


def test_streamed_answer_is_persisted_and_titles_the_thread(alice):
    events = alice.stream("threads.create", {"input": user_input("hello from the tests")})
    deltas = [
        e["update"]["delta"]
        for e in events
        if e["type"] == "thread.item.updated" and e["update"]["type"] == "assistant_message.content_part.text_delta"
    ]
    text = answer(events)
    assert text == 'General: You said: "hello from the tests".'
    assert len(deltas) > 3 and "".join(deltas) == text  # streamed token by token
    thread_id = events[0]["thread"]["id"]
    updated = [e for e in events if e["type"] == "thread.updated"]
    assert updated and updated[-1]["thread"]["title"] == "hello from the tests"

    thread = alice.call("threads.get_by_id", {"thread_id": thread_id})
    assert thread["title"] == "hello from the tests"
    stored = [(item["type"], item.get("content")) for item in thread["items"]["data"]]
    assert stored[0][0] == "user_message"
    assert stored[1] == ("assistant_message", [{"type": "output_text", "text": text, "annotations": []}])


def test_second_turn_sees_history_and_keeps_the_title(alice):
    events = alice.stream("threads.create", {"input": user_input("first")})
    thread_id = events[0]["thread"]["id"]
    events = alice.stream("threads.add_user_message", {"thread_id": thread_id, "input": user_input("second")})
    assert answer(events) == 'General: You said: "second".'
    assert not [e for e in events if e["type"] == "thread.updated"]
    assert alice.call("threads.get_by_id", {"thread_id": thread_id})["title"] == "first"
    assert [i["type"] for i in thread_items(alice, thread_id)] == ["user_message", "assistant_message"] * 2


def test_widget_tool_puts_a_widget_in_the_thread(alice):
    events = alice.stream("threads.create", {"input": user_input("/show_lines please")})
    widgets = done_items(events, "widget")
    assert len(widgets) == 1
    assert widgets[0]["widget"]["children"][0]["value"] == "Lines: red, blue"
    assert answer(events) == "General: Tool show_lines returned: The show_lines widget is now shown to the user."
    stored = thread_items(alice, events[0]["thread"]["id"])
    assert [i["type"] for i in stored] == ["user_message", "widget", "assistant_message"]
    assert stored[1]["widget"] == widgets[0]["widget"]
    assert stored[1]["copy_text"] == "the lines"


def test_tool_choice_picks_the_other_agent(alice):
    events = alice.stream("threads.create", {"input": user_input("concerts tonight", tool="event_finder")})
    assert answer(events) == 'Event Finder: You said: "concerts tonight".'
    thread_id = events[0]["thread"]["id"]
    events = alice.stream("threads.add_user_message", {"thread_id": thread_id, "input": user_input("and you?")})
    assert answer(events).startswith("General: ")
    # An unknown tool choice falls back to the default agent, as in the seed.
    events = alice.stream("threads.create", {"input": user_input("hi", tool="no_such_tool")})
    assert answer(events).startswith("General: ")


def test_mention_reaches_the_agent_input(alice, user):
    note = Note.objects.create(owner=user, title="Groceries", body="milk and eggs")
    tag = {
        "type": "input_tag",
        "id": f"note:{note.pk}",
        "text": "Groceries",
        "data": {"forged": "yes"},
        "interactive": True,
    }
    events = alice.stream("threads.create", {"input": user_input("what about ", tags=[tag])})
    text = answer(events)
    assert f'You mentioned: @-mention: Notes "Groceries" (id note:{note.pk})' in text
    assert not [e for e in events if e["type"] == "notice"]


def test_entity_search_over_http_is_scoped_per_user(alice, agent_site, user, other_user):
    Note.objects.create(owner=user, title="Groceries", body="milk")
    Note.objects.create(owner=other_user, title="Grocery secrets", body="bob's")
    found = alice.http.get("/api/search", params={"q": "groc"})
    assert found.status_code == 200
    assert [(e["id"].split(":")[0], e["title"], e["group"]) for e in found.json()] == [("note", "Groceries", "Notes")]
    bob = agent_site.client(other_user)
    assert [e["title"] for e in bob.http.get("/api/search", params={"q": "groc"}).json()] == ["Grocery secrets"]


def test_mention_of_a_foreign_row_is_refused_with_a_notice(alice, other_user):
    secret = Note.objects.create(owner=other_user, title="Bob's diary", body="very private words")
    tag = {"type": "input_tag", "id": f"note:{secret.pk}", "text": "Bob's diary", "data": {}, "interactive": True}
    events = alice.stream("threads.create", {"input": user_input("read ", tags=[tag])})
    notices = [e for e in events if e["type"] == "notice"]
    assert len(notices) == 1 and notices[0]["level"] == "warning"
    assert "Bob's diary" in notices[0]["message"]
    text = answer(events)
    assert "was removed" in text
    assert "very private words" not in json.dumps(events)
    assert f"note:{secret.pk})" not in text


def test_uploaded_attachments_reach_the_agent(alice):
    from urllib.parse import urlparse

    ids = []
    for name, mime, body in [("notes.txt", "text/plain", b"remember the milk"), ("dot.png", "image/png", b"\x89PNG")]:
        created = alice.call("attachments.create", {"name": name, "size": len(body), "mime_type": mime})
        upload = urlparse(created["upload_descriptor"]["url"]).path
        assert alice.http.post(upload, files={"file": (name, body, mime)}).status_code == 200
        ids.append(created["id"])
    events = alice.stream("threads.create", {"input": {**user_input("look"), "attachments": ids}})
    assert answer(events) == (
        'General: You said: "look". I received 2 attachment(s): Attached file notes.txt; an image.'
    )


def upload(client, name: str, mime: str, body: bytes) -> str:
    from urllib.parse import urlparse

    created = client.call("attachments.create", {"name": name, "size": len(body), "mime_type": mime})
    response = client.http.post(urlparse(created["upload_descriptor"]["url"]).path, files={"file": (name, body, mime)})
    assert response.status_code == 200, response.text
    return created["id"]


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def test_one_attachment_repeated_120_times_is_refused_without_memory_growth(alice, agent_site):
    size = 2 * 1024 * 1024
    attachment_id = upload(alice, "big.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * (size - 8))
    before = rss_bytes(agent_site.pid)

    response = alice.post("threads.create", {"input": {**user_input("look"), "attachments": [attachment_id] * 120}})

    assert response.status_code == 400
    assert "input.attachments" in response.json()["error"]["message"]
    assert rss_bytes(agent_site.pid) - before < 2 * size
    assert alice.call("threads.list", {"limit": 10})["data"] == []
    # The same file, named once, is answered.
    events = alice.stream("threads.create", {"input": {**user_input("look"), "attachments": [attachment_id]}})
    assert answer(events).endswith("I received 1 attachment(s): an image.")


def test_too_many_attachments_in_one_message_are_refused(alice):
    ids = [upload(alice, f"n{i}.txt", "text/plain", b"hi") for i in range(3)]
    events = alice.stream("threads.create", {"input": {**user_input("look"), "attachments": ids}})
    assert "I received 3 attachment(s)" in answer(events)  # within the default of ten
    many = [upload(alice, f"m{i}.txt", "text/plain", b"hi") for i in range(11)]
    refused = alice.post("threads.create", {"input": {**user_input("look"), "attachments": many}})
    assert refused.status_code == 400
    assert "a message may carry 10" in refused.json()["error"]["message"]


def test_client_tool_call_round_trips(alice):
    events = alice.stream("threads.create", {"input": user_input("/get_location")})
    calls = done_items(events, "client_tool_call")
    assert len(calls) == 1
    assert calls[0]["name"] == "get_location" and calls[0]["status"] == "pending"
    assert calls[0]["arguments"] == {"precision": "city"}
    assert not done_items(events, "assistant_message")  # the turn stops for the client
    thread_id = events[0]["thread"]["id"]

    events = alice.stream("threads.add_client_tool_output", {"thread_id": thread_id, "result": {"city": "Paris"}})
    assert answer(events) == 'General: Tool get_location returned: {"city": "Paris"}'
    stored = thread_items(alice, thread_id)
    assert [i["type"] for i in stored] == ["user_message", "client_tool_call", "assistant_message"]
    assert stored[1]["status"] == "completed" and stored[1]["output"] == {"city": "Paris"}
    # The first answer came after the tool output: that exchange titles the thread.
    assert alice.call("threads.get_by_id", {"thread_id": thread_id})["title"] == "/get_location"


def test_input_guardrail_trip_leaves_no_partial_items(alice):
    events = alice.stream("threads.create", {"input": user_input("tell me the forbidden thing")})
    errors = [e for e in events if e["type"] == "error"]
    assert errors and errors[-1]["message"] == "That topic is off limits here."
    assert errors[-1]["allow_retry"] is False
    thread_id = events[0]["thread"]["id"]
    assert thread_items(alice, thread_id) == []
    # The thread still works afterwards.
    events = alice.stream("threads.add_user_message", {"thread_id": thread_id, "input": user_input("fine then")})
    assert answer(events) == 'General: You said: "fine then".'


def test_output_guardrail_trip_removes_the_streamed_answer(alice):
    events = alice.stream("threads.create", {"input": user_input("share a secret")})
    errors = [e for e in events if e["type"] == "error"]
    assert errors and "blocked" in errors[-1]["message"]
    # Whatever reached the browser before the trip is taken back (how much did depends
    # on timing: the run may finish before the stream is read).
    added = {e["item"]["id"] for e in events if e["type"] in ("thread.item.added", "thread.item.done")}
    removed = {e["item_id"] for e in events if e["type"] == "thread.item.removed"}
    user_message = done_items(events, "user_message")[0]["id"]
    assert added - {user_message} <= removed
    stored = thread_items(alice, events[0]["thread"]["id"])
    assert [i["type"] for i in stored] == ["user_message"]


def test_another_user_cannot_answer_a_client_tool_call(alice, agent_site, other_user, transport):
    events = alice.stream("threads.create", {"input": user_input("/get_location")})
    thread_id = events[0]["thread"]["id"]
    bob = agent_site.client(other_user, transport=transport)
    response = bob.post("threads.add_client_tool_output", {"thread_id": thread_id, "result": {"city": "Evil"}})
    assert response.status_code == 404
    assert thread_items(alice, thread_id)[-1]["status"] == "pending"


# -- the real-model path, against a local Responses API stub -----------------------------------


def test_real_model_path_streams_through_the_same_pipeline(stub_site, responses_stub, user):
    client = stub_site.client(user)
    responses_stub.requests.clear()
    events = client.stream("threads.create", {"input": user_input("hi there real model")})
    text = answer(events)
    default_model = responses_stub.requests[-1]["model"]
    assert text == f"Stub {default_model} heard: hi there real model"
    deltas = [e for e in events if e["type"] == "thread.item.updated"]
    assert len(deltas) >= 5
    request = responses_stub.requests[-1]
    assert request["stream"] is True
    assert request["instructions"] == "You are a helpful assistant."
    assert {tool["name"] for tool in request["tools"]} == {"show_lines", "show_badge", "stream_count", "get_location"}
    stored = thread_items(client, events[0]["thread"]["id"])
    assert stored[-1]["type"] == "assistant_message" and stored[-1]["content"][0]["text"] == text

    # The composer's tool choice and an allowed model override reach the API; others do not.
    events = client.stream("threads.create", {"input": user_input("x", tool="event_finder", model="gpt-allowed")})
    assert responses_stub.requests[-1]["model"] == "gpt-allowed"
    assert responses_stub.requests[-1]["instructions"] == "You find events."
    assert answer(events) == "Stub gpt-allowed heard: x"
    client.stream("threads.create", {"input": user_input("y", model="gpt-not-allowed")})
    assert responses_stub.requests[-1]["model"] == default_model


def test_a_failing_model_call_ends_the_turn_with_a_clear_error(stub_site, user):
    client = stub_site.client(user)
    events = client.stream("threads.create", {"input": user_input("please [http 401]")})
    error = [e for e in events if e["type"] == "error"][-1]
    assert error["message"] == "The AI model could not answer (AuthenticationError). Please try again."
    assert error["allow_retry"] is True
    assert [i["type"] for i in thread_items(client, events[0]["thread"]["id"])] == ["user_message"]


# -- in-process: template widgets, routing, configuration, converter ---------------------------------------------


def ctx_for(user) -> RequestContext:
    return RequestContext(user_id=f"user:{user.pk}", user=user)


async def run_turn(user, text: str, **options) -> list[dict[str, Any]]:
    server = AgentChatKitServer()
    body = json.dumps({"type": "threads.create", "params": {"input": user_input(text, **options)}})
    return parse_sse(b"".join([chunk async for chunk in await server.process(body, ctx_for(user))]))


@override_settings(CHATKIT=AGENT_SETTINGS)
async def test_widget_tool_renders_an_admin_template_and_remembers_its_source(user):
    await sync_to_async(save_widget_definition)(WidgetDefinition(**BADGE_TEMPLATE))
    events = await run_turn(user, '/show_badge {"label": "Blue Line"}')
    widget = done_items(events, "widget")[0]
    assert widget["widget"] == {"type": "Card", "children": [{"type": "Badge", "label": "Blue Line"}]}
    server = AgentChatKitServer()
    thread = await server.store.load_thread(events[0]["thread"]["id"], ctx_for(user))
    source = widget_source(thread, widget["id"])
    assert source.template == "test_badge" and source.data == {"label": "Blue Line"} and source.version == 1


@override_settings(CHATKIT=AGENT_SETTINGS)
async def test_widget_tool_streams_a_widget_from_an_async_generator(user):
    events = await run_turn(user, "/stream_count")
    added = [e for e in events if e["type"] == "thread.item.added" and e["item"]["type"] == "widget"]
    assert added and added[0]["item"]["widget"]["children"][0]["value"] == "one "
    deltas = [
        e["update"]["delta"]
        for e in events
        if e["type"] == "thread.item.updated" and e["update"]["type"] == "widget.streaming_text.value_delta"
    ]
    assert deltas == ["two ", "three"]
    (final,) = done_items(events, "widget")
    assert final["widget"]["children"][0]["value"] == "one two three"
    stored = await AgentChatKitServer().store.load_item(events[0]["thread"]["id"], final["id"], ctx_for(user))
    assert stored.widget.children[0].value == "one two three"


@pytest.mark.parametrize("raw", ["not json", "[1, 2]"])
async def test_tools_refuse_arguments_that_are_not_an_object(raw):
    from agents.tool_context import ToolContext
    from chatkit.agents import AgentContext

    from tests.agent_site import get_location, show_badge

    thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
    agent_context = AgentContext(thread=thread, store=AgentChatKitServer().store, request_context=None)
    for tool in (show_badge, get_location):
        wrapper = ToolContext(agent_context, tool_name=tool.name, tool_call_id="call_1", tool_arguments=raw)
        result = await tool.on_invoke_tool(wrapper, raw)
        assert result == f"The arguments of {tool.name} must be a JSON object."
    assert agent_context.client_tool_call is None


@override_settings(CHATKIT=AGENT_SETTINGS)
async def test_widget_tool_tells_the_model_when_the_data_is_refused(user):
    await sync_to_async(save_widget_definition)(WidgetDefinition(**BADGE_TEMPLATE))
    events = await run_turn(user, '/show_badge {"label": 5}')
    assert not done_items(events, "widget")
    text = answer(events)
    assert text.startswith("General: Tool show_badge returned: The widget could not be shown")
    assert "test_badge" in text
    assert not [e for e in events if e["type"] == "error"]


def message(*content, tool: str | None = None, attachments=()) -> UserMessageItem:
    return UserMessageItem(
        id="msg_1",
        thread_id="thr_1",
        created_at=datetime.now(),
        content=list(content),
        attachments=list(attachments),
        inference_options=InferenceOptions(tool_choice={"id": tool} if tool else None),
    )


@override_settings(CHATKIT=AGENT_SETTINGS)
def test_routing_uses_context_metadata_then_the_message(user):
    server = AgentChatKitServer()
    ctx = ctx_for(user)
    assert server.get_agent(server.get_tool_choice(None, ctx, []), ctx) is general_agent
    ctx.metadata["tool_choice"] = "event_finder"
    assert server.get_agent(server.get_tool_choice(None, ctx, []), ctx) is event_finder_agent
    # After a client tool output there is no new message: the last user message decides.
    history = [message(UserMessageTextContent(text="x"), tool="event_finder")]
    assert server.get_tool_choice(None, ctx_for(user), history) == "event_finder"


@override_settings(CHATKIT={**AGENT_SETTINGS, "AGENTS": {"personal": "tests.agent_site.agent_for"}})
async def test_an_agent_factory_gets_the_request_context(user):
    events = await run_turn(user, "hi")
    assert answer(events) == 'Helper of alice: You said: "hi".'


@override_settings(CHATKIT={**AGENT_SETTINGS, "DEFAULT_AGENT": "event_finder"})
def test_default_agent_setting(user):
    server = AgentChatKitServer()
    assert server.get_agent(None, ctx_for(user)) is event_finder_agent


@pytest.mark.parametrize(
    "target, problem",
    [
        ("tests.agent_site.make_nothing", "cannot be imported"),
        ("tests.agent_site.AGENT_SETTINGS", "not an agents.Agent"),
    ],
)
async def test_misconfigured_agents_give_a_clear_error_event(user, target, problem):
    with override_settings(CHATKIT={**AGENT_SETTINGS, "AGENTS": {"general": target}}):
        events = await run_turn(user, "hi")
    error = [e for e in events if e["type"] == "error"][0]
    assert "CHATKIT['AGENTS']" in error["message"] and problem in error["message"]
    assert error["allow_retry"] is False


@override_settings(
    CHATKIT={**AGENT_SETTINGS, "AGENTS": {"general": "tests.agent_site.general_agent"}, "DEFAULT_AGENT": "x"}
)
async def test_missing_default_agent_names_the_setting(user):
    events = await run_turn(user, "hi")
    error = [e for e in events if e["type"] == "error"][0]
    assert "DEFAULT_AGENT" in error["message"]


def test_model_choice_follows_backend_and_allow_list(user, monkeypatch):
    server = AgentChatKitServer()
    ctx = ctx_for(user)
    with override_settings(CHATKIT=AGENT_SETTINGS):
        model = server.get_model(general_agent, "gpt-allowed", ctx)
        assert isinstance(model, OfflineModel) and model.label == "General"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with override_settings(CHATKIT={**AGENT_SETTINGS, "AGENT_BACKEND": "auto"}):
        assert isinstance(server.get_model(general_agent, None, ctx), OfflineModel)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with override_settings(CHATKIT={**AGENT_SETTINGS, "AGENT_BACKEND": "auto"}):
        assert server.get_model(general_agent, None, ctx) is None  # the agent's own model
        assert server.get_model(general_agent, "gpt-allowed", ctx) == "gpt-allowed"
        assert server.get_model(general_agent, "gpt-4-expensive", ctx) is None


@override_settings(CHATKIT={**AGENT_SETTINGS, "THREAD_TITLE": None})
async def test_titles_can_be_turned_off(user):
    events = await run_turn(user, "no title please")
    assert not [e for e in events if e["type"] == "thread.updated"]
    thread = await models.Thread.objects.aget(thread_id=events[0]["thread"]["id"])
    assert not thread.title


def test_first_message_title_is_cut_at_a_word():
    thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
    assert first_message_title(thread, "  short   one ", "") == "short one"
    long = "word " * 30
    title = first_message_title(thread, long, "")
    assert title.endswith("…") and len(title) <= 61 and "wor…" not in title


async def test_converter_resolves_tags_with_the_users_visibility(user, other_user):
    register_note_source()
    mine = await Note.objects.acreate(owner=user, title="Mine", body="my body")
    theirs = await Note.objects.acreate(owner=other_user, title="Theirs", body="their body")
    converter = ChatKitItemConverter(ctx_for(user), owner=f"user:{user.pk}")
    item = message(
        UserMessageTextContent(text="see "),
        UserMessageTagContent(id=f"note:{mine.pk}", text="Mine", data={}),
        UserMessageTagContent(id=f"note:{theirs.pk}", text="Theirs", data={"body": "their body"}),
    )
    agent_input = await converter.to_agent_input([item])
    context_texts = [part["text"] for part in agent_input[1]["content"]]
    assert any("my body" in text for text in context_texts)
    assert not any("their body" in text for text in context_texts)
    assert [tag.text for tag in converter.dropped["msg_1"]] == ["Theirs"]


async def test_converter_passes_raw_mention_ids_through(user):
    converter = ChatKitItemConverter(ctx_for(user), owner=f"user:{user.pk}")
    item = message(
        UserMessageTextContent(text="see "),
        UserMessageTagContent(id="room-12", text="Room twelve", data={"secret": "from the client"}),
        UserMessageTagContent(id="nosource:3", text="Elsewhere", data={}),
    )
    agent_input = await converter.to_agent_input([item])
    context_texts = [part["text"] for part in agent_input[1]["content"]]
    assert '@-mention: "Room twelve" (id room-12)' in context_texts
    assert '@-mention: "Elsewhere" (id nosource:3)' in context_texts
    assert not any("from the client" in text for text in context_texts)
    assert converter.dropped == {}


@override_settings(
    CHATKIT={
        "SERVER_CLASS": "tests.agent_site.FrontDeskAgentServer",
        "AGENT_BACKEND": "offline",
        "OFFLINE_REPLY_DELAY": 0,
    }
)
async def test_a_subclass_brings_its_own_agent_context_and_converter(user):
    from tests.agent_site import FrontDeskAgentServer

    server = FrontDeskAgentServer()
    ctx = ctx_for(user)
    body = json.dumps({"type": "threads.create", "params": {"input": user_input("/desk_hours")}})
    events = parse_sse(b"".join([chunk async for chunk in await server.process(body, ctx)]))
    assert answer(events) == "Front Desk: Tool desk_hours returned: The south desk opens at 9."
    tag = {"type": "input_tag", "id": "room-12", "text": "Room twelve", "data": {}, "interactive": False}
    body = json.dumps({"type": "threads.create", "params": {"input": user_input("hi", tags=[tag])}})
    events = parse_sse(b"".join([chunk async for chunk in await server.process(body, ctx)]))
    assert "You mentioned: Room room-12 (Room twelve)." in answer(events)
    assert not [e for e in events if e["type"] == "notice"]


def test_no_e030_for_a_subclass_that_picks_its_agents():
    from django_chatkit.checks import check_agents

    with override_settings(CHATKIT={"SERVER_CLASS": "tests.agent_site.FrontDeskAgentServer", "AGENTS": {}}):
        assert "django_chatkit.E030" not in {message.id for message in check_agents()}


async def test_converter_reads_attachments_from_storage(user):
    owner = f"user:{user.pk}"
    storage = attachment_storage()
    text_name = storage.save("chatkit/tests/notes.txt", ContentFile(b"remember the milk"))
    image_name = storage.save("chatkit/tests/dot.png", ContentFile(b"\x89PNG fake"))
    for attachment_id, name, mime, path in [
        ("atc_text", "notes.txt", "text/plain", text_name),
        ("atc_img", "dot.png", "image/png", image_name),
        ("atc_pdf", "a.pdf", "application/pdf", ""),
    ]:
        await models.Attachment.objects.acreate(
            attachment_id=attachment_id, owner=owner, name=name, mime_type=mime, file=path, data={}
        )
    converter = ChatKitItemConverter(ctx_for(user), owner=owner)
    text = await converter.attachment_to_message_content(
        FileAttachment(id="atc_text", name="notes.txt", mime_type="text/plain")
    )
    assert text == {"type": "input_text", "text": "Attached file notes.txt:\nremember the milk"}
    image = await converter.attachment_to_message_content(
        ImageAttachment(id="atc_img", name="dot.png", mime_type="image/png", preview_url="http://x/p")
    )
    assert image["type"] == "input_image" and image["image_url"].startswith("data:image/png;base64,")
    missing = await converter.attachment_to_message_content(
        FileAttachment(id="atc_pdf", name="a.pdf", mime_type="application/pdf")
    )
    assert missing["type"] == "input_text" and "no longer available" in missing["text"]
    # Another owner's converter cannot read the file, even knowing its id.
    stranger = ChatKitItemConverter(RequestContext(user_id="user:someone-else"), owner="user:someone-else")
    other = await stranger.attachment_to_message_content(
        FileAttachment(id="atc_text", name="notes.txt", mime_type="text/plain")
    )
    assert "remember the milk" not in json.dumps(other)


# -- the example project ---------------------------------------------------------------------

EXAMPLE_SCRIPT = r"""
import asyncio, json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from django_chatkit.adopt import get_chatkit_server
from django_chatkit.context import RequestContext
from django_chatkit.widgets import WidgetDefinition, save_widget_definition
from django.conf import settings
from example_project.demo.agents import TOOL_CHOICES
from example_project.demo.models import Article

save_widget_definition(WidgetDefinition.from_file("example_project/demo/widgets/line_selector.widget"))
user = get_user_model().objects.create_user("demo")
article = Article.objects.get(title="Ridership report")

context = RequestContext(user_id=f"user:{user.pk}", user=user)

def process(body):
    async def run():
        result = await get_chatkit_server().process(json.dumps(body), context)
        return b"".join([chunk async for chunk in result])
    return [json.loads(block[6:]) for block in asyncio.run(run()).split(b"\n\n") if block.startswith(b"data: ")]

def turn(text, tool=None, tags=()):
    content = [{"type": "input_text", "text": text}, *tags]
    options = {"tool_choice": {"id": tool}} if tool else {}
    body = {"type": "threads.create", "params": {"input": {"content": content, "attachments": [], "inference_options": options}}}
    context.metadata = {"tool_choice": tool} if tool else {}
    events = process(body)
    items = [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] != "user_message"]
    return events[0]["thread"]["id"], items

tag = {"type": "input_tag", "id": f"article:{article.pk}", "text": article.title, "data": {}}
thread_id, lines = turn("show me the lines")
# The user clicks a line: the seed's server action re-renders the widget the agent showed.
clicked = process({"type": "threads.custom_action", "params": {
    "thread_id": thread_id, "item_id": lines[0]["id"],
    "action": {"type": "line.select", "payload": {"id": "red-line"}},
}})
print(json.dumps({
    "server": type(get_chatkit_server()).__name__,
    "tools": [tool["id"] for tool in TOOL_CHOICES],
    "agents": list(settings.CHATKIT["AGENTS"]),
    "lines": lines,
    "clicked": [e for e in clicked if e["type"] in ("thread.item.replaced", "thread.item.done", "client_effect", "error")],
    "events": turn("find events", tool="event_finder")[1],
    "mention": turn("summarise ", tags=[tag])[1],
}))
"""


def test_example_project_runs_its_agents_offline_without_an_api_key(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'example.sqlite3'}",
        CHATKIT_OFFLINE_REPLY_DELAY="0",
    )
    done = subprocess.run(
        [sys.executable, "-c", EXAMPLE_SCRIPT], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["server"] == "AgentChatKitServer"
    assert result["tools"] == result["agents"] == ["general", "event_finder"]  # Chat, Find Events
    # "lines" triggers the line selector widget tool (an admin-managed template).
    widget, reply = result["lines"]
    assert widget["type"] == "widget" and widget["widget"]["type"] == "ListView"
    assert [i["key"] for i in widget["widget"]["children"]] == ["blue-line", "red-line", "green-line"]
    assert reply["content"][0]["text"].startswith("Assistant: Tool show_line_selector returned")
    # Clicking a line runs the seed's line.select action on the widget the agent showed:
    # re-rendered from its template with the selection, a confirmation, a client effect.
    replaced, confirmation, effect = result["clicked"]
    assert replaced["type"] == "thread.item.replaced" and replaced["item"]["id"] == widget["id"]
    red = replaced["item"]["widget"]["children"][1]
    assert red["key"] == "red-line"
    assert red["children"][0]["children"][0]["name"] == "check-circle-filled"
    assert confirmation["item"]["content"][0]["text"] == "Selected red-line"
    assert effect == {"type": "client_effect", "name": "selection_changed", "data": {"lineId": "red-line"}}
    # The Find Events composer tool routes to the other agent and its tool.
    (events_reply,) = result["events"]
    assert events_reply["content"][0]["text"].startswith("Event Finder: Tool find_events returned: Blue Line")
    # An @-mentioned article reaches the agent.
    (mention_reply,) = result["mention"]
    assert '@-mention: Articles "Ridership report"' in mention_reply["content"][0]["text"]


# -- system checks -----------------------------------------------------------------------------


def agent_check_ids(**chatkit) -> set[str]:
    from django_chatkit.checks import check_agents

    with override_settings(CHATKIT={"SERVER_CLASS": "django_chatkit.agents.AgentChatKitServer", **chatkit}):
        return {message.id for message in check_agents()}


@pytest.mark.parametrize(
    "chatkit, expected",
    [
        ({"AGENTS": {}}, "django_chatkit.E030"),
        ({"AGENTS": ["tests.agent_site.general_agent"]}, "django_chatkit.E030"),
        ({"AGENTS": {"general": "tests.agent_site.nowhere"}}, "django_chatkit.E031"),
        ({"AGENTS": {"general": "tests.agent_site.AGENT_SETTINGS"}}, "django_chatkit.E031"),
        ({"AGENTS": AGENT_SETTINGS["AGENTS"], "DEFAULT_AGENT": "chat"}, "django_chatkit.E032"),
        ({"AGENTS": AGENT_SETTINGS["AGENTS"], "AGENT_BACKEND": "cloud"}, "django_chatkit.E033"),
        ({"AGENTS": AGENT_SETTINGS["AGENTS"], "THREAD_TITLE": "nowhere.title"}, "django_chatkit.E034"),
    ],
)
def test_agent_checks_fire_on_a_crafted_mistake(chatkit, expected):
    assert expected in agent_check_ids(**chatkit)


def test_agent_checks_are_silent_on_a_good_configuration(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert agent_check_ids(**AGENT_SETTINGS) == set()
    assert agent_check_ids(**{**AGENT_SETTINGS, "AGENT_BACKEND": "openai"}) == {"django_chatkit.W030"}
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert agent_check_ids(**{**AGENT_SETTINGS, "AGENT_BACKEND": "openai"}) == set()


def test_manage_py_check_names_the_agents_setting():
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    bad = {**AGENT_SETTINGS, "AGENTS": {"general": "tests.agent_site.nowhere"}}
    with override_settings(CHATKIT=bad), pytest.raises(SystemCheckError, match=r"CHATKIT\['AGENTS'\]\['general'\]"):
        call_command("check")
