"""Errors the transport turns into an HTTP status with a JSON body (or an ``error`` event)."""

from __future__ import annotations


class ChatKitRequestError(Exception):
    """A client mistake or refusal, answered with ``status`` and ``{"error": {...}}``."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ChatKitRequestError):
    status = 400
    code = "invalid_request"


class NotAuthenticated(ChatKitRequestError):
    status = 401
    code = "not_authenticated"


class PermissionDenied(ChatKitRequestError):
    status = 403
    code = "permission_denied"


class NotFound(ChatKitRequestError):
    status = 404
    code = "not_found"


class PayloadTooLarge(ChatKitRequestError):
    status = 413
    code = "payload_too_large"


class TooManyRequests(ChatKitRequestError):
    """A limit of ``CHATKIT`` was reached; ``retry_after`` (seconds) goes out as ``Retry-After``."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        if code is not None:
            self.code = code


class NotConfigured(ChatKitRequestError):
    status = 501
    code = "not_configured"
