"""The built-in chat view follows its open thread over the live WebSocket: two tabs of one
user on one thread, in a real Chromium against the live daphne server. Tab A asks for a
slow answer ("slow …" streams "w0 w1 … w399" then replaces it with "finished"); tab B,
which sends nothing, shows it running, growing and finished, and can stop it, while tab A
shows every word exactly once."""

from __future__ import annotations

import re

import pytest

from django_chatkit import models
from django_chatkit.journal import STOPPED_NOTE
from tests.support.runs import wait_for
from tests.support.users import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHAT = "/browser/chat/"

# Every 50 ms: the assistant texts shown and whether the view says a response is running.
SAMPLE = """() => {
  window.samples = [];
  setInterval(() => {
    const texts = [...document.querySelectorAll(".ck-assistant-message .ck-assistant-text")].map((n) => n.innerText.trim());
    const running = !document.querySelector(".ck-stop").hidden && document.querySelector(".ck-send").hidden;
    window.samples.push({ texts, running });
  }, 50);
}"""


@pytest.fixture
def amy():
    return make_user("browser-follow-amy")


def send(page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def check_slow_text(text: str) -> None:
    """A partial slow answer: w0 w1 … wN, each word once and in order."""
    assert re.fullmatch(r"(w\d+\s*)*", text), text
    words = [int(n) for n in re.findall(r"w(\d+)", text)]
    assert words == list(range(len(words))), f"duplicated or missing words: {text[:200]}"


def slow_answers(page) -> list[str]:
    """The second assistant text of every sample (the first one answers "hello"), checked."""
    seen = []
    for sample in page.evaluate("() => window.samples"):
        texts = sample["texts"]
        assert len(texts) <= 2, texts  # never a duplicated answer item
        if len(texts) == 2:
            if texts[1] != "finished":
                check_slow_text(texts[1])
            seen.append(texts[1])
    return seen


def open_thread(open_page, expect, user):
    """Tab A asks a first question; tab B opens the same thread from its sidebar."""
    tab_a = open_page(CHAT, user)
    send(tab_a, "hello")
    expect(tab_a.locator(".ck-assistant-message")).to_have_count(1)
    tab_b = open_page(CHAT, user)
    tab_b.evaluate(
        """() => {
      window.live = [];
      document.getElementById("chatkit").addEventListener("chatkit:live", (e) => window.live.push(e.detail));
    }"""
    )
    tab_b.locator(".ck-thread-open").first.click()
    expect(tab_b.locator(".ck-user-message")).to_have_text("hello")
    tab_b.wait_for_function("() => window.live.some((m) => m.type === 'subscribed' && m.run === null)")
    thread_id = models.Thread.objects.get(owner=f"user:{user.pk}").thread_id
    return tab_a, tab_b, thread_id


def test_a_tab_reloaded_mid_answer_shows_it_growing_and_finished(open_page, expect, amy):
    tab_a, tab_b, thread_id = open_thread(open_page, expect, amy)
    tab_a.evaluate(SAMPLE)
    send(tab_a, "slow please")
    expect(tab_a.locator(".ck-assistant-message").last).to_contain_text("w5")

    tab_b.reload()  # the thread is remembered; its answer is being written right now
    tab_b.evaluate(SAMPLE)
    expect(tab_b.locator(".ck-user-message")).to_have_count(2)
    expect(tab_b.locator(".ck-stop")).to_be_visible()  # running, and stoppable from here
    expect(tab_b.locator(".ck-send")).to_be_hidden()
    expect(tab_b.locator(".ck-assistant-message").last).to_have_text("finished", timeout=30000)
    expect(tab_b.locator(".ck-send")).to_be_visible()
    expect(tab_b.locator(".ck-stop")).to_be_hidden()

    partial_b = [t for t in slow_answers(tab_b) if t != "finished"]
    assert len(set(partial_b)) >= 2  # the partial answer grew in tab B
    assert max(len(t) for t in partial_b) > min(len(t) for t in partial_b)
    assert any(s["running"] for s in tab_b.evaluate("() => window.samples"))

    expect(tab_a.locator(".ck-assistant-message").last).to_have_text("finished")
    partial_a = [t for t in slow_answers(tab_a) if t != "finished"]
    assert partial_a and partial_a[-1].startswith("w0 w1 w2")
    assert tab_a.locator(".ck-assistant-message").count() == 2
    assert tab_b.locator(".ck-assistant-message").count() == 2
    assert tab_b.locator(".ck-user-message").all_inner_texts() == ["hello", "slow please"]
    assert models.ThreadItem.objects.filter(thread_id=thread_id, type="assistant_message").count() == 2
    assert tab_a.js_errors == [] and tab_b.js_errors == []


def test_a_tab_follows_another_tabs_answer_live_and_stops_it(open_page, expect, amy):
    tab_a, tab_b, thread_id = open_thread(open_page, expect, amy)
    tab_a.evaluate(SAMPLE)
    tab_b.evaluate(SAMPLE)
    send(tab_a, "slow please")
    expect(tab_b.locator(".ck-assistant-message").last).to_contain_text("w20")
    expect(tab_b.locator(".ck-user-message")).to_have_count(2)  # relayed, not sent by B
    tab_b.get_by_role("button", name="Stop").click()

    wait_for(lambda: not models.ThreadRun.objects.filter(thread_id=thread_id).exists())
    expect(tab_b.locator(".ck-send")).to_be_visible()
    expect(tab_a.locator(".ck-send")).to_be_visible()  # A's own stream ended too
    stored = models.ThreadItem.objects.filter(thread_id=thread_id, type="assistant_message").last()
    stored_text = stored.data["content"][0]["text"].strip()
    assert [part["text"] for part in stored.data["content"][1:]] == [STOPPED_NOTE]  # the marker, once
    check_slow_text(stored_text)
    assert "w20" in stored_text  # stopped after B saw w20, before the end
    answer = tab_b.locator(".ck-assistant-message").last  # reloaded from the store
    expect(answer.locator(".ck-assistant-text")).to_have_text(stored_text)
    expect(answer.locator(".ck-interrupted")).to_have_text("Response stopped.")

    assert [m["state"] for m in tab_b.evaluate("() => window.live") if m["type"] == "run"] == ["started", "stopped"]
    assert len(set(slow_answers(tab_b))) >= 3  # grew word by word from the relayed events
    slow_answers(tab_a)  # each word once in the asking tab too
    assert tab_a.js_errors == [] and tab_b.js_errors == []


def test_without_a_live_route_the_view_gives_up_quietly_and_still_works(open_page, expect, amy):
    page = open_page(CHAT, amy)
    attempts = page.evaluate(
        """async () => {
      let attempts = 0;
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(...args) { super(...args); attempts += 1; }
      };
      const { ChatKit } = await import("/static/django_chatkit/chat.js");
      const host = document.createElement("div");
      host.id = "unrouted";
      document.body.append(host);
      const view = new ChatKit(host, { api: { url: "/chatkit/" }, live: { url: "/no-live-socket-here/" }, storageKey: "unrouted" });
      await view.ready;
      await view.sendUserMessage("still works");
      await new Promise((resolve) => setTimeout(resolve, 5000));  // 1 s + 2 s backoff, then silence
      return attempts;
    }"""
    )
    assert attempts == 3
    expect(page.locator("#unrouted .ck-assistant-message")).to_contain_text("You said: still works")
    assert page.js_errors == []
