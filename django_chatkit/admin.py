"""Admin for threads (with a readable transcript), attachments, feedback and widget templates."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from . import models
from .store import attachment_storage
from .widget_admin import WidgetTemplateAdmin  # noqa: F401  (registers the widget template admin)

TRANSCRIPT_LIMIT = 500
#: Owner strings of the default OWNER_RESOLVER for logged-in users: ``user:<pk>``.
USER_OWNER_PREFIX = "user:"
_EPOCH = datetime(1970, 1, 1)


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
        return (
            data.get("copy_text")
            or widget_text(data.get("widget"))
            or f"{data.get('widget', {}).get('type', 'widget')} widget"
        )
    if kind == "client_tool_call":
        return f"{data.get('name')}({json.dumps(data.get('arguments', {}))}) → {data.get('status')}"
    if kind in ("hidden_context_item", "sdk_hidden_context"):
        return f"(hidden) {data.get('content', '')}"
    if kind == "task":
        return _task_text(data.get("task") or {})
    if kind == "workflow":
        tasks = (data.get("workflow") or {}).get("tasks") or []
        return "; ".join(filter(None, (_task_text(task) for task in tasks))) or str(_("(a workflow with no tasks)"))
    if kind == "generated_image":
        return str((data.get("image") or {}).get("url") or _("(image not generated yet)"))
    if kind == "end_of_turn":
        return ""
    return json.dumps(data)[:200]


def _task_text(task: dict[str, Any]) -> str:
    parts = [task.get("title"), task.get("content"), ", ".join(task.get("queries") or [])]
    return " — ".join(str(p) for p in parts if p)


#: Widget props that hold what a reader sees, in the order they are read.
_WIDGET_TEXT_PROPS = ("title", "value", "label", "placeholder", "text", "alt")


def widget_text(node: Any) -> str:
    """The text a widget shows, read top to bottom and joined with " · " (a readable summary)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for prop in _WIDGET_TEXT_PROPS:
                text = value.get(prop)
                if isinstance(text, str) and text.strip():
                    found.append(text.strip())
            for child in (value.get("children"), value.get("options")):
                if isinstance(child, list):
                    for c in child:
                        walk(c)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(node)
    return " · ".join(found)


def sdk_time(microseconds: int | None) -> datetime | None:
    """An SDK timestamp stored as ``created_at_us`` (naive wall-clock time of the server)."""
    if microseconds is None:
        return None
    return _EPOCH + timedelta(microseconds=microseconds)


def owner_users(owners: Iterable[str]) -> dict[str, Any]:
    """The users behind owner strings ``user:<pk>``, in one query: ``{owner: user}``.

    Other owners (anonymous sessions, a custom ``OWNER_RESOLVER``) are left out.
    """
    user_model = get_user_model()
    pks: dict[Any, str] = {}
    for owner in set(owners):
        if owner and owner.startswith(USER_OWNER_PREFIX):
            try:
                pks[user_model._meta.pk.to_python(owner[len(USER_OWNER_PREFIX) :])] = owner
            except ValidationError:
                continue
    if not pks:
        return {}
    return {pks[user.pk]: user for user in user_model._default_manager.filter(pk__in=list(pks))}


def user_link(user: Any) -> str:
    """The user's name, linked to their admin page when there is one."""
    opts = user._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[user.pk])
    except NoReverseMatch:
        return format_html("{}", str(user))
    return format_html('<a href="{}">{}</a>', url, str(user))


def owner_html(owner: str, user: Any) -> str:
    if user is not None:
        return format_html('{} <span class="quiet">({})</span>', user_link(user), owner)
    if owner.startswith("session:"):
        return format_html('{} <span class="quiet">({}…)</span>', _("anonymous session"), owner[:16])
    return owner


if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = object


