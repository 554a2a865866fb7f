"""Template tags for putting a ChatKit UI on a page: ``{% load chatkit %}``.

Two clients are supported:

- the app's own client (``django_chatkit/static/django_chatkit/chat.js``): works offline,
  no build step, renders every widget locally::

      {% chatkit_assets %}
      {% chatkit_chat tools=tool_choices height="640px" %}

- OpenAI's official ``<openai-chatkit>`` web component, loaded from OpenAI's CDN, pointed
  at this site's endpoint with a fetch that carries Django's CSRF token::

      {% chatkit_official_script %}
      {% chatkit_official domain_key="my-domain-key" %}

``{% chatkit_ui %}`` renders whichever ``CHATKIT["CLIENT_UI"]`` selects.
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.conf import settings
from django.middleware.csrf import get_token
from django.template import Engine
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from ..conf import chatkit_settings

register = template.Library()

_ENTITY_SEARCH_URL_NAMES = ("django_chatkit_api:entity-search",)

# Where django_chatkit.routing.chatkit_websocket_routes() mounts the live socket by default.
DEFAULT_LIVE_URL = "/chatkit/live/"


def _nonce(request: Any) -> str:
    """The request's Content-Security-Policy nonce (``request.csp_nonce``, as a site's CSP
    middleware sets it), put on the tags' inline scripts; empty without one."""
    return str(getattr(request, "csp_nonce", "") or "")


def _endpoint_url() -> str:
    return reverse("django_chatkit:endpoint")


def _entity_search_url() -> str | None:
    for name in _ENTITY_SEARCH_URL_NAMES:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


