"""The built-in chat client (static/django_chatkit/chat.js) in a real Chromium against the
live daphne server: streaming, reload, stop, @-mentions, composer tools, widget actions,
thread management, feedback and markdown safety."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from django_chatkit import models
from django_chatkit.journal import STOPPED_NOTE
from tests.support.users import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHAT = "/browser/chat/"


@pytest.fixture
def amy():
    return make_user("browser-amy")


def assistant_texts(page) -> list[str]:
    return page.locator(".ck-assistant-message .ck-assistant-text").all_inner_texts()


def send(page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def test_typed_message_streams_an_answer_that_survives_a_reload(open_page, expect, amy):
    page = open_page(CHAT, amy)
    # Count how often the answer's node is (re)rendered: once per applied event.
    page.evaluate("""() => {
      window.renders = 0;
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes)
          if (n.classList && n.classList.contains("ck-assistant-message")) window.renders++;
      }).observe(document.querySelector(".ck-messages"), { childList: true });
    }""")
    send(page, "hello from the browser")
    answer = page.locator(".ck-assistant-message").last
    expect(answer).to_contain_text("You said: hello from the browser")
    expect(page.locator(".ck-user-message")).to_have_text("hello from the browser")
    # added + one text delta per word + done: the answer was built up as it streamed.
    assert page.evaluate("window.renders") >= 7
    # The request carried Django's CSRF token (the endpoint rejects it otherwise) and
    # the thread now shows up in the sidebar.
    expect(page.locator(".ck-thread")).to_have_count(1)

    page.reload()
    expect(page.locator(".ck-user-message")).to_have_text("hello from the browser")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("You said: hello from the browser")
    assert page.js_errors == []
    assert models.Thread.objects.filter(owner=f"user:{amy.pk}").count() == 1


def seed_widget_thread(user, thread_id: str = "thr_browser1", item_id: str = "wid_browser1") -> tuple[str, str]:
    """A thread holding one widget with a client, a sync and a streaming server action."""
    from datetime import datetime

    from asgiref.sync import async_to_sync
    from chatkit.types import ThreadMetadata, WidgetItem
    from chatkit.widgets import Button, Card, Row, Text

    from django_chatkit.context import RequestContext
    from django_chatkit.store import DjangoStore

    store = DjangoStore()
    context = RequestContext(user_id=f"user:{user.pk}", user=user)
    thread = ThreadMetadata(id=thread_id, title="Widgets", created_at=datetime.now())
    card = Card(
        children=[
            Text(id="label", value="Pick a line"),
            Row(
                gap=2,
                children=[
                    Button(
                        label="Open",
                        onClickAction={"type": "browser.open", "handler": "client", "payload": {"id": "article-123"}},
                    ),
                    Button(
                        label="Rename",
                        onClickAction={
                            "type": "test.pick",
                            "streaming": False,
                            "loadingBehavior": "container",
                            "payload": {"label": "renamed in place"},
                        },
                    ),
                    Button(label="Replace", onClickAction={"type": "browser.replace", "payload": {"label": "blue"}}),
                ],
            ),
        ]
    )
    item = WidgetItem(id=item_id, thread_id=thread.id, created_at=datetime.now(), widget=card)

    async def seed():
        await store.save_thread(thread, context)
        await store.add_thread_item(thread.id, item, context)

    async_to_sync(seed)()
    return thread.id, item.id


def stored_widget_text(item_id: str) -> str:
    data = models.ThreadItem.objects.get(item_id=item_id).data
    return data["widget"]["children"][0]["value"]


def test_widget_actions_client_sync_and_server(open_page, expect, amy):
    thread_id, item_id = seed_widget_thread(amy)
    page = open_page(CHAT, amy)
    page.locator(".ck-thread-open", has_text="Widgets").click()
    widget = page.locator(f'[data-item-id="{item_id}"]')
    expect(widget).to_contain_text("Pick a line")

    # handler "client": the page's onAction gets the action and the widget item; nothing is posted.
    ops = []
    page.on("request", lambda r: ops.append(json.loads(r.post_data)["type"]) if r.method == "POST" else None)
    widget.get_by_role("button", name="Open").click()
    page.wait_for_function("window.seen.actions.length === 1")
    assert page.evaluate("window.seen.actions") == [
        {"action": {"type": "browser.open", "payload": {"id": "article-123"}}, "itemId": item_id}
    ]
    assert ops == []

    # streaming: false -> threads.sync_custom_action; the same item updates in place.
    widget.get_by_role("button", name="Rename").click()
    expect(widget).to_contain_text("renamed in place")
    expect(page.locator(".ck-item")).to_have_count(1)
    assert ops == ["threads.sync_custom_action"]
    assert stored_widget_text(item_id) == "renamed in place"

    # handler "server" (the default) -> threads.custom_action, whose answer streams in.
    widget.get_by_role("button", name="Pick").click()  # the renamed card's server button (ScriptedServer)
    expect(page.locator(".ck-assistant-message").last).to_contain_text("Action test.pick")
    assert ops[1] == "threads.custom_action"
    page.reload()
    page.locator(".ck-thread-open", has_text="Widgets").click()
    expect(widget).to_contain_text("renamed in place")
    assert page.js_errors == []


def test_server_action_replaces_the_widget_and_runs_client_effect(open_page, expect, amy):
    thread_id, item_id = seed_widget_thread(amy)
    page = open_page(CHAT, amy)
    page.locator(".ck-thread-open", has_text="Widgets").click()
    widget = page.locator(f'[data-item-id="{item_id}"]')
    replace = widget.get_by_role("button", name="Replace")
    replace.click()
    expect(widget).to_contain_text("Replaced with blue")
    expect(widget.get_by_role("button")).to_have_count(0)
    page.wait_for_function("window.seen.effects.length === 1")
    assert page.evaluate("window.seen.effects") == [{"name": "replaced", "data": {"label": "blue"}}]
    assert stored_widget_text(item_id) == "Replaced with blue"


def test_stop_button_ends_the_stream_and_the_partial_answer_persists(open_page, expect, amy):
    page = open_page(CHAT, amy)
    send(page, "slow please")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    answer = page.locator(".ck-assistant-message").last
    expect(answer).to_contain_text("w5")
    stop.click()
    expect(stop).to_be_hidden()
    expect(page.get_by_role("button", name="Send message")).to_be_visible()
    # The screen settles on the answer as the server kept it, with the stop notice.
    expect(answer.locator(".ck-interrupted")).to_have_text("Response stopped.")
    before = answer.locator(".ck-assistant-text").inner_text()
    assert before.startswith("w0 w1") and "finished" not in before

    # Stored: exactly the produced words, each once, and one marker after them.
    [row] = models.ThreadItem.objects.filter(owner=f"user:{amy.pk}", type="assistant_message")
    parts = [part["text"] for part in row.data["content"]]
    assert parts[-1] == STOPPED_NOTE and STOPPED_NOTE not in parts[:-1]
    words = " ".join(parts[:-1]).split()
    assert words == [f"w{n}" for n in range(len(words))]  # in order, none doubled

    page.reload()
    after = page.locator(".ck-assistant-message").last
    expect(after.locator(".ck-interrupted")).to_have_text("Response stopped.")
    assert after.locator(".ck-assistant-text").inner_text() == before  # the same text on screen
    Path("artifacts").mkdir(exist_ok=True)
    page.screenshot(path="artifacts/chat-stopped-after-reload.png")


def test_mention_is_searched_and_sent_as_a_tag(open_page, expect, amy):
    page = open_page(CHAT, amy)
    searches = []
    page.on("request", lambda r: searches.append(r.url) if "/api/search" in r.url else None)
    box = page.get_by_role("textbox", name="Message")
    box.press_sequentially("Tell me about @Ada")
    option = page.get_by_role("option", name="Ada Lovelace")
    expect(option).to_be_visible()
    assert any("q=Ada" in url for url in searches)
    box.press("Enter")  # picks the highlighted suggestion
    # The tag takes the typed "@Ada" 's place, inline in the text.
    expect(box.locator(".ck-tag")).to_have_text("Ada Lovelace")
    assert box.text_content().replace("\u00a0", " ").strip() == "Tell me about Ada Lovelace"
    box.press("Enter")
    sent = page.locator(".ck-user-message .ck-tag")
    expect(sent).to_have_text("Ada Lovelace")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("@Ada Lovelace")

    row = models.ThreadItem.objects.get(owner=f"user:{amy.pk}", type="user_message")
    tags = [part for part in row.data["content"] if part["type"] == "input_tag"]
    assert tags == [
        {
            "type": "input_tag",
            "id": "catalog:ada",
            "text": "Ada Lovelace",
            "data": {"type": "person"},
            "group": "Catalog",
            "interactive": True,
        }
    ]
    # Clicking an interactive tag reaches the page's entities.onClick.
    sent.click()
    page.wait_for_function("window.seen.entityClicks.length === 1")
    assert page.evaluate("window.seen.entityClicks[0].id") == "catalog:ada"


def test_composer_tool_choice_is_sent_with_the_message(open_page, expect, amy):
    page = open_page(CHAT, amy)
    box = page.get_by_role("textbox", name="Message")
    tool = page.get_by_role("button", name="Find Events")
    tool.click()
    expect(tool).to_have_attribute("aria-pressed", "true")
    expect(box).to_have_attribute("aria-placeholder", "What events are you looking for?")
    send(page, "concerts tonight")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("You said: concerts tonight")
    row = models.ThreadItem.objects.get(owner=f"user:{amy.pk}", type="user_message")
    assert row.data["inference_options"]["tool_choice"] == {"id": "event_finder"}


def test_thread_list_new_rename_delete_and_feedback(open_page, expect, amy):
    page = open_page(CHAT, amy)
    send(page, "first thread")
    expect(page.locator(".ck-assistant-message")).to_contain_text("You said: first thread")
    threads = page.locator(".ck-thread")
    expect(threads).to_have_count(1)

    # Feedback on the answer is stored.
    page.get_by_role("button", name="Good response").click()
    expect(page.get_by_role("button", name="Good response")).to_have_attribute("aria-pressed", "true")
    assert list(models.Feedback.objects.values_list("kind", flat=True)) == ["positive"]

    page.get_by_role("button", name="New chat", exact=True).click()
    expect(page.locator(".ck-item")).to_have_count(0)
    send(page, "second thread")
    expect(page.locator(".ck-assistant-message")).to_contain_text("You said: second thread")
    expect(threads).to_have_count(2)

    # Rename inline.
    first_id = models.Thread.objects.filter(owner=f"user:{amy.pk}").order_by("created_at_us").first().thread_id
    first = page.locator(f'.ck-thread[data-thread-id="{first_id}"]')
    first.locator(".ck-thread-rename").click()
    title = page.get_by_role("textbox", name="Thread title")
    title.fill("Renamed thread")
    title.press("Enter")
    expect(page.locator(".ck-thread-open", has_text="Renamed thread")).to_have_count(1)
    assert models.Thread.objects.filter(owner=f"user:{amy.pk}", title="Renamed thread").count() == 1

    # Delete it.
    page.locator(".ck-thread", has_text="Renamed thread").locator(".ck-thread-delete").click()
    expect(threads).to_have_count(1)
    assert models.Thread.objects.filter(owner=f"user:{amy.pk}").count() == 1


def test_client_tool_call_is_answered_by_the_page(open_page, expect, amy):
    page = open_page(CHAT, amy)
    send(page, "tool please")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("Got")
    row = models.ThreadItem.objects.get(owner=f"user:{amy.pk}", type="client_tool_call")
    assert row.data["output"] == {"tool": "get_location", "city": "Paris", "precision": "city"}


def test_stream_errors_are_shown(open_page, expect, amy):
    page = open_page(CHAT, amy)
    send(page, "fail now")
    expect(page.get_by_role("alert")).to_contain_text("The scripted failure happened.")
    expect(page.locator(".ck-assistant-message")).to_contain_text("about to fail")


def test_markdown_from_the_model_cannot_run_script(open_page, expect, amy):
    page = open_page(CHAT, amy)
    hostile = (
        '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script> '
        '[link](javascript:window.pwned=3) **<svg onload="window.pwned=4">**'
    )
    send(page, hostile)
    answer = page.locator(".ck-assistant-message").last
    expect(answer).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(answer).to_contain_text("<script>window.pwned=2</script>")
    text = answer.locator(".ck-assistant-text")
    expect(text.locator("strong")).to_have_count(1)  # markdown itself still works (once drawn)
    assert text.locator("img, script, svg, [onerror], [onload]").count() == 0
    assert text.locator("a").count() == 0  # the javascript: link stays plain text
    page.reload()
    expect(page.locator(".ck-assistant-message").last).to_contain_text("<script>window.pwned=2</script>")
    assert page.evaluate("window.pwned") is None
    assert page.js_errors == []


GATE_FETCH = """() => {
  // Hold every ChatKit POST until the test opens the gate.
  const realFetch = window.fetch;
  window.gate = {};
  window.gate.open = new Promise((resolve) => (window.gate.release = resolve));
  window.fetch = async (url, init) => {
    if (init && init.method === "POST") await window.gate.open;
    return realFetch(url, init);
  };
}"""


def test_loading_behavior_marks_the_control_or_the_widget_while_the_action_runs(open_page, expect, amy):
    thread_id, item_id = seed_widget_thread(amy)
    page = open_page(CHAT, amy)
    page.locator(".ck-thread-open", has_text="Widgets").click()
    widget = page.locator(f'[data-item-id="{item_id}"]')
    expect(widget).to_contain_text("Pick a line")

    # loadingBehavior "auto" on a button: the button itself is busy and disabled.
    page.evaluate(GATE_FETCH)
    replace = widget.get_by_role("button", name="Replace")
    replace.click()
    expect(replace).to_have_attribute("aria-busy", "true")
    expect(replace).to_be_disabled()
    page.evaluate("window.gate.release()")
    expect(widget).to_contain_text("Replaced with blue")

    # loadingBehavior "container": the whole widget is busy.
    thread_id, item_id = seed_widget_thread(amy, thread_id="thr_browser2", item_id="wid_browser2")
    page.reload()
    page.locator('.ck-thread[data-thread-id="thr_browser2"] .ck-thread-open').click()
    widget = page.locator(f'[data-item-id="{item_id}"]')
    page.evaluate(GATE_FETCH)
    widget.get_by_role("button", name="Rename").click()
    expect(widget.locator(".ck-widget")).to_have_attribute("aria-busy", "true")
    page.evaluate("window.gate.release()")
    expect(widget).to_contain_text("renamed in place")
    expect(widget.locator(".ck-widget")).not_to_have_attribute("aria-busy", "true")


def test_structured_input_question_is_answered_in_the_chat(open_page, expect, amy):
    page = open_page(CHAT, amy)
    send(page, "ask me")
    form = page.locator(".ck-structured-input")
    expect(form).to_contain_text("Which city?")
    form.get_by_role("textbox", name="Which city?").fill("Lisbon")
    form.get_by_role("button", name="Submit").click()
    expect(page.locator(".ck-assistant-message").last).to_contain_text("Got")


def test_every_stream_event_is_applied(open_page, expect, amy):
    page = open_page(CHAT, amy)
    page.wait_for_function("document.getElementById('chatkit').chatkit !== undefined")
    apply = "(events) => { const view = document.getElementById('chatkit').chatkit; for (const e of events) view.applyEvent(e); }"
    base = {"thread_id": "thr_x", "created_at": "2026-01-01T00:00:00"}
    card = {
        "type": "Card",
        "children": [
            {"type": "Text", "id": "t1", "value": "Hel", "streaming": True},
            {"type": "Badge", "id": "b1", "label": "old"},
        ],
    }
    page.evaluate(
        apply,
        [
            {"type": "thread.item.added", "item": {**base, "id": "w1", "type": "widget", "widget": card}},
            {
                "type": "thread.item.updated",
                "item_id": "w1",
                "update": {
                    "type": "widget.streaming_text.value_delta",
                    "component_id": "t1",
                    "delta": "lo there",
                    "done": True,
                },
            },
            {
                "type": "thread.item.updated",
                "item_id": "w1",
                "update": {
                    "type": "widget.component.updated",
                    "component_id": "b1",
                    "component": {"type": "Badge", "id": "b1", "label": "new"},
                },
            },
            {"type": "thread.item.added", "item": {**base, "id": "m1", "type": "assistant_message", "content": []}},
            {
                "type": "thread.item.updated",
                "item_id": "m1",
                "update": {
                    "type": "assistant_message.content_part.added",
                    "content_index": 0,
                    "content": {"type": "output_text", "text": "", "annotations": []},
                },
            },
            {
                "type": "thread.item.updated",
                "item_id": "m1",
                "update": {
                    "type": "assistant_message.content_part.text_delta",
                    "content_index": 0,
                    "delta": "**Bold** answer",
                },
            },
            {
                "type": "thread.item.updated",
                "item_id": "m1",
                "update": {
                    "type": "assistant_message.content_part.annotation_added",
                    "content_index": 0,
                    "annotation_index": 0,
                    "annotation": {
                        "type": "annotation",
                        "source": {"type": "url", "url": "https://example.com/a", "title": "Source A"},
                    },
                },
            },
            {
                "type": "thread.item.added",
                "item": {
                    **base,
                    "id": "wf1",
                    "type": "workflow",
                    "workflow": {"type": "custom", "tasks": [], "expanded": True},
                },
            },
            {
                "type": "thread.item.updated",
                "item_id": "wf1",
                "update": {
                    "type": "workflow.task.added",
                    "task_index": 0,
                    "task": {"type": "custom", "title": "Searching the archive"},
                },
            },
            {"type": "progress_update", "text": "Thinking hard", "icon": "atom"},
            {"type": "notice", "level": "warning", "message": "Careful now"},
            {"type": "client_effect", "name": "ping", "data": {"n": 1}},
        ],
    )
    widget = page.locator('[data-item-id="w1"]')
    expect(widget.locator('[data-ck-id="t1"]')).to_have_text("Hello there")
    expect(widget.locator('[data-ck-id="b1"]')).to_have_text("new")
    answer = page.locator('[data-item-id="m1"]')
    expect(answer.locator("strong")).to_have_text("Bold")
    expect(answer.get_by_role("link", name="Source A")).to_have_attribute("href", "https://example.com/a")
    expect(page.locator('[data-item-id="wf1"]')).to_contain_text("Searching the archive")
    expect(page.locator(".ck-progress")).to_have_text("Thinking hard")
    expect(page.get_by_role("status").filter(has_text="Careful now")).to_have_count(1)
    assert page.evaluate("window.seen.effects") == [{"name": "ping", "data": {"n": 1}}]

    page.evaluate(
        apply,
        [
            {
                "type": "thread.item.updated",
                "item_id": "w1",
                "update": {
                    "type": "widget.root.updated",
                    "widget": {"type": "Card", "children": [{"type": "Title", "value": "Root swapped"}]},
                },
            },
            {
                "type": "thread.item.done",
                "item": {
                    **base,
                    "id": "m1",
                    "type": "assistant_message",
                    "content": [{"type": "output_text", "text": "Final text", "annotations": []}],
                },
            },
            {
                "type": "thread.item.replaced",
                "item": {
                    **base,
                    "id": "wf1",
                    "type": "assistant_message",
                    "content": [{"type": "output_text", "text": "Workflow became text", "annotations": []}],
                },
            },
            {"type": "thread.item.removed", "item_id": "w1"},
            {"type": "error", "code": "custom", "message": "It broke", "allow_retry": False},
        ],
    )
    expect(page.locator('[data-item-id="w1"]')).to_have_count(0)
    expect(answer).to_contain_text("Final text")
    expect(page.locator('[data-item-id="wf1"]')).to_have_text(re.compile("Workflow became text"))
    expect(page.locator(".ck-progress")).to_be_hidden()
    expect(page.get_by_role("alert")).to_have_text("It broke")
    assert page.js_errors == []


def test_attachments_are_uploaded_and_sent_with_the_message(open_page, expect, amy):
    page = open_page(CHAT, amy)
    page.get_by_label("Attach files").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"remember the milk"}]
    )
    chip = page.locator(".ck-attachment-chip")
    expect(chip).to_have_attribute("aria-busy", "false")
    send(page, "see attached")
    expect(page.locator(".ck-user-message .ck-attachment")).to_have_text("notes.txt")
    expect(page.locator(".ck-attachments .ck-tag")).to_have_count(0)
    expect(page.locator(".ck-assistant-message").last).to_contain_text("You said: see attached")
    row = models.ThreadItem.objects.get(owner=f"user:{amy.pk}", type="user_message")
    assert [a["name"] for a in row.data["attachments"]] == ["notes.txt"]
    stored = models.Attachment.objects.get(owner=f"user:{amy.pk}")
    assert stored.file.read() == b"remember the milk"

    # A refused type is reported, not sent.
    page.get_by_label("Attach files").set_input_files(
        files=[{"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"}]
    )
    expect(page.get_by_role("alert")).to_contain_text("tool.exe")
    expect(page.locator(".ck-attachments .ck-tag")).to_have_count(0)
