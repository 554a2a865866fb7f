"""The demo's pages: the chat (built-in client or the official UI, per CHATKIT["CLIENT_UI"]),
an article (what the chat's article list opens) and the widget gallery."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from .agents import TOOL_CHOICES
from .chatkit_entities import visible_articles
from .csp import content_security_policy


@login_required
@content_security_policy
def chat(request):
    return render(request, "demo/chat.html", {"tools": TOOL_CHOICES})


@login_required
@content_security_policy
def article(request, pk: int):
    """One article, if the user may read it (published, or their own draft); 404 otherwise."""
    found = get_object_or_404(visible_articles(request.user).select_related("author"), pk=pk)
    return render(request, "demo/article.html", {"article": found})


@content_security_policy
def gallery(request):
    return render(request, "django_chatkit/gallery.html")
