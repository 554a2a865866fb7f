"""Admin for threads (with a readable transcript), attachments, feedback and widget templates."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from . import models
from .widget_admin import WidgetTemplateAdmin  # noqa: F401  (registers the widget template admin)

TRANSCRIPT_LIMIT = 500


def item_summary(item: models.ThreadItem) -> str:
    """A one-line, human readable rendering of an SDK item stored as JSON."""
    data = item.data or {}
    kind = data.get("type", item.type)
    if kind in ("user_message", "assistant_message"):
        parts = []
        for part in data.get("content", []):
            if part.get("type") == "input_tag":
                parts.append(f"@{part.get('text', '')}")
            else:
                parts.append(part.get("text", ""))
        return " ".join(p for p in parts if p)
    if kind == "widget":
        return data.get("copy_text") or f"{data.get('widget', {}).get('type', 'widget')} widget"
    if kind == "client_tool_call":
        return f"{data.get('name')}({json.dumps(data.get('arguments', {}))}) → {data.get('status')}"
    if kind in ("hidden_context_item", "sdk_hidden_context"):
        return f"(hidden) {data.get('content', '')}"
    return json.dumps(data)[:200]


class ThreadItemInline(admin.TabularInline):
    model = models.ThreadItem
    fields = ("item_id", "type", "created_at_us", "data")
    readonly_fields = fields
    extra = 0
    can_delete = True
    show_change_link = False
    ordering = ("created_at_us", "seq")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class FeedbackInline(admin.TabularInline):
    model = models.Feedback
    fields = ("item_id", "owner", "kind", "updated_at")
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ("thread_id", "title", "owner", "status", "updated_at")
    list_filter = ("updated_at",)
    search_fields = ("thread_id", "title", "owner")
    readonly_fields = ("thread_id", "owner", "created_at_us", "data", "updated_at", "transcript")
    fields = ("thread_id", "title", "owner", "transcript", "data", "created_at_us", "updated_at")
    inlines = [FeedbackInline]

    @admin.display(description=_("status"))
    def status(self, obj: models.Thread) -> str:
        return (obj.data or {}).get("status", {}).get("type", "active")

    @admin.display(description=_("transcript"))
    def transcript(self, obj: models.Thread) -> str:
        items = list(obj.items.order_by("created_at_us", "seq")[:TRANSCRIPT_LIMIT])
        if not items:
            return _("(no items)")
        rows = format_html_join(
            "",
            '<tr><td style="white-space:nowrap"><strong>{}</strong></td><td>{}</td><td><code>{}</code></td></tr>',
            ((item.type.replace("_", " "), item_summary(item), item.item_id) for item in items),
        )
        return format_html('<table class="chatkit-transcript">{}</table>', rows)


@admin.register(models.Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ("attachment_id", "name", "mime_type", "size", "owner", "thread_id", "uploaded", "created_at")
    list_filter = ("mime_type", "created_at")
    search_fields = ("attachment_id", "name", "owner", "thread_id")
    readonly_fields = ("attachment_id", "owner", "thread_id", "data", "created_at")

    @admin.display(boolean=True, description=_("uploaded"))
    def uploaded(self, obj: models.Attachment) -> bool:
        return obj.uploaded


@admin.register(models.Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("item_id", "thread", "owner", "kind", "updated_at")
    list_filter = ("kind", "updated_at")
    search_fields = ("item_id", "thread__thread_id", "owner")
    readonly_fields = ("thread", "item_id", "owner", "kind", "created_at", "updated_at")


@admin.register(models.ThreadRun)
class ThreadRunAdmin(admin.ModelAdmin):
    """Responses being written right now (see django_chatkit.runs); read-only: a run
    is stopped through the app (live WebSocket or ``threads/<id>/stop/``), not edited."""

    list_display = ("thread", "run_id", "owner", "mode", "process", "started_at", "heartbeat_at", "stop_requested")
    list_filter = ("mode", "stop_requested")
    search_fields = ("thread__thread_id", "run_id", "owner")
    readonly_fields = list_display + ("item_id",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
