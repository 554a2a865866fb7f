"""The built-in chat client (static/django_chatkit/chat.js) in a real Chromium against the
live daphne server: streaming, reload, stop, @-mentions, composer tools, widget actions,
thread management, feedback and markdown safety."""

from __future__ import annotations

import pytest

from django_chatkit import models
from tests.conftest import make_user

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
