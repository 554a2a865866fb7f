"""How failures reach the client: an HTTP status with a JSON body before the stream
starts, an SSE ``error`` event after it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chatkit.store import NotFoundError
from pydantic import ValidationError

from ..exceptions import ChatKitRequestError

if TYPE_CHECKING:
    from .core import EventStream

logger = logging.getLogger("django_chatkit")

JSON_CONTENT_TYPE = "application/json"


@dataclass
class ChatKitResponse:
    status: int
    body: bytes = b""
    stream: EventStream | None = None  # set for streaming ops
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, exc: ChatKitRequestError) -> ChatKitResponse:
        response = cls.json_error(exc.status, exc.code, exc.message)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @classmethod
    def json_error(cls, status: int, code: str, message: str) -> ChatKitResponse:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        return cls(status=status, body=body, headers={"Content-Type": JSON_CONTENT_TYPE})


def error_event(message: str, *, code: str = "custom", allow_retry: bool = False) -> bytes:
    """An SSE ``error`` event, as the SDK would serialize it."""
    payload = {"type": "error", "code": code, "message": message, "allow_retry": allow_retry}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def describe_exception(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        problems = []
        for error in exc.errors()[:5]:
            where = ".".join(str(part) for part in error.get("loc", ())) or "body"
            problems.append(f"{where}: {error.get('msg')}")
        return "Invalid request: " + "; ".join(problems)
    return str(exc) or type(exc).__name__


def response_for_exception(exc: BaseException) -> ChatKitResponse:
    """Map an exception raised before any byte was sent to an HTTP status."""
    if isinstance(exc, ChatKitRequestError):
        return ChatKitResponse.error(exc)
    if isinstance(exc, NotFoundError):
        return ChatKitResponse.json_error(404, "not_found", str(exc) or "Not found")
    if isinstance(exc, ValidationError):
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return ChatKitResponse.json_error(400, "invalid_json", "The request body is not valid JSON.")
        return ChatKitResponse.json_error(400, "invalid_request", describe_exception(exc))
    if isinstance(exc, (ValueError, TypeError)):
        # The SDK raises ValueError for requests that do not fit the thread's state.
        return ChatKitResponse.json_error(400, "invalid_request", describe_exception(exc))
    if isinstance(exc, NotImplementedError):
        return ChatKitResponse.json_error(501, "not_implemented", describe_exception(exc))
    logger.error("ChatKit request failed", exc_info=exc)
    return ChatKitResponse.json_error(500, "server_error", "The server failed to handle this request.")
