"""Persistent ChatKit data: threads, their items, attachments, feedback and widget templates.

Each row keeps the full SDK object as JSON (``data``) so a round-trip is exact, plus
indexed columns for ownership, ordering and lookups. Every row carries its ``owner``:
the string the store derives from the request context (by default ``context.user_id``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from .widgets.definition import WidgetDefinition

ID_MAX_LENGTH = 128


class OrderedJSONField(models.JSONField):
    """JSON stored as text, so key order survives every database (PostgreSQL's jsonb
    reorders keys): an exported ``.widget`` file matches the imported one byte for byte."""

    def db_type(self, connection) -> str:
        return "text"

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        return json.dumps(value, cls=self.encoder)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return json.loads(value, cls=self.decoder)


class Thread(models.Model):
    """A ChatKit thread (``chatkit.types.ThreadMetadata``)."""

    seq = models.BigAutoField(primary_key=True)
    thread_id = models.CharField(_("thread id"), max_length=ID_MAX_LENGTH, unique=True)
    owner = models.CharField(_("owner"), max_length=255)
    title = models.CharField(_("title"), max_length=1024, blank=True, null=True)
    created_at_us = models.BigIntegerField(
        _("created at (µs)"), help_text=_("The SDK's naive created_at, as microseconds since 1970-01-01.")
    )
    data = models.JSONField(_("thread metadata"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("thread")
        verbose_name_plural = _("threads")
        indexes = [models.Index(fields=["owner", "created_at_us", "seq"], name="chatkit_thread_owner_order")]

    def __str__(self) -> str:
        return self.title or self.thread_id


class ThreadItem(models.Model):
    """One item of a thread (any member of ``chatkit.types.ThreadItem``)."""

    seq = models.BigAutoField(primary_key=True)
    thread = models.ForeignKey(
        Thread,
        to_field="thread_id",
        on_delete=models.CASCADE,
        related_name="items",
        db_column="thread_id",
    )
    item_id = models.CharField(_("item id"), max_length=ID_MAX_LENGTH)
    owner = models.CharField(_("owner"), max_length=255)
    type = models.CharField(_("type"), max_length=64)
    created_at_us = models.BigIntegerField(_("created at (µs)"))
    data = models.JSONField(_("item"))

    class Meta:
        verbose_name = _("thread item")
        verbose_name_plural = _("thread items")
        constraints = [
            models.UniqueConstraint(fields=["thread", "item_id"], name="chatkit_item_unique_in_thread"),
        ]
        indexes = [
            models.Index(fields=["thread", "created_at_us", "seq"], name="chatkit_item_thread_order"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.item_id}"


class Attachment(models.Model):
    """An uploaded file (``chatkit.types.Attachment``); ``file`` is empty until the upload arrives."""

    seq = models.BigAutoField(primary_key=True)
    attachment_id = models.CharField(_("attachment id"), max_length=ID_MAX_LENGTH, unique=True)
    owner = models.CharField(_("owner"), max_length=255, db_index=True)
    thread_id = models.CharField(_("thread id"), max_length=ID_MAX_LENGTH, blank=True, null=True, db_index=True)
    name = models.CharField(_("name"), max_length=1024)
    mime_type = models.CharField(_("MIME type"), max_length=255)
    size = models.BigIntegerField(_("declared size"), default=0)
    file = models.FileField(_("file"), max_length=1024, blank=True)
    data = models.JSONField(_("attachment"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name

    @property
    def uploaded(self) -> bool:
        return bool(self.file)


class Feedback(models.Model):
    """A user's thumbs up or down on an item (``items.feedback``)."""

    class Kind(models.TextChoices):
        POSITIVE = "positive", _("positive")
        NEGATIVE = "negative", _("negative")

    thread = models.ForeignKey(
        Thread, to_field="thread_id", on_delete=models.CASCADE, related_name="feedback", db_column="thread_id"
    )
    item_id = models.CharField(_("item id"), max_length=ID_MAX_LENGTH)
    owner = models.CharField(_("owner"), max_length=255)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [
            models.UniqueConstraint(fields=["thread", "item_id", "owner"], name="chatkit_feedback_once_per_item")
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.item_id}"


class ThreadRun(models.Model):
    """The response running in a thread. At most one per thread: the row is the lock.

    Created when a streaming request starts and deleted when its response ends; a row
    left behind by a process that died is recovered by :mod:`django_chatkit.runs`.
    """

    thread = models.OneToOneField(
        Thread,
        to_field="thread_id",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="run",
        db_column="thread_id",
    )
    run_id = models.CharField(_("run id"), max_length=64, unique=True)
    owner = models.CharField(_("owner"), max_length=255)
    process = models.CharField(_("process"), max_length=255, help_text=_("host:pid:token of the process running it."))
    mode = models.CharField(_("disconnect mode"), max_length=16)
    item_id = models.CharField(
        _("in-progress item id"),
        max_length=ID_MAX_LENGTH,
        blank=True,
        help_text=_("The checkpointed assistant message."),
    )
    stop_requested = models.BooleanField(_("stop requested"), default=False)
    started_at = models.DateTimeField(_("started at"))
    heartbeat_at = models.DateTimeField(_("last heartbeat"))

    class Meta:
        verbose_name = _("running response")
        verbose_name_plural = _("running responses")

    def __str__(self) -> str:
        return f"{self.run_id} in {self.thread_id}"


