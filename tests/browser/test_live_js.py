"""static/django_chatkit/live.js in a real Chromium against the live daphne server, with a
stand-in for the official <openai-chatkit> element (the real one loads from OpenAI's CDN):
it refreshes the transcript while another tab's answer runs, not while the tab's own
answer streams, and stops a running answer."""

from __future__ import annotations

import json

import pytest

from django_chatkit import models
from tests.support.http import session_cookies
from tests.support.runs import open_stream, text_input, wait_for
from tests.support.users import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ATTACH = """async (threadId) => {
  await new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.type = "module";  // live.js is an ES module; it also sets window.DjangoChatKitLive
    script.src = "/static/django_chatkit/live.js";
    script.onload = resolve;
    script.onerror = reject;
    document.head.append(script);
  });
  // Stands in for the official element: counts the refreshes live.js asks for.
  customElements.define("openai-chatkit", class extends HTMLElement {
    constructor() { super(); this.fetches = 0; }
    fetchUpdates() { this.fetches += 1; return Promise.resolve(); }
  });
  const element = document.createElement("openai-chatkit");
  document.body.append(element);
  window.element = element;
  window.states = [];
  window.subscribed = null;
  element.addEventListener("chatkit-live.run", (event) => window.states.push(event.detail.state));
  element.addEventListener("chatkit-live.subscribed", (event) => { window.subscribed = event.detail; });
  window.live = DjangoChatKitLive.attach(element, { url: "/chatkit/live/", refreshInterval: 20 });
  element.dispatchEvent(new CustomEvent("chatkit.thread.change", { detail: { threadId } }));
}"""


@pytest.fixture
def lea():
    return make_user("browser-lea")


def attach(open_page, user, thread_id: str):
    page = open_page("/admin/login/", user)  # any page of the site: same origin, session cookie
    page.evaluate(ATTACH, thread_id)
    page.wait_for_function("() => window.subscribed !== null")
    return page


def test_another_tabs_answer_refreshes_the_element_but_its_own_does_not(open_page, live_daphne, lea):
    client = live_daphne.client(lea)
    thread_id = client.stream("threads.create", {"input": text_input("hello")})[0]["thread"]["id"]
    page = attach(open_page, lea, thread_id)
    assert page.evaluate("() => window.subscribed.run") is None
    assert page.evaluate("() => element.fetches") == 0

    client.stream("threads.add_user_message", {"thread_id": thread_id, "input": text_input("from another tab")})
    page.wait_for_function("() => window.states.includes('finished')")
    assert page.evaluate("() => window.states") == ["started", "finished"]
    fetched = page.evaluate("() => element.fetches")
    assert fetched >= 1  # at least the final refresh, which shows the whole answer

    # While the tab's own answer streams (the element says so), live.js stays out of the way.
    page.evaluate("() => element.dispatchEvent(new CustomEvent('chatkit.response.start'))")
    client.stream("threads.add_user_message", {"thread_id": thread_id, "input": text_input("mine")})
    page.wait_for_function("() => window.states.length === 4")
    assert page.evaluate("() => element.fetches") == fetched
    assert page.js_errors == []


def test_a_page_opened_mid_answer_refreshes_at_once_and_can_stop_it(open_page, live_daphne, lea):
    client = live_daphne.client(lea)
    thread_id = client.stream("threads.create", {"input": text_input("hello")})[0]["thread"]["id"]
    payload = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": text_input("slow please")},
    }
    sock = open_stream(live_daphne.url, "/consumer/chatkit/", session_cookies(lea), payload)
    received = b""
    while received.count(b"thread.item.updated") < 3:
        received += sock.recv(65536)

    page = attach(open_page, lea, thread_id)  # a reload while the answer is being written
    run = page.evaluate("() => window.subscribed.run")
    assert run["run_id"] == models.ThreadRun.objects.get(thread_id=thread_id).run_id
    page.wait_for_function("() => element.fetches >= 1")

    page.evaluate("() => live.stop()")
    page.wait_for_function("() => window.states.includes('stopped')")
    while chunk := sock.recv(65536):  # the asking tab's stream ends too
        received += chunk
    sock.close()
    wait_for(lambda: not models.ThreadRun.objects.filter(thread_id=thread_id).exists())
    answer = models.ThreadItem.objects.filter(thread_id=thread_id, type="assistant_message").last()
    assert answer.data["content"][0]["text"].startswith("w0 w1 w2")
    assert "finished" not in json.dumps(answer.data)  # stopped before the end
    assert page.js_errors == []
