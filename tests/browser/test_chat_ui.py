"""The built-in chat client as a user sees it, on a desktop (1280x800) and a phone-sized
screen (390x844): layout, start screen, thinking dots, scrolling, the growing input, inline
tags, the tool menu, per-message actions, errors, Markdown tables and lists, attachments
(click, drop, paste) and keyboard-only use. Each test saves a screenshot under artifacts/
(the contact sheet in docs/client.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from django_chatkit import models
from tests.support.users import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHAT = "/browser/chat/"
ARTIFACTS = Path("artifacts")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


@pytest.fixture
def amy():
    return make_user("browser-amy")


def shot(page, name: str, viewport: dict) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    kind = "phone" if viewport["width"] < 500 else "desktop"
    page.screenshot(path=str(ARTIFACTS / f"client-{name}-{kind}.png"))


def box(page):
    return page.get_by_role("textbox", name="Message")


def send(page, text: str) -> None:
    box(page).fill(text)
    box(page).press("Enter")


def seed_thread(user, items: list[tuple[str, str]], thread_id: str = "thr_ui") -> str:
    """A stored thread with (type, text) items: "user" or "assistant"."""
    from datetime import datetime, timedelta

    from asgiref.sync import async_to_sync
    from chatkit.types import (
        AssistantMessageContent,
        AssistantMessageItem,
        ThreadMetadata,
        UserMessageItem,
        UserMessageTextContent,
    )

    from django_chatkit.context import RequestContext
    from django_chatkit.store import DjangoStore

    store = DjangoStore()
    context = RequestContext(user_id=f"user:{user.pk}", user=user)
    start = datetime.now()
    thread = ThreadMetadata(id=thread_id, title="Seeded", created_at=start)
    rows = []
    for n, (kind, text) in enumerate(items):
        common = {"id": f"{thread_id}_{n}", "thread_id": thread_id, "created_at": start + timedelta(seconds=n)}
        if kind == "user":
            rows.append(UserMessageItem(**common, content=[UserMessageTextContent(text=text)], inference_options={}))
        else:
            rows.append(AssistantMessageItem(**common, content=[AssistantMessageContent(text=text)]))

    async def seed():
        await store.save_thread(thread, context)
        for row in rows:
            await store.add_thread_item(thread_id, row, context)

    async_to_sync(seed)()
    return thread_id


# -- 2. layout -------------------------------------------------------------------------------


@VIEWPORTS
def test_header_history_and_new_chat_on_every_screen(open_page, expect, amy, viewport):
    page = open_page(CHAT, amy, viewport=viewport)
    send(page, "first thread")
    expect(page.locator(".ck-assistant-message")).to_contain_text("You said: first thread")
    history = page.get_by_role("button", name="Conversations")
    threads = page.get_by_role("navigation", name="Threads")
    new_chat = page.get_by_role("button", name="New chat", exact=True)
    if viewport is PHONE:
        # The thread list is a drawer behind the header's history button; New chat is in the header.
        expect(threads).to_be_hidden()
        expect(history).to_have_attribute("aria-expanded", "false")
        expect(new_chat).to_be_visible()
        history.click()
        expect(threads).to_be_visible()
        expect(history).to_have_attribute("aria-expanded", "true")
        expect(threads.locator(".ck-thread")).to_have_count(1)
        shot(page, "history-drawer", viewport)
        page.keyboard.press("Escape")
        expect(threads).to_be_hidden()
        expect(history).to_be_focused()
        history.click()
        threads.get_by_role("button", name="New chat").click()
        expect(threads).to_be_hidden()
        expect(page.locator(".ck-user-message")).to_have_count(0)
    else:
        expect(threads).to_be_visible()
        expect(history).to_have_attribute("aria-expanded", "true")
        shot(page, "history-sidebar", viewport)
        history.click()  # folds the list away; the header's New chat takes over
        expect(threads).to_be_hidden()
        expect(new_chat).to_be_visible()
        new_chat.click()
        expect(page.locator(".ck-user-message")).to_have_count(0)
    main = page.get_by_role("region", name="Conversation").bounding_box()
    assert main["width"] >= viewport["width"] * 0.9
    assert page.js_errors == []


def contrast(page, selector: str) -> float:
    """WCAG contrast ratio between an element's icon colour and its background."""
    return page.evaluate(
        """(selector) => {
      const el = document.querySelector(selector);
      const style = getComputedStyle(el);
      const rgb = (c) => {
        const probe = document.createElement("span");
        probe.style.color = c;
        document.body.append(probe);
        const out = getComputedStyle(probe).color.match(/[\\d.]+/g).map(Number);
        probe.remove();
        return out;
      };
      const lum = ([r, g, b]) => {
        const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const icon = lum(rgb(getComputedStyle(el.querySelector("svg")).color));
      const back = lum(rgb(style.backgroundColor));
      return (Math.max(icon, back) + 0.05) / (Math.min(icon, back) + 0.05);
    }""",
        selector,
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_send_and_stop_icons_stand_out_in_both_themes(open_page, expect, amy, scheme):
    page = open_page(CHAT, amy, color_scheme=scheme, viewport=DESKTOP)
    expect(page.get_by_role("button", name="Send message")).to_be_visible()
    assert contrast(page, ".ck-send") >= 4.5
    box(page).fill("slow one")
    box(page).press("Enter")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    assert contrast(page, ".ck-stop") >= 4.5
    shot(page, f"send-stop-{scheme}", DESKTOP)
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("button", name="Send message")).to_be_visible()


