"""Every public error of django_chatkit, in one place.

- :class:`ChatKitRequestError` and its subclasses refuse a request: the transport answers
  with their ``status`` and ``{"error": {"code": ..., "message": ...}}`` before a stream
  starts, an ``error`` event after. Anything else raised while handling a request is a
  500 with a generic message (its traceback is logged).
- Configuration errors are :class:`~django.core.exceptions.ImproperlyConfigured`
  subclasses that name what to set: :class:`ChatKitConfigurationError`,
  :class:`ActionRegistrationError`.
- :class:`ActionRefused` refuses a widget action before its handler runs.
- :class:`WidgetError` and its subclasses: a widget template that cannot produce a valid
  widget, with the JSON path of each :class:`WidgetProblem`.

The modules that raise them re-export them (``from django_chatkit.widgets import
WidgetError`` keeps working).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "ActionRefused",
    "ActionRegistrationError",
    "BadRequest",
    "ChatKitConfigurationError",
    "ChatKitRequestError",
    "Draining",
    "Forbidden",
    "NotAuthenticated",
    "NotConfigured",
    "NotFound",
    "PayloadTooLarge",
    "ThreadBusy",
    "TooManyRequests",
    "WidgetDataError",
    "WidgetError",
    "WidgetNotFound",
    "WidgetOutputError",
    "WidgetProblem",
    "WidgetSchemaError",
    "WidgetTemplateError",
]


# -- refusing a request ------------------------------------------------------------------


class ChatKitRequestError(Exception):
    """A client mistake or refusal, answered with ``status`` and ``{"error": {...}}``.

    A subclass names its answer in its class statement:
    ``class Gone(ChatKitRequestError, status=410, code="gone")``.
    """

    status = 400
    code = "invalid_request"

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = status or cls.status
        cls.code = code or cls.code

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ChatKitRequestError, status=400, code="invalid_request"):
    """The request is malformed or asks for something impossible (a 400)."""


class NotAuthenticated(ChatKitRequestError, status=401, code="not_authenticated"):
    """No user is logged in, and the site lets none but users chat."""


class Forbidden(ChatKitRequestError, status=403, code="permission_denied"):
    """The requester may not do this (a 403; was ``PermissionDenied``, Django's name)."""


class NotFound(ChatKitRequestError, status=404, code="not_found"):
    """No such thread, item or attachment for this owner (another user's look the same)."""


class ThreadBusy(ChatKitRequestError, status=409, code="thread_busy"):
    """Another response is still running in the thread."""


class PayloadTooLarge(ChatKitRequestError, status=413, code="payload_too_large"):
    """The body, or an upload, is over its ``CHATKIT`` limit."""


class TooManyRequests(ChatKitRequestError, status=429, code="rate_limited"):
    """A limit of ``CHATKIT`` was reached; ``retry_after`` (seconds) goes out as ``Retry-After``."""

    def __init__(self, message: str, *, retry_after: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        if code is not None:
            self.code = code


class NotConfigured(ChatKitRequestError, status=501, code="not_configured"):
    """The site has not set up what this operation needs (attachments, say)."""


class Draining(ChatKitRequestError, status=503, code="draining"):
    """The worker is shutting down and takes no new responses."""

    retry_after = 1


# -- configuration -----------------------------------------------------------------------


class ChatKitConfigurationError(ImproperlyConfigured):
    """A ``CHATKIT`` setting is missing or wrong; the message names the key and an example."""

    def __init__(self, key: str, problem: str, example: str) -> None:
        super().__init__(f"CHATKIT[{key!r}] {problem}. Example: CHATKIT = {{{key!r}: {example}}}")
        self.key = key


class ActionRegistrationError(ImproperlyConfigured):
    """``@chatkit_action`` was used wrongly; raised at import time, naming the handler."""


# -- actions -----------------------------------------------------------------------------


class ActionRefused(Exception):
    """An action was refused before its handler ran; ``status`` is the HTTP status for sync actions."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# -- widgets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WidgetProblem:
    """One thing wrong, at a JSON path (``$`` is the whole document)."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class WidgetError(Exception):
    """A widget template could not produce a valid widget.

    ``field`` names what is at fault, in the words of the ``WidgetTemplate`` model:
    ``template``, ``json_schema`` or ``data``.
    """

    field = "template"
    stage = "render"

    def __init__(
        self,
        problems: list[WidgetProblem] | str,
        *,
        template: str | None = None,
        version: int | None = None,
    ) -> None:
        if isinstance(problems, str):
            problems = [WidgetProblem("$", problems)]
        self.problems = problems
        self.template = template
        self.version = version
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"Widget template {self.template!r}" if self.template else "Widget template"
        if self.version is not None:
            where += f" (version {self.version})"
        details = "; ".join(f"{p.path}: {p.message}" for p in self.problems)
        return f"{where}: {self.stage} failed: {details}"

    @property
    def messages(self) -> list[str]:
        """Each problem as ``path: message`` (what the admin shows next to a field)."""
        return [f"{p.path}: {p.message}" for p in self.problems]

    def as_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "version": self.version,
            "stage": self.stage,
            "field": self.field,
            "detail": str(self),
            "errors": [p.as_dict() for p in self.problems],
        }


class WidgetNotFound(WidgetError, LookupError):
    """No template (or no such version of it) exists."""

    stage = "lookup"

    def _describe(self) -> str:
        if self.version is not None:
            return f"Widget template {self.template!r} has no version {self.version}."
        return f"No widget template named {self.template!r}."


class WidgetTemplateError(WidgetError):
    """The Jinja source does not compile, or fails (unsafe access, undefined name) while rendering."""

    stage = "template"


class WidgetSchemaError(WidgetError):
    """The template's ``jsonSchema`` is not a valid JSON Schema."""

    field = "json_schema"
    stage = "schema"


class WidgetDataError(WidgetError):
    """The data does not match the template's JSON Schema (nothing was rendered)."""

    field = "data"
    stage = "data validation"


class WidgetOutputError(WidgetError):
    """The rendered output is not JSON, or not a valid ChatKit widget root."""

    stage = "widget validation"


# -- deprecated names --------------------------------------------------------------------

#: Old name -> (new name, why). Each is kept for one release, with a DeprecationWarning.
_RENAMED = {
    "PermissionDenied": ("Forbidden", "it shadowed django.core.exceptions.PermissionDenied"),
}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        new, why = _RENAMED[name]
        warnings.warn(
            f"django_chatkit.exceptions.{name} is deprecated ({why}): use "
            f"django_chatkit.exceptions.{new}. The old name goes in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
