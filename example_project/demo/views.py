"""The demo's pages: the chat (built-in client or the official UI, per CHATKIT["CLIENT_UI"]),
an article (what the chat's article list opens) and the widget gallery."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static

from django_chatkit.conf import chatkit_settings

from .agents import TOOL_CHOICES
from .chatkit_entities import visible_articles
from .csp import content_security_policy


def start_screen(user) -> dict:
    """The start screen: one prompt per pattern of the seed document."""
    prompts = [
        # Server action: line.select replaces the widget, streams a message, sends an effect.
        {"label": "Pick a transit line", "prompt": "Show me the lines", "icon": "map-pin"},
        # Widget template with a client action: item.select opens the article.
        {"label": "Browse the articles", "prompt": "Show me the articles", "icon": "book-open"},
        # Client action: the View Article button (open_article).
        {"label": "Show an article card", "prompt": "Show me an article card /show_article_card", "icon": "document"},
        # Client actions: select_option and more_suggestions.
        {"label": "Suggest lines to explore", "prompt": "Suggest something /show_suggestions", "icon": "lightbulb"},
        # Composer tools (mode selection): sent with the Find Events tool.
        {"label": "Find events", "prompt": "Events at the library", "icon": "calendar", "tool": "event_finder"},
    ]
    # An article whose title names no offline tool trigger ("line", "articles", …), so the
    # offline model answers the mention instead of calling a tool.
    triggers = [word.lower() for word in chatkit_settings.OFFLINE_TOOL_TRIGGERS or {}]
    article = next(
        (
            a
            for a in visible_articles(user).filter(published=True).order_by("title")
            if not any(re.search(rf"\b{re.escape(word)}\b", a.title.lower()) for word in triggers)
        ),
        None,
    )
    if article is not None:
        # Entity tagging: a prefilled @-mention of an article.
        prompts.append(
            {
                "label": f"Ask about “{article.title}”",
                "icon": "notebook",
                "prompt": [
                    {"type": "input_text", "text": "Summarise "},
                    {
                        "type": "input_tag",
                        "id": f"article:{article.pk}",
                        "text": article.title,
                        "data": {"type": "article", "article_id": str(article.pk)},
                        "group": "Articles",
                        "interactive": True,
                    },
                ],
            }
        )
    return {"greeting": "Hi! What would you like to do?", "prompts": prompts}


@login_required
@content_security_policy
def chat(request):
    return render(request, "demo/chat.html", {"tools": TOOL_CHOICES, "start_screen": start_screen(request.user)})


@login_required
@content_security_policy
def article(request, pk: int):
    """One article, if the user may read it (published, or their own draft); 404 otherwise."""
    found = get_object_or_404(visible_articles(request.user).select_related("author"), pk=pk)
    return render(request, "demo/article.html", {"article": found})


@content_security_policy
def gallery(request):
    return render(request, "django_chatkit/gallery.html")


def favicon(request):
    return redirect(static("demo/favicon.svg"), permanent=True)