def _composer(placeholder: str | None, tools: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The ``composer`` option both UIs take (empty when nothing is set)."""
    composer: dict[str, Any] = {}
    if placeholder:
        composer["placeholder"] = placeholder
    if tools:
        composer["tools"] = list(tools)
    return composer


def _client_config(
    *,
    api_url: str | None,
    tools: list[dict[str, Any]] | None,
    placeholder: str | None,
    entities_url: str | None,
    theme: str | None,
    history: bool,
    live_url: str | None = None,
    start_screen: dict[str, Any] | None = None,
) -> dict[str, Any]:
    api: dict[str, Any] = {"url": api_url or _endpoint_url()}
    if api_url is None:
        api["stopUrl"] = reverse("django_chatkit:thread-stop", args=["__thread__"])
    config: dict[str, Any] = {"api": api, "history": {"enabled": history}}
    composer = _composer(placeholder, tools)
    if composer:
        config["composer"] = composer
    search_url = entities_url if entities_url is not None else _entity_search_url()
    if search_url:
        config["entities"] = {"searchUrl": search_url}
    if theme:
        config["theme"] = theme
    if start_screen:
        config["startScreen"] = dict(start_screen)
    live = DEFAULT_LIVE_URL if live_url is None else live_url
    if live:  # "" turns live sync off
        config["live"] = {"url": live}
    return config


@register.simple_tag
def chatkit_assets() -> str:
    """The stylesheets of the built-in client (put them in <head>)."""
    return format_html(
        '<link rel="stylesheet" href="{}">\n<link rel="stylesheet" href="{}">',
        static("django_chatkit/widgets.css"),
        static("django_chatkit/chat.css"),
    )


@register.inclusion_tag("django_chatkit/chat.html", takes_context=True)
def chatkit_chat(
    context: template.Context,
    api_url: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    placeholder: str | None = None,
    entities_url: str | None = None,
    theme: str | None = None,
    element_id: str = "chatkit",
    height: str = "600px",
    history: bool = True,
    live_url: str | None = None,
    start_screen: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The built-in chat view, mounted on a <div> by the ``mount.js`` module.

    ``start_screen`` is the official UI's ``startScreen`` option: ``{"greeting": str,
    "prompts": [{"label", "prompt", "icon"}]}`` shown while a thread is empty; a prompt
    is a string or a list of content parts (``input_text`` / ``input_tag``), and may name
    a composer tool to send it with (``"tool"``, a django_chatkit addition).

    ``live_url`` is the live-sync WebSocket (default ``/chatkit/live/``, where
    ``chatkit_websocket_routes()`` mounts it; ``""`` turns it off): the view follows the
    open thread there, so a response started in another tab or before a reload shows up.

    Page code can pass callbacks (``widgets.onAction``, ``entities.onClick``,
    ``onClientEffect``, ``onClientTool``) through ``window.chatkitHooks[element_id]``, set
    before the module runs; the view is then available as ``element.chatkit`` and a
    ``chatkit:ready`` event fires on the element.
    """
    request = context.get("request")
    if request is not None:
        get_token(request)  # make sure the CSRF cookie is set for the client's POSTs
    config = _client_config(
        api_url=api_url,
        tools=tools,
        placeholder=placeholder,
        entities_url=entities_url,
        theme=theme,
        history=history,
        live_url=live_url,
        start_screen=start_screen,
    )
    return {"element_id": element_id, "height": height, "config_json": json.dumps(config), "csp_nonce": _nonce(request)}


@register.simple_tag
def chatkit_official_script() -> str:
    """The official ChatKit web component's script tag (from ``CHATKIT["OFFICIAL_UI_SCRIPT_URL"]``)."""
    return format_html('<script src="{}" async></script>', chatkit_settings.OFFICIAL_UI_SCRIPT_URL)


@register.simple_tag
def chatkit_fetch_script() -> str:
    """The script defining ``window.djangoChatKitFetch``: an ``api.fetch`` for the official
    ChatKit UI that sends the session cookie and the CSRF token (see docs/client.md)."""
    return format_html(
        '<script src="{}" data-csrf-cookie="{}"></script>',
        static("django_chatkit/fetch.js"),
        settings.CSRF_COOKIE_NAME,
    )


@register.inclusion_tag("django_chatkit/official.html", takes_context=True)
def chatkit_official(
    context: template.Context,
    api_url: str | None = None,
    domain_key: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    placeholder: str | None = None,
    element_id: str = "chatkit",
    height: str = "600px",
    start_screen: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ``<openai-chatkit>`` element configured for this site's endpoint.

    The options get ``api: {url, domainKey, fetch}`` where ``fetch`` adds the
    ``X-CSRFToken`` header and sends the session cookie; page code can add more options
    through ``window.chatkitHooks[element_id]`` (merged into ``setOptions``).
    """
    request = context.get("request")
    if request is not None:
        get_token(request)
    options: dict[str, Any] = {
        "api": {"url": api_url or _endpoint_url(), "domainKey": domain_key or chatkit_settings.DOMAIN_KEY},
    }
    composer = _composer(placeholder, tools)
    if composer:
        options["composer"] = composer
    if start_screen:
        # The official UI knows {label, prompt, icon} only.
        prompts = [{k: v for k, v in p.items() if k != "tool"} for p in start_screen.get("prompts", [])]
        options["startScreen"] = {**start_screen, "prompts": prompts}
    return {
        "element_id": element_id,
        "height": height,
        "options_json": json.dumps(options),
        "fetch_script": chatkit_fetch_script(),
        "csp_nonce": _nonce(request),
    }


@register.simple_tag(takes_context=True)
def chatkit_ui(context: template.Context, **kwargs: Any) -> str:
    """The client ``CHATKIT["CLIENT_UI"]`` selects: ``"builtin"`` (default) or ``"official"``.

    Accepts the keyword arguments common to both tags (api_url, tools, placeholder,
    element_id, height, start_screen); ``domain_key`` only matters to the official UI and
    ``entities_url`` / ``theme`` / ``live_url`` only to the built-in one.
    """
    if chatkit_settings.CLIENT_UI == "official":
        kwargs.pop("entities_url", None)
        kwargs.pop("theme", None)
        kwargs.pop("live_url", None)
        head = chatkit_official_script()
        tag_context = chatkit_official(context, **kwargs)
        name = "django_chatkit/official.html"
    else:
        kwargs.pop("domain_key", None)
        head = chatkit_assets()
        tag_context = chatkit_chat(context, **kwargs)
        name = "django_chatkit/chat.html"
    engine = context.template.engine if context.template is not None else Engine.get_default()
    rendered = engine.get_template(name).render(context.new(tag_context))
    return format_html("{}\n{}", head, rendered)