class OwnerColumnMixin(_AdminBase):
    """An ``owner_user`` column: the owning user's name instead of ``user:<pk>``, with every
    owner of the page resolved in one query."""

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        users = owner_users(row.owner for row in rows)
        for row in rows:
            row.owner_user_obj = users.get(row.owner)
        return changelist

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        """Also find the rows of users whose username contains the search term."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            user_model = get_user_model()
            lookup = {f"{user_model.USERNAME_FIELD}__icontains": term}
            pks = user_model._default_manager.filter(**lookup).values_list("pk", flat=True)[:100]
            owners = [f"{USER_OWNER_PREFIX}{pk}" for pk in pks]
            if owners:
                results = results | queryset.filter(owner__in=owners)
        return results, may_have_duplicates

    @admin.display(description=_("owner"), ordering="owner")
    def owner_user(self, obj: Any) -> str:
        if not hasattr(obj, "owner_user_obj"):  # a single object (change page)
            obj.owner_user_obj = owner_users([obj.owner]).get(obj.owner)
        return owner_html(obj.owner, obj.owner_user_obj)


@admin.register(models.Thread)
class ThreadAdmin(OwnerColumnMixin, admin.ModelAdmin):
    list_display = ("thread_id", "title", "owner_user", "status", "created", "updated_at")
    list_filter = ("updated_at",)
    search_fields = ("thread_id", "title", "owner")
    readonly_fields = ("thread_id", "owner_user", "created", "updated_at", "status", "transcript", "metadata")
    fields = ("thread_id", "title", "owner_user", "status", "created", "updated_at", "transcript", "metadata")

    class Media:
        css = {"all": ("django_chatkit/widgets.css", "django_chatkit/admin_transcript.css")}

    @admin.display(description=_("status"))
    def status(self, obj: models.Thread) -> str:
        return (obj.data or {}).get("status", {}).get("type", "active")

    @admin.display(description=_("created"), ordering="created_at_us")
    def created(self, obj: models.Thread) -> datetime | None:
        return sdk_time(obj.created_at_us)

    @admin.display(description=_("thread metadata"))
    def metadata(self, obj: models.Thread) -> str:
        return format_html('<pre class="chatkit-json">{}</pre>', json.dumps(obj.data, indent=2, ensure_ascii=False))

    @admin.display(description=_("transcript"))
    def transcript(self, obj: models.Thread) -> str:
        items = list(obj.items.order_by("created_at_us", "seq")[: TRANSCRIPT_LIMIT + 1])
        truncated = len(items) > TRANSCRIPT_LIMIT
        items = items[:TRANSCRIPT_LIMIT]
        if not items:
            return str(_("(no items)"))
        feedback: dict[str, list[models.Feedback]] = {}
        for row in obj.feedback.all():
            feedback.setdefault(row.item_id, []).append(row)
        attachment_ids = [a.get("id") for item in items for a in (item.data or {}).get("attachments") or []]
        attachments = {a.attachment_id: a for a in models.Attachment.objects.filter(attachment_id__in=attachment_ids)}
        users = owner_users([obj.owner, *(f.owner for rows in feedback.values() for f in rows)])
        rows = [transcript_row(item, feedback.get(item.item_id, []), attachments, users) for item in items]
        return render_to_string(
            "admin/django_chatkit/thread/transcript.html",
            {"rows": rows, "truncated": truncated, "limit": TRANSCRIPT_LIMIT},
        )


_ROLES = {
    "user_message": _("User"),
    "assistant_message": _("Assistant"),
    "widget": _("Widget"),
    "client_tool_call": _("Client tool"),
    "hidden_context_item": _("Hidden context"),
    "sdk_hidden_context": _("Hidden context"),
    "end_of_turn": _("End of turn"),
    "task": _("Task"),
    "workflow": _("Workflow"),
    "generated_image": _("Generated image"),
}


def transcript_row(
    item: models.ThreadItem,
    feedback: list[models.Feedback],
    attachments: dict[str, models.Attachment],
    users: dict[str, Any],
) -> dict[str, Any]:
    """What the transcript template shows for one item."""
    data = item.data or {}
    row: dict[str, Any] = {
        "id": item.item_id,
        "type": item.type,
        "role": _ROLES.get(item.type, item.type.replace("_", " ")),
        "time": sdk_time(item.created_at_us),
        "feedback": [
            {"kind": f.kind, "who": owner_html(f.owner, users.get(f.owner)), "when": f.updated_at} for f in feedback
        ],
    }
    if item.type in ("user_message", "assistant_message"):
        row["kind"] = "message"
        row["parts"] = [
            {"tag": part.get("type") == "input_tag", "text": part.get("text", "")} for part in data.get("content", [])
        ]
        row["quoted"] = data.get("quoted_text")
        row["attachments"] = [attachment_entry(a, attachments.get(a.get("id"))) for a in data.get("attachments") or []]
    elif item.type == "widget":
        row["kind"] = "widget"
        row["widget_json"] = json.dumps(data.get("widget") or {}, ensure_ascii=False)
        row["text"] = data.get("copy_text") or widget_text(data.get("widget")) or _("(a widget with no text)")
    else:
        row["kind"] = "other"
        row["text"] = item_summary(item)
    return row


def attachment_entry(sdk: dict[str, Any], stored: models.Attachment | None) -> dict[str, Any]:
    entry = {"name": sdk.get("name") or sdk.get("id"), "type": sdk.get("mime_type", ""), "url": None, "admin_url": None}
    if stored is not None:
        entry["admin_url"] = reverse("admin:django_chatkit_attachment_change", args=[stored.pk])
        if stored.uploaded:
            entry["url"] = reverse("admin:django_chatkit_attachment_download", args=[stored.pk])
    return entry


@admin.register(models.Attachment)
class AttachmentAdmin(OwnerColumnMixin, admin.ModelAdmin):
    list_display = ("attachment_id", "name", "mime_type", "size", "owner_user", "thread_id", "uploaded", "created_at")
    list_filter = ("mime_type", "created_at")
    search_fields = ("attachment_id", "name", "owner", "thread_id")
    readonly_fields = ("attachment_id", "owner_user", "thread_id", "download", "data", "created_at")
    exclude = ("owner",)

    @admin.display(boolean=True, description=_("uploaded"))
    def uploaded(self, obj: models.Attachment) -> bool:
        return obj.uploaded

    @admin.display(description=_("file"))
    def download(self, obj: models.Attachment) -> str:
        if not obj.pk or not obj.uploaded:
            return str(_("(not uploaded)"))
        url = reverse("admin:django_chatkit_attachment_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a> ({})', url, obj.name, obj.mime_type)

    def get_urls(self):
        view = self.admin_site.admin_view(self.download_view)
        return [path("<int:object_id>/download/", view, name="django_chatkit_attachment_download"), *super().get_urls()]

    def download_view(self, request: HttpRequest, object_id: int) -> FileResponse:
        """The file, for staff who may view attachments (the chat's own URL serves its owner only)."""
        attachment = get_object_or_404(models.Attachment, pk=object_id)
        if not self.has_view_permission(request, attachment):
            raise PermissionDenied
        if not attachment.uploaded:
            raise Http404("This attachment has not been uploaded.")
        handle = attachment_storage().open(attachment.file.name, "rb")
        return FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.name,
            content_type=attachment.mime_type,
            headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
        )


