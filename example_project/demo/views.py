"""The demo's pages: the chat (built-in client or the official UI, per CHATKIT["CLIENT_UI"])
and the widget gallery."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .agents import TOOL_CHOICES


@login_required
def chat(request):
    return render(request, "demo/chat.html", {"tools": TOOL_CHOICES})


def gallery(request):
    return render(request, "django_chatkit/gallery.html")