class WidgetTemplate(models.Model):
    """A reusable widget: a ``.widget`` template (Jinja producing widget JSON) and its data schema.

    Every save that changes the content records a :class:`WidgetTemplateVersion`, so the
    full history is kept and any version can be restored (restoring makes a new version).
    """

    #: What a version records; a save that changes none of these makes no new version.
    CONTENT_FIELDS = ("title", "description", "template", "json_schema", "sample_data", "extra", "lenient")

    name = models.CharField(
        _("name"),
        max_length=200,
        unique=True,
        help_text=_("How code refers to the template: render_widget(name, data)."),
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    template = models.TextField(
        _("template"), help_text=_("Jinja source whose output is widget JSON. Use {{ value|tojson }} for values.")
    )
    json_schema = OrderedJSONField(
        _("JSON Schema"), default=dict, blank=True, help_text=_("The data the template accepts.")
    )
    sample_data = OrderedJSONField(
        _("sample data"), null=True, blank=True, help_text=_("Data used to check and preview the template.")
    )
    extra = OrderedJSONField(
        _("other .widget keys"),
        default=dict,
        blank=True,
        help_text=_("Kept so an export reproduces the imported file."),
    )
    lenient = models.BooleanField(
        _("lenient (the SDK's rules)"),
        default=False,
        help_text=_(
            "Render as the ChatKit SDK does: the data is not checked against the schema and an "
            "undefined value renders as nothing. For .widget files written for the SDK."
        ),
    )
    version = models.PositiveIntegerField(_("version"), default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("widget template")
        verbose_name_plural = _("widget templates")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.title or self.name

    def save(self, *args, comment: str = "", user=None, **kwargs) -> None:
        """Save, recording a new version when the content changed."""
        with transaction.atomic():
            latest = self.versions.order_by("-version").first() if self.pk else None
            changed = latest is None or latest.content() != self.content()
            if changed:
                self.version = (latest.version if latest else 0) + 1
            super().save(*args, **kwargs)
            if changed:
                WidgetTemplateVersion.objects.create(
                    widget_template=self,
                    version=self.version,
                    comment=comment[:255],
                    created_by=user if getattr(user, "pk", None) else None,
                    **self.content(),
                )

    def content(self) -> dict:
        return {name: getattr(self, name) for name in self.CONTENT_FIELDS}

    def definition(self) -> WidgetDefinition:
        """This template's current version as a :class:`django_chatkit.widgets.WidgetDefinition`."""
        return _definition(self.name, self.version or None, self.content())

    def restore(self, version: int, *, user=None) -> WidgetTemplateVersion:
        """Make ``version``'s content current again (recorded as a new version)."""
        old = self.versions.get(version=version)
        for name in self.CONTENT_FIELDS:
            setattr(self, name, getattr(old, name))
        self.save(comment=f"Restored version {version}", user=user)
        return self.versions.get(version=self.version)


class WidgetTemplateVersion(models.Model):
    """One saved state of a :class:`WidgetTemplate`."""

    widget_template = models.ForeignKey(
        WidgetTemplate, on_delete=models.CASCADE, related_name="versions", verbose_name=_("widget template")
    )
    version = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    template = models.TextField(_("template"))
    json_schema = OrderedJSONField(_("JSON Schema"), default=dict, blank=True)
    sample_data = OrderedJSONField(_("sample data"), null=True, blank=True)
    extra = OrderedJSONField(_("other .widget keys"), default=dict, blank=True)
    lenient = models.BooleanField(_("lenient (the SDK's rules)"), default=False)
    comment = models.CharField(_("comment"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("widget template version")
        verbose_name_plural = _("widget template versions")
        ordering = ("widget_template", "-version")
        constraints = [
            models.UniqueConstraint(fields=["widget_template", "version"], name="chatkit_widget_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.widget_template.name} v{self.version}"

    def content(self) -> dict:
        return {name: getattr(self, name) for name in WidgetTemplate.CONTENT_FIELDS}

    def definition(self) -> WidgetDefinition:
        """This version as a :class:`django_chatkit.widgets.WidgetDefinition`."""
        return _definition(self.widget_template.name, self.version, self.content())


def _definition(name: str, version: int | None, content: dict) -> WidgetDefinition:
    # Imported here, not at the top: the models stay light to import (no Jinja, no SDK).
    from .widgets.definition import WidgetDefinition

    filled = {"json_schema": content["json_schema"] or {}, "extra": content["extra"] or {}}
    return WidgetDefinition(name=name, version=version, **{**content, **filled})
