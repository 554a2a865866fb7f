"""System checks: configuration mistakes reported by ``manage.py check``.

Ids are stable: ``django_chatkit.E001`` … for errors, ``W0xx`` for warnings.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .conf import DEFAULTS, chatkit_settings


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list:
    from chatkit.server import ChatKitServer

    problems: list = []
    user = getattr(settings, "CHATKIT", {})
    if not isinstance(user, dict):
        return [Error("settings.CHATKIT must be a dict.", hint="CHATKIT = {}", id="django_chatkit.E001")]
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        problems.append(
            Warning(
                f"Unknown CHATKIT keys: {', '.join(unknown)}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="django_chatkit.W001",
            )
        )
    for key, expected, code in (
        ("SERVER_CLASS", "a ChatKitServer subclass", "E002"),
        ("CONTEXT_BUILDER", "a callable (request) -> context", "E003"),
        ("OWNER_RESOLVER", "a callable (context) -> str", "E004"),
        ("TRANSCRIBER", "a callable (audio_input, context) -> TranscriptionResult", "E005"),
    ):
        try:
            value = getattr(chatkit_settings, key)
        except ImproperlyConfigured as exc:
            problems.append(Error(str(exc), id=f"django_chatkit.{code}"))
            continue
        if value is None:
            continue
        if key == "SERVER_CLASS":
            ok = isinstance(value, type) and issubclass(value, ChatKitServer)
        else:
            ok = callable(value)
        if not ok:
            problems.append(
                Error(f"CHATKIT[{key!r}] must be {expected}, got {value!r}.", id=f"django_chatkit.{code}")
            )
    try:
        policy = chatkit_settings.AUTH_POLICY
    except ImproperlyConfigured as exc:
        problems.append(Error(str(exc), id="django_chatkit.E006"))
        policy = None
    if policy and not apps.is_installed("django.contrib.sessions"):
        problems.append(
            Warning(
                "The default context builder authenticates with Django sessions, "
                "but django.contrib.sessions is not installed.",
                hint="Add 'django.contrib.sessions' to INSTALLED_APPS or set CHATKIT['CONTEXT_BUILDER'].",
                id="django_chatkit.W002",
            )
        )
    for key in ("MAX_REQUEST_BYTES", "ATTACHMENT_MAX_BYTES"):
        try:
            valid = getattr(chatkit_settings, key) > 0
        except (TypeError, ValueError):
            valid = False
        if not valid:
            problems.append(
                Error(f"CHATKIT[{key!r}] must be a positive number of bytes.", id="django_chatkit.E007")
            )
    return problems