# -- 3. start screen, thinking, scrolling, growing input ---------------------------------------


@VIEWPORTS
def test_start_screen_prompts_and_thinking_indicator(open_page, expect, amy, viewport):
    page = open_page(CHAT, amy, viewport=viewport)
    expect(page.get_by_role("heading", name="Hello from the tests")).to_be_visible()
    prompts = page.get_by_role("list", name="Suggested prompts")
    expect(prompts.get_by_role("button")).to_have_count(4)
    shot(page, "start-screen", viewport)
    # Hold the request: between the click and the first token, the thinking dots show.
    page.evaluate("""() => {
      const realFetch = window.fetch;
      window.gate = new Promise((resolve) => (window.release = resolve));
      window.fetch = async (url, init) => { if (init && init.method === "POST" && String(init.body).includes("threads.create")) await window.gate; return realFetch(url, init); };
    }""")
    prompts.get_by_role("button", name="Say hello").click()
    thinking = page.locator(".ck-thinking")
    expect(thinking).to_be_visible()
    expect(page.get_by_role("heading", name="Hello from the tests")).to_be_hidden()
    page.evaluate("window.release()")
    expect(page.locator(".ck-assistant-message")).to_contain_text("You said: hello there")
    expect(thinking).to_be_hidden()
    # A prompt with content parts sends its tag in place; one naming a tool sends with it.
    page.get_by_role("button", name="New chat", exact=True).click()
    page.get_by_role("button", name="Ask about Ada").click()
    expect(page.locator(".ck-user-message")).to_have_text("What did Ada Lovelace write?")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("What did @Ada Lovelace write?")
    page.get_by_role("button", name="New chat", exact=True).click()
    page.get_by_role("button", name="Events", exact=True).click()
    expect(page.locator(".ck-assistant-message").last).to_contain_text("events tonight")
    rows = models.ThreadItem.objects.filter(owner=f"user:{amy.pk}", type="user_message").order_by("seq")
    assert [r.data["inference_options"].get("tool_choice") for r in rows] == [None, None, {"id": "event_finder"}]
    assert page.js_errors == []


