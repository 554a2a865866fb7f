"""{% load chatkit %}: the built-in client's include and the official web component's tags."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory, override_settings

from django_chatkit.conf import ChatKitConfigurationError


def render(source: str, **context) -> str:
    request = RequestFactory().get("/")
    return Template("{% load chatkit %}" + source).render(Context({"request": request, **context}))


def config_of(output: str, attribute: str) -> dict:
    match = re.search(attribute + r'="([^"]*)"', output)
    assert match, output
    return json.loads(html.unescape(match.group(1)))


def test_builtin_chat_include_carries_endpoint_tools_and_entity_search():
    tools = [{"id": "general", "label": "Chat", "icon": "sparkle", "pinned": True}]
    output = render(
        '{% chatkit_assets %}{% chatkit_chat tools=tools placeholder="Ask" element_id="box" %}', tools=tools
    )
    assert 'href="/static/django_chatkit/widgets.css"' in output
    # An external module mounts the view: no inline script, no style attribute (strict CSP).
    assert '<script type="module" src="/static/django_chatkit/mount.js"></script>' in output
    assert "<script>" not in output and '<script type="module">' not in output and "style=" not in output
    assert '<div id="box"' in output
    assert 'data-chatkit-height="600px"' in output
    config = config_of(output, "data-chatkit-config")
    assert config["api"] == {"url": "/chatkit/", "stopUrl": "/chatkit/threads/__thread__/stop/"}
    assert config["composer"] == {"placeholder": "Ask", "tools": tools}
    assert config["entities"] == {"searchUrl": "/api/search/"}


def test_builtin_chat_follows_the_live_socket_where_configured():
    assert config_of(render("{% chatkit_chat %}"), "data-chatkit-config")["live"] == {"url": "/chatkit/live/"}
    custom = render('{% chatkit_chat live_url="/ws/live/" %}')
    assert config_of(custom, "data-chatkit-config")["live"] == {"url": "/ws/live/"}
    assert "live" not in config_of(render('{% chatkit_chat live_url="" %}'), "data-chatkit-config")


def test_start_screen_goes_to_both_clients_without_the_tool_extension_for_the_official_one():
    start = {
        "greeting": "Hi",
        "prompts": [{"label": "Events", "prompt": "events", "icon": "calendar", "tool": "event_finder"}],
    }
    builtin = config_of(render("{% chatkit_chat start_screen=start %}", start=start), "data-chatkit-config")
    assert builtin["startScreen"] == start
    official = config_of(render("{% chatkit_official start_screen=start %}", start=start), "data-chatkit-options")
    assert official["startScreen"] == {
        "greeting": "Hi",
        "prompts": [{"label": "Events", "prompt": "events", "icon": "calendar"}],
    }
    assert "startScreen" not in config_of(render("{% chatkit_chat %}"), "data-chatkit-config")


def test_config_values_cannot_break_out_of_the_attribute():
    output = render("{% chatkit_chat placeholder=evil %}", evil='"><script>alert(1)</script>')
    assert "<script>alert(1)" not in output
    assert config_of(output, "data-chatkit-config")["composer"]["placeholder"] == '"><script>alert(1)</script>'


@override_settings(CHATKIT={"DOMAIN_KEY": "dk-123"})
def test_official_tags_render_the_cdn_script_and_a_csrf_carrying_config():
    output = render("{% chatkit_official_script %}{% chatkit_official %}")
    assert '<script src="https://cdn.platform.openai.com/deployments/chatkit/chatkit.js" async></script>' in output
    assert "<openai-chatkit" in output
    assert config_of(output, "data-chatkit-options") == {"api": {"url": "/chatkit/", "domainKey": "dk-123"}}
    # The CSRF-carrying fetch is the shipped script's (its behaviour: tests/browser/test_official_ui.py).
    assert '<script src="/static/django_chatkit/fetch.js" data-csrf-cookie="csrftoken"></script>' in output
    assert "options.api.fetch = window.djangoChatKitFetch" in output


@pytest.mark.parametrize(
    ("client_ui", "present", "absent"),
    [
        ("builtin", "django_chatkit/mount.js", "<openai-chatkit"),
        ("official", "<openai-chatkit", "django_chatkit/mount.js"),
    ],
)
def test_chatkit_ui_follows_the_client_ui_setting(client_ui, present, absent):
    with override_settings(CHATKIT={"CLIENT_UI": client_ui}):
        output = render('{% chatkit_ui placeholder="Hi" domain_key="k" entities_url="/s/" %}')
    assert present in output and absent not in output
    assert "&lt;" not in output  # rendered as markup, not escaped text


def test_unknown_client_ui_is_a_clear_configuration_error():
    with override_settings(CHATKIT={"CLIENT_UI": "react"}), pytest.raises(ChatKitConfigurationError, match="CLIENT_UI"):
        render("{% chatkit_ui %}")
