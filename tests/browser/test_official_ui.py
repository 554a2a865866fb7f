"""{% chatkit_official %} in Chromium, with a stand-in for OpenAI's web component (its real
script comes from OpenAI's CDN): the options it receives, and a fetch that the ChatKit
endpoint accepts (session cookie and CSRF token)."""

from __future__ import annotations

import pytest

from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_official_component_gets_the_endpoint_domain_key_hooks_and_a_csrf_fetch(open_page):
    user = make_user("browser-official")
    page = open_page("/browser/official/", user)
    page.wait_for_function("window.officialOptions !== undefined")
    options = page.evaluate("() => ({ ...window.officialOptions, api: { ...window.officialOptions.api, fetch: typeof window.officialOptions.api.fetch } })")
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