def test_scrolling_up_mid_answer_is_left_alone(open_page, expect, amy):
    seed_thread(
        amy, [("user" if n % 2 == 0 else "assistant", f"earlier message {n}") for n in range(30)], thread_id="thr_long"
    )
    page = open_page(CHAT, amy, viewport=PHONE)
    page.evaluate("() => document.getElementById('chatkit').chatkit.loadThread('thr_long')")
    log = page.get_by_role("log", name="Messages")
    expect(log).to_contain_text("earlier message 29")
    send(page, "slow and long")
    expect(page.locator(".ck-streaming-item")).to_have_count(1)
    page.wait_for_function("() => (document.querySelector('.ck-streaming-item')?.textContent || '').includes('w20 ')")
    # Following the answer while at the bottom.
    assert log.evaluate("(m) => m.scrollHeight - m.scrollTop - m.clientHeight") < 60
    log.evaluate("(m) => { m.scrollTop = 0; }")
    seen = page.locator(".ck-streaming-item").text_content()
    page.wait_for_function(
        "(before) => document.querySelector('.ck-streaming-item').textContent.length > before.length + 40", arg=seen
    )
    assert log.evaluate("(m) => m.scrollTop") == 0  # more text arrived; the reader stayed put
    shot(page, "scrolled-up-mid-answer", PHONE)
    page.get_by_role("button", name="Stop").click()


@VIEWPORTS
def test_the_input_grows_with_its_content_up_to_a_limit(open_page, expect, amy, viewport):
    page = open_page(CHAT, amy, viewport=viewport)
    field = box(page)
    one_line = field.bounding_box()["height"]
    field.click()
    for n in range(7):
        page.keyboard.type(f"line {n + 1}")
        page.keyboard.press("Shift+Enter")
    seven = field.bounding_box()["height"]
    assert seven > one_line * 4
    shot(page, "growing-input", viewport)
    for n in range(30):
        page.keyboard.press("Shift+Enter")
    assert field.bounding_box()["height"] <= 200.5  # then it scrolls
    assert field.evaluate("(el) => el.scrollHeight > el.clientHeight")
    page.keyboard.press("Enter")
    expect(page.locator(".ck-user-message")).to_contain_text("line 7")


# -- 4. inline tags ---------------------------------------------------------------------------


@VIEWPORTS
def test_tags_sit_inline_keep_their_place_and_open_when_clicked(open_page, expect, amy, viewport):
    page = open_page(CHAT, amy, viewport=viewport)
    field = box(page)
    field.press_sequentially("What does @Ada")
    page.get_by_role("option", name="Ada Lovelace").click()
    page.keyboard.type("do?")
    expect(field.locator(".ck-tag")).to_have_text("Ada Lovelace")
    assert re.sub(r"\s+", " ", field.text_content()) == "What does Ada Lovelace do?"
    shot(page, "inline-tag", viewport)
    field.press("Enter")
    bubble = page.locator(".ck-user-message .ck-bubble")
    expect(bubble).to_have_text(re.compile(r"What does\s*Ada Lovelace\s*do\?"))
    # The model reads the text in order, with the tag where it was.
    expect(page.locator(".ck-assistant-message").last).to_contain_text(re.compile(r"What does\s+@Ada Lovelace\s+do\?"))
    row = models.ThreadItem.objects.get(owner=f"user:{amy.pk}", type="user_message")
    assert [(p["type"], p["text"]) for p in row.data["content"]] == [
        ("input_text", "What does "),
        ("input_tag", "Ada Lovelace"),
        ("input_text", " do?"),
    ]
    # Clicking the sent tag (a button) reaches entities.onClick.
    bubble.get_by_role("button", name="Ada Lovelace").click()
    page.wait_for_function("window.seen.entityClicks.length === 1")
    assert page.evaluate("window.seen.entityClicks[0].id") == "catalog:ada"

    # Backspace right after a tag removes the whole tag.
    field.press_sequentially("@Ada")
    expect(page.get_by_role("option", name="Ada Lovelace")).to_be_visible()
    field.press("Enter")
    expect(field.locator(".ck-tag")).to_have_count(1)
    field.press("Backspace")
    expect(field.locator(".ck-tag")).to_have_count(0)


# -- 5. the tool menu -----------------------------------------------------------------------------


