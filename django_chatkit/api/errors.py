"""DRF's errors in the app's one error envelope, ``{"error": {"code", "message"}}``, like the
ChatKit endpoint's (instead of DRF's ``{"detail": ...}``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import exception_handler

from ..transport.errors import error_payload


def _message(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_message(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_message(value) for value in detail)
    return str(detail)


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, its answer rewritten into the envelope (None still means a 500)."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, Http404):  # DRF answers Django's 404 and 403 as its own
        exc = NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied()
    if isinstance(exc, APIException):
        code = exc.get_codes()
        response.data = error_payload(code if isinstance(code, str) else exc.default_code, _message(exc.detail))
    return response


class EnvelopeErrors:
    """A DRF view mixin: the view's errors use the app's envelope, whatever the site's
    ``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` is."""

    def get_exception_handler(self) -> Any:
        return envelope_exception_handler
