"""How failures reach the client: an HTTP status with a JSON body before the stream
starts, an SSE ``error`` event after it."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatkit.store import NotFoundError
from pydantic import ValidationError

from ..exceptions import ChatKitRequestError

logger = logging.getLogger("django_chatkit")

JSON_CONTENT_TYPE = "application/json"


def error_payload(code: str, message: str) -> dict[str, Any]:
    """The error body of every endpoint of the app: ``{"error": {"code", "message"}}``."""
    return {"error": {"code": code, "message": message}}


class ResponseStream(Protocol):
    """What a streaming response gives its transport (the core's ``EventStream``)."""

    def batches(self) -> AsyncIterator[bytes]:
        """The SSE bytes, in batches of events produced back to back (a transport that
        pulls: Django's streaming response)."""

    async def push_to(self, write: Callable[[bytes], Awaitable[None]], finish: Callable[[], Awaitable[None]]) -> None:
        """Write the SSE bytes with ``write`` as they are produced, from the producer's
        task, and end the response with ``finish`` (a transport that can send from any
        task: the Channels consumer); returns once what is pending is written."""

    async def stop(self) -> None:
        """Stop producing (the client went away, or the transport is done)."""


@dataclass
class ChatKitResponse:
    status: int
    body: bytes = b""
    stream: ResponseStream | None = None  # set for streaming ops
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
        body = json.dumps(error_payload(code, message)).encode()
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


#: Modules of the SDK whose ``ValueError`` / ``NotImplementedError`` refuse a request
#: (an item of the wrong type, a handler the server does not implement): the client's
#: mistake. The same exceptions from anywhere else are a bug of the site's code.
SDK_REFUSING_MODULES = frozenset({"chatkit.server", "chatkit.store"})

GENERIC_MESSAGE = "The server failed to handle this request."


def raised_by_sdk(exc: BaseException) -> bool:
    """True when ``exc`` was raised by the SDK's request handling itself."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_globals.get("__name__") in SDK_REFUSING_MODULES


def http_exception_parts(exc: BaseException) -> tuple[int, str] | None:
    """``(status, message)`` of an exception that says its own HTTP status, the way
    FastAPI's and Starlette's ``HTTPException(400, detail=...)`` do; None otherwise."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        return None
    if not hasattr(exc, "detail"):
        return None
    detail = exc.detail
    message = detail if isinstance(detail, str) else json.dumps(detail, default=str)
    return status, message or "Request refused."


def client_error(exc: BaseException) -> tuple[int, str, str] | None:
    """``(status, code, message)`` when ``exc`` refuses the request for a reason the
    client should see; None for a bug (answered with a generic 500)."""
    if isinstance(exc, ChatKitRequestError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, NotFoundError):
        return 404, "not_found", str(exc) or "Not found"
    if isinstance(exc, ValidationError):
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return 400, "invalid_json", "The request body is not valid JSON."
        return 400, "invalid_request", describe_exception(exc)
    http = http_exception_parts(exc)
    if http is not None:
        status, message = http
        return status, "invalid_request" if status < 500 else "server_error", message
    if isinstance(exc, NotImplementedError) and raised_by_sdk(exc):
        return 501, "not_implemented", describe_exception(exc)
    if isinstance(exc, ValueError) and raised_by_sdk(exc):
        # The SDK raises ValueError for requests that do not fit the thread's state. (Its
        # TypeError is a bug too: a handler of the site with the wrong signature, say.)
        return 400, "invalid_request", describe_exception(exc)
    return None


def response_for_exception(exc: BaseException) -> ChatKitResponse:
    """Map an exception raised before any byte was sent to an HTTP status; a bug in the
    site's code is a 500 whose body says nothing about it (the traceback is logged)."""
    if isinstance(exc, ChatKitRequestError):
        return ChatKitResponse.error(exc)  # with its Retry-After, if it has one
    refused = client_error(exc)
    if refused is not None:
        return ChatKitResponse.json_error(*refused)
    logger.error("ChatKit request failed", exc_info=exc)
    return ChatKitResponse.json_error(500, "server_error", GENERIC_MESSAGE)


def stream_error_event(exc: BaseException) -> bytes:
    """The ``error`` event for an exception raised after the stream started: the reason
    of a refusal, a generic message for a bug (whose traceback the caller logs)."""
    refused = client_error(exc)
    return error_event(refused[2] if refused else GENERIC_MESSAGE, code="stream.error")