@VIEWPORTS
def test_tool_menu_choice_is_cleared_after_sending_unless_persistent(open_page, expect, amy, viewport):
    page = open_page(CHAT, amy, viewport=viewport)
    tools = page.get_by_role("button", name="Tools")
    tools.click()
    menu = page.get_by_role("menu", name="Tools")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitemradio")).to_have_count(2)
    shot(page, "tool-menu", viewport)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # Find Events
    expect(menu).to_be_hidden()
    pill = page.get_by_role("button", name="Find Events")
    expect(pill).to_have_attribute("aria-pressed", "true")
    expect(box(page)).to_be_focused()
    send(page, "concerts")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("concerts")
    expect(pill).to_have_attribute("aria-pressed", "false")  # cleared, as in ChatKit
    expect(box(page)).to_have_attribute("aria-placeholder", "Message")
    chat = page.get_by_role("button", name="Chat", exact=True)
    chat.click()
    send(page, "again")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("again")
    expect(chat).to_have_attribute("aria-pressed", "true")  # persistent
    rows = models.ThreadItem.objects.filter(owner=f"user:{amy.pk}", type="user_message").order_by("seq")
    assert [r.data["inference_options"]["tool_choice"]["id"] for r in rows] == ["event_finder", "general"]


# -- 6. per-message actions and errors --------------------------------------------------------------


@VIEWPORTS
def test_copy_retry_and_feedback_after_reload(open_page, expect, amy, viewport):
    page = open_page(CHAT, amy, viewport=viewport, permissions=["clipboard-read", "clipboard-write"])
    send(page, "copy me")
    answer = page.locator(".ck-assistant-message").last
    expect(answer).to_contain_text("You said: copy me")
    # Once the answer has finished (a streaming message is drawn again at every event).
    expect(page.locator(".ck-streaming-item")).to_have_count(0)
    first_id = answer.get_attribute("data-item-id")
    answer.get_by_role("button", name="Copy").click()
    expect(answer.get_by_role("status")).to_have_text("Copied")
    assert "You said: copy me" in page.evaluate("navigator.clipboard.readText()")
    answer.get_by_role("button", name="Good response").click()
    expect(answer.get_by_role("button", name="Good response")).to_have_attribute("aria-pressed", "true")
    shot(page, "message-actions", viewport)

    answer.get_by_role("button", name="Retry").click()
    fresh = page.locator(".ck-assistant-message")
    expect(fresh).to_have_count(1)
    expect(fresh).to_contain_text("You said: copy me")
    page.wait_for_function(
        "(old) => document.querySelector('.ck-assistant-message').dataset.itemId !== old", arg=first_id
    )
    assert models.ThreadItem.objects.filter(owner=f"user:{amy.pk}", type="assistant_message").count() == 1

    fresh.get_by_role("button", name="Bad response").click()
    expect(fresh.get_by_role("button", name="Bad response")).to_have_attribute("aria-pressed", "true")
    page.reload()
    again = page.locator(".ck-assistant-message")
    expect(again.get_by_role("button", name="Bad response")).to_have_attribute("aria-pressed", "true")
    expect(again.get_by_role("button", name="Good response")).to_have_attribute("aria-pressed", "false")
    assert page.js_errors == []


@VIEWPORTS
def test_failed_send_keeps_the_text_and_explains_itself(open_page, expect, amy, viewport):
    page = open_page(CHAT, amy, viewport=viewport)
    page.route(
        "**/chatkit/",
        lambda route: route.abort() if "threads.create" in (route.request.post_data or "") else route.continue_(),
    )
    send(page, "please keep me")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Could not reach the server")
    expect(alert).not_to_contain_text("TypeError")
    expect(box(page)).to_have_text("please keep me")
    shot(page, "failed-send", viewport)
    alert.get_by_role("button", name="Dismiss").click()
    expect(alert).to_have_count(0)
    page.unroute("**/chatkit/")
    box(page).press("Enter")
    expect(page.locator(".ck-assistant-message")).to_contain_text("You said: please keep me")


