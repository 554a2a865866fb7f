"""{% chatkit_official %} in Chromium, with a stand-in for OpenAI's web component (its real
script comes from OpenAI's CDN): the options it receives, and a fetch that the ChatKit
endpoint accepts (session cookie and CSRF token)."""

from __future__ import annotations

import pytest

from tests.support.users import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_official_component_gets_the_endpoint_domain_key_hooks_and_a_csrf_fetch(open_page):
    user = make_user("browser-official")
    page = open_page("/browser/official/", user)
    page.wait_for_function("window.officialOptions !== undefined")
    options = page.evaluate(
        "() => ({ ...window.officialOptions, api: { ...window.officialOptions.api, fetch: typeof window.officialOptions.api.fetch } })"
    )
    assert options["api"] == {"url": "/chatkit/", "domainKey": "dk-test", "fetch": "function"}
    assert [tool["id"] for tool in options["composer"]["tools"]] == ["general", "event_finder"]
    assert options["theme"] == {"colorScheme": "dark"}
    assert "onClientEffect" not in options

    # The component's requests go through api.fetch: the endpoint accepts them.
    status = page.evaluate(
        """async () => {
      const { api } = window.officialOptions;
      const response = await api.fetch(api.url, { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ type: "threads.list", params: { limit: 5 } }) });
      const plain = await fetch(api.url, { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ type: "threads.list", params: { limit: 5 } }) });
      return [response.status, (await response.json()).data, plain.status];
    }"""
    )
    assert status == [200, [], 403]  # without the CSRF header the endpoint refuses

    # Client effects reach the page's hook through the component's chatkit.effect event.
    page.evaluate("""() => document.getElementById("chatkit").dispatchEvent(
      new CustomEvent("chatkit.effect", { detail: { name: "selection_changed", data: { lineId: "blue-line" } } }))""")
    assert page.evaluate("window.seen.effects") == [{"name": "selection_changed", "data": {"lineId": "blue-line"}}]


# -- the official UI with the shipped fetch and an unchanged default configuration ---------

import json  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from tests.support.daphne import daphne_server  # noqa: E402
from tests.support.http import LiveServer, parse_sse, session_cookies  # noqa: E402

API_PATHS = {"view": "/chatkit/", "consumer": "/consumer/chatkit/"}


@pytest.fixture(scope="module")
def anonymous_site(django_db_setup, django_db_blocker) -> Iterator[LiveServer]:
    from tests.live import serve_anonymous_sessions

    with daphne_server(django_db_blocker, serve_anonymous_sessions) as server:
        yield server


def run_official_page(browser_thread, site: LiveServer, api: str, cookies: dict[str, str]) -> dict:
    context = browser_thread.browser.new_context(base_url=site.url)
    try:
        if cookies:
            context.add_cookies([{"name": k, "value": v, "url": site.url} for k, v in cookies.items()])
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(f"/browser/official-default/?api={api}")
        page.wait_for_function("window.officialResult !== undefined")
        return page.evaluate("window.officialResult")
    finally:
        context.close()


def assert_thread_created_and_listed(result: dict) -> None:
    assert result["createStatus"] == 200, result
    events = parse_sse(result["events"].encode())
    assert events[0]["type"] == "thread.created"
    answer = [e for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"]
    assert "hello from the official UI" in answer[-1]["item"]["content"][0]["text"]
    assert result["listStatus"] == 200, result["list"]
    assert [thread["id"] for thread in json.loads(result["list"])["data"]] == [events[0]["thread"]["id"]]


@pytest.mark.parametrize("transport", sorted(API_PATHS))
def test_official_ui_with_the_shipped_fetch_works_for_a_logged_in_user(browser_thread, live_daphne, transport):
    user = make_user(f"browser-official-{transport}")
    result = run_official_page(browser_thread, live_daphne, API_PATHS[transport], session_cookies(user))
    assert_thread_created_and_listed(result)


@pytest.mark.parametrize("transport", sorted(API_PATHS))
def test_official_ui_with_the_shipped_fetch_works_for_an_anonymous_session(browser_thread, anonymous_site, transport):
    result = run_official_page(browser_thread, anonymous_site, API_PATHS[transport], {})
    assert_thread_created_and_listed(result)
