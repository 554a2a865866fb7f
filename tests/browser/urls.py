"""Pages the browser tests open on the live daphne server: the built-in chat client,
the widget gallery and the static files they load (served here because the test site
runs with DEBUG off)."""

from __future__ import annotations

from django.contrib.staticfiles.views import serve
from django.shortcuts import render
from django.urls import path, re_path
from django.views.generic import TemplateView

from django_chatkit import entities
from tests.browser import actions  # noqa: F401  (registers the browser.replace action)

TOOL_CHOICES = [
    # Chat stays chosen after a send (persistent); Find Events is cleared, as ChatKit does.
    {
        "id": "general",
        "label": "Chat",
        "icon": "sparkle",
        "placeholderOverride": "Ask anything...",
        "pinned": True,
        "persistent": True,
    },
    {
        "id": "event_finder",
        "label": "Find Events",
        "icon": "calendar",
        "placeholderOverride": "What events are you looking for?",
        "pinned": True,
    },
]

# A small catalog behind the @-mention endpoint, visible only to the browser tests'
# users (usernames starting with "browser-") so no other test ever sees it.
CATALOG = [
    {"id": "ada", "title": "Ada Lovelace", "data": {"type": "person"}},
    {
        "id": "widgets-guide",
        "title": "Building chat widgets",
        "data": {"type": "article", "article_id": "widgets-guide"},
    },
]


def _visible(user) -> bool:
    return bool(getattr(user, "username", "").startswith("browser-"))


def _search(user, query, limit):
    if not _visible(user):
        return []
    return [row for row in CATALOG if query.lower() in row["title"].lower()][:limit]


def _resolve(user, local_id):
    if not _visible(user):
        return None
    return next((row for row in CATALOG if row["id"] == local_id), None)


def register_entities() -> None:
    if "catalog" not in {source.key for source in entities.entity_sources.all()}:
        entities.register_callable("catalog", search=_search, resolve=_resolve, group="Catalog", icon="document")


register_entities()


START_SCREEN = {
    "greeting": "Hello from the tests",
    "prompts": [
        {"label": "Say hello", "prompt": "hello there", "icon": "sparkle"},
        {"label": "Slow answer", "prompt": "slow answer please", "icon": "clock"},
        {
            "label": "Ask about Ada",
            "icon": "profile",
            "prompt": [
                {"type": "input_text", "text": "What did "},
                {
                    "type": "input_tag",
                    "id": "catalog:ada",
                    "text": "Ada Lovelace",
                    "data": {"type": "person"},
                    "group": "Catalog",
                    "interactive": True,
                },
                {"type": "input_text", "text": " write?"},
            ],
        },
        {"label": "Events", "prompt": "events tonight", "icon": "calendar", "tool": "event_finder"},
    ],
}


def chat_page(request):
    register_entities()  # a test may have reset the registry in this process
    return render(request, "browser/chat_page.html", {"tools": TOOL_CHOICES, "start_screen": START_SCREEN})


def official_default_page(request):
    """A page as a single-page app serves it: no Django template context, so nothing on
    it sets the CSRF cookie."""
    from django.http import HttpResponse
    from django.template.loader import render_to_string

    return HttpResponse(render_to_string("browser/official_default.html"))


def official_page(request):
    return render(request, "browser/official_page.html", {"tools": TOOL_CHOICES})


def favicon(request):
    """Chromium asks every origin for /favicon.ico: answer, so no page logs a 404."""
    from django.http import HttpResponse

    return HttpResponse(status=204)


urlpatterns = [
    path("favicon.ico", favicon),
    path("browser/chat/", chat_page, name="browser-chat"),
    path("browser/official/", official_page, name="browser-official"),
    path("browser/official-default/", official_default_page, name="browser-official-default"),
    path("browser/gallery/", TemplateView.as_view(template_name="django_chatkit/gallery.html"), name="browser-gallery"),
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
]
