"""Models the test suite needs (created without migrations in the test database)."""

from django.conf import settings
from django.db import models


class Note(models.Model):
    """A private note: the entity source of the @-mention tests (visible to its owner)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.title