@VIEWPORTS
def test_a_failed_turn_shows_its_error_and_a_retry_after_reload(open_page, expect, amy, viewport):
    seed_thread(amy, [("user", "hello"), ("assistant", "hi"), ("user", "this one failed")])
    page = open_page(CHAT, amy, viewport=viewport)
    if viewport is PHONE:
        page.get_by_role("button", name="Conversations").click()
    page.locator(".ck-thread-open", has_text="Seeded").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("did not get an answer")
    shot(page, "failed-turn-after-reload", viewport)
    alert.get_by_role("button", name="Retry").click()
    expect(page.locator(".ck-assistant-message").last).to_contain_text("You said: this one failed")
    expect(page.get_by_role("alert")).to_have_count(0)


# -- 7. Markdown, attachments ---------------------------------------------------------------------

MARKDOWN = "| Line | Stops |\n|:--|--:|\n| Blue | 12 |\n| Red | 9 |\n\n- Weekdays\n  - peak\n  - off-peak\n- Weekends"


@VIEWPORTS
def test_markdown_tables_and_nested_lists(open_page, expect, amy, viewport):
    seed_thread(amy, [("user", "table please"), ("assistant", MARKDOWN)], thread_id="thr_md")
    page = open_page(CHAT, amy, viewport=viewport)
    page.evaluate("() => document.getElementById('chatkit').chatkit.loadThread('thr_md')")
    answer = page.locator(".ck-assistant-message")
    table = answer.get_by_role("table")
    expect(table.get_by_role("columnheader")).to_have_text(["Line", "Stops"])
    expect(table.get_by_role("row")).to_have_count(3)
    expect(answer).not_to_contain_text("|")
    expect(answer.locator("ul ul li")).to_have_text(["peak", "off-peak"])
    shot(page, "markdown", viewport)


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


@VIEWPORTS
def test_attachments_by_drop_and_paste_with_clickable_thumbnails(open_page, expect, amy, viewport):
    page = open_page(CHAT, amy, viewport=viewport)
    # Drop a file anywhere on the chat, paste another into the message box.
    page.evaluate(
        """(bytes) => {
      const file = (name, type, data) => new File([new Uint8Array(data)], name, { type });
      const drop = new DataTransfer();
      drop.items.add(file("dot.png", "image/png", bytes));
      const target = document.querySelector(".ck-messages");
      target.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: drop }));
      target.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: drop }));
    }""",
        list(PNG),
    )
    chips = page.locator(".ck-attachment-chip")
    expect(chips).to_have_count(1)
    expect(chips.first).to_have_attribute("aria-busy", "false")
    page.evaluate("""() => {
      const paste = new DataTransfer();
      paste.items.add(new File(["pasted words"], "pasted.txt", { type: "text/plain" }));
      document.querySelector(".ck-composer-input").dispatchEvent(new ClipboardEvent("paste", { bubbles: true, cancelable: true, clipboardData: paste }));
    }""")
    expect(chips).to_have_count(2)
    expect(chips.nth(1)).to_have_attribute("aria-busy", "false")
    shot(page, "attachments", viewport)
    send(page, "two files")
    link = page.locator(".ck-user-message").get_by_role("link", name=re.compile("dot.png"))
    expect(link).to_have_attribute("href", re.compile(r"\S"))
    expect(page.locator(".ck-user-message .ck-attachment")).to_have_count(2)
    row = models.ThreadItem.objects.get(owner=f"user:{amy.pk}", type="user_message")
    assert sorted(a["name"] for a in row.data["attachments"]) == ["dot.png", "pasted.txt"]
    # The thumbnail opens the image in a new tab.
    expect(link).to_have_attribute("target", "_blank")
    assert page.evaluate("async (url) => (await fetch(url)).status", link.get_attribute("href")) == 200


