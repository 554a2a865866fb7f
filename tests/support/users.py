"""Users for tests."""

from __future__ import annotations

from django.contrib.auth import get_user_model


def make_user(username: str):
    """A user with the password ``pw-<username>``."""
    return get_user_model().objects.create_user(username=username, password=f"pw-{username}")
