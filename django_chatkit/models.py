"""Persistent ChatKit data: threads, their items, attachments and feedback.

Each row keeps the full SDK object as JSON (``data``) so a round-trip is exact, plus
indexed columns for ownership, ordering and lookups. Every row carries its ``owner``:
the string the store derives from the request context (by default ``context.user_id``).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

ID_MAX_LENGTH = 128


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
        indexes = [
            models.Index(fields=["owner", "created_at_us", "seq"], name="chatkit_thread_owner_order"),
        ]

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
            models.UniqueConstraint(fields=["thread", "item_id", "owner"], name="chatkit_feedback_once_per_item"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.item_id}"