def test_history_and_header_options_of_the_official_ui(open_page, expect, amy):
    seed_thread(amy, [("user", "hello"), ("assistant", "hi")], thread_id="thr_opts")
    page = open_page(CHAT, amy, viewport=DESKTOP)
    expect(page.locator("#chatkit .ck-thread")).to_have_count(1)
    page.evaluate("""async () => {
      const { ChatKit } = await import("/static/django_chatkit/chat.js");
      const host = document.createElement("div");
      host.id = "plain";
      host.style.height = "400px";
      document.body.prepend(host);
      window.plain = new ChatKit(host, { api: { url: "/chatkit/" }, history: { showRename: false, showDelete: false }, header: { enabled: false }, storageKey: "plain" });
      await window.plain.ready;
    }""")
    plain = page.locator("#plain")
    expect(plain.locator(".ck-thread")).to_have_count(1)
    expect(plain.get_by_role("button", name=re.compile("^(Rename|Delete)"))).to_have_count(0)
    expect(plain.locator(".ck-header")).to_be_hidden()
    expect(page.locator("#chatkit").get_by_role("button", name="Rename Seeded")).to_be_visible()


# -- 9. keyboard only --------------------------------------------------------------------------------


@VIEWPORTS
def test_every_control_is_reachable_and_usable_with_the_keyboard(open_page, expect, amy, viewport):
    seed_thread(amy, [("user", "hello"), ("assistant", "hi there")], thread_id="thr_kb")
    page = open_page(CHAT, amy, viewport=viewport)
    expect(page.locator(".ck-thread")).to_have_count(1)
    names = []
    for _ in range(40):
        page.keyboard.press("Tab")
        names.append(
            page.evaluate("""() => {
          const el = document.activeElement;
          return el.getAttribute("aria-label") || el.textContent.trim() || el.tagName;
        }""")
        )
    expected = {
        "Conversations",
        "Message",
        "Attach a file",
        "Tools",
        "Chat",
        "Find Events",
        "Send message",
        "Say hello",
    }
    if viewport is DESKTOP:
        expected |= {"New chat", "Seeded", "Rename Seeded", "Delete Seeded"}
    else:
        expected |= {"New chat"}
    assert expected <= set(names), names
    # Open a thread, use message actions, send, all from the keyboard.
    page.get_by_role("button", name="Conversations").focus()
    if viewport is PHONE:
        page.keyboard.press("Enter")  # the drawer, focus on its New chat
        page.keyboard.press("Tab")
    else:
        page.locator(".ck-thread-open").focus()
    expect(page.locator(".ck-thread-open")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".ck-assistant-message")).to_contain_text("hi there")
    # The tool menu: open, move, choose, all by key.
    page.get_by_role("button", name="Tools").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("menu", name="Tools")).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Find Events")).to_have_attribute("aria-pressed", "true")
    expect(box(page)).to_be_focused()
    page.keyboard.type("typed only")
    page.keyboard.press("Enter")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("You said: typed only")
    # Rename the thread from the keyboard.
    if viewport is PHONE:
        page.get_by_role("button", name="Conversations").focus()
        page.keyboard.press("Enter")
    page.locator(".ck-thread-rename").focus()
    # The list is redrawn under the keyboard user (a response ended, another tab renamed a
    # thread): their place in it stays.
    page.evaluate("() => document.querySelector('[data-chatkit-config]').chatkit.threads.refresh()")
    expect(page.locator(".ck-thread-rename")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("textbox", name="Thread title")).to_be_focused()
    page.keyboard.press("Control+a")
    page.keyboard.type("Renamed by keys")
    page.keyboard.press("Enter")
    expect(page.locator(".ck-thread-open")).to_have_text("Renamed by keys")
    if viewport is PHONE:
        page.keyboard.press("Escape")
    page.locator(".ck-assistant-message").last.get_by_role("button", name="Good response").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".ck-assistant-message").last.get_by_role("button", name="Good response")).to_have_attribute(
        "aria-pressed", "true"
    )
    shot(page, "keyboard", viewport)
    assert page.js_errors == [] and page.console_errors == []