@admin.register(models.Feedback)
class FeedbackAdmin(OwnerColumnMixin, admin.ModelAdmin):
    list_display = ("kind", "message", "thread", "owner_user", "updated_at")
    list_filter = ("kind", "updated_at")
    search_fields = ("item_id", "thread__thread_id", "owner")
    readonly_fields = ("thread", "message", "item_id", "owner_user", "kind", "created_at", "updated_at")
    exclude = ("owner",)

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        items = models.ThreadItem.objects.filter(
            thread_id__in={row.thread_id for row in rows}, item_id__in={row.item_id for row in rows}
        )
        by_key = {(item.thread_id, item.item_id): item for item in items}
        for row in rows:
            row.rated_item = by_key.get((row.thread_id, row.item_id))
        return changelist

    @admin.display(description=_("message"))
    def message(self, obj: models.Feedback) -> str:
        row: Any = obj  # the changelist sets rated_item on each row it shows
        if not hasattr(row, "rated_item"):
            row.rated_item = models.ThreadItem.objects.filter(thread_id=obj.thread_id, item_id=obj.item_id).first()
        item = row.rated_item
        url = reverse("admin:django_chatkit_thread_change", args=[obj.thread.pk]) + f"#item-{obj.item_id}"
        if item is None:
            return format_html('<a href="{}">{}</a>', url, _("(message deleted: %(id)s)") % {"id": obj.item_id})
        return format_html('<a href="{}">{}</a>', url, Truncator(item_summary(item)).chars(100) or obj.item_id)


@admin.register(models.ThreadRun)
class ThreadRunAdmin(OwnerColumnMixin, admin.ModelAdmin):
    """Responses being written right now (see django_chatkit.runs); read-only: a run
    is stopped through the app (live WebSocket or ``threads/<id>/stop/``), not edited."""

    list_display = ("thread", "run_id", "owner_user", "mode", "process", "started_at", "heartbeat_at", "stop_requested")
    list_filter = ("mode", "stop_requested")
    search_fields = ("thread__thread_id", "run_id", "owner")
    readonly_fields = (*list_display, "item_id")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
