"""The request core both transports share: checks, context, SDK call, streaming.

A transport (the Channels consumer or the async view) hands over the Django request
and its body and gets back a :class:`ChatKitResponse`: either a complete JSON body or
an :class:`EventStream`. The two transports differ only in how bytes reach the socket.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
from typing import Any

from chatkit.server import ChatKitServer, NonStreamingResult
from chatkit.types import (
    InputTranscribeReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    UserMessageItem,
    WidgetItem,
    is_streaming_req,
)
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware

from .. import limits, runs
from ..adopt import get_chatkit_server, owner_of
from ..compat import parse_request
from ..conf import chatkit_settings
from ..db import on_thread, pick_thread
from ..exceptions import BadRequest, PayloadTooLarge
from ..exceptions import Forbidden as PermissionDenied
from ..limits import check_request_bounds
from ..store import check_message_attachments
from .errors import JSON_CONTENT_TYPE, ChatKitResponse, response_for_exception
from .shutdown import install_drain_handler
from .stream import EventStream

logger = logging.getLogger("django_chatkit")

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    # nginx and most proxies buffer responses unless told not to.
    "X-Accel-Buffering": "no",
}


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:
        return reason


def _no_view(request: HttpRequest) -> HttpResponseBase:
    raise AssertionError("the CSRF check never calls the view")


def csrf_failure(request: HttpRequest) -> str | None:
    """The CSRF failure reason for a cookie-authenticated request, else None."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return None  # not authenticated by cookie: nothing for a forged request to ride on
    check = _CsrfCheck(lambda r: None)  # type: ignore[arg-type]
    check.process_request(request)
    try:  # the check reads a form body's csrfmiddlewaretoken: Django's form limits apply
        return check.process_view(request, _no_view, (), {})  # type: ignore[return-value]
    except RequestDataTooBig as exc:
        raise PayloadTooLarge("The request body is over DATA_UPLOAD_MAX_MEMORY_SIZE.") from exc
    except (TooManyFieldsSent, TooManyFilesSent) as exc:
        raise BadRequest(f"The form has too many fields: {exc}") from exc


def csrf_refusal(reason: str) -> str:
    """The 403 message for a CSRF failure, with what to change."""
    if reason.startswith(("Origin checking failed", "Referer checking failed")):
        return (
            f"CSRF check failed: {reason}. The page's origin is not trusted: add it "
            "(scheme://host:port, as the browser's address bar shows it) to "
            "settings.CSRF_TRUSTED_ORIGINS; behind a proxy, see the deployment docs."
        )
    return (
        f"CSRF check failed: {reason}. Send the CSRF cookie's value as the X-CSRFToken header "
        "(django_chatkit/fetch.js does it for the official ChatKit UI)."
    )


async def build_context(request: HttpRequest) -> object:
    """The request's context, as ``CHATKIT["CONTEXT_BUILDER"]`` builds it: a
    :class:`~django_chatkit.context.RequestContext` by default, a site's own type otherwise."""
    builder = chatkit_settings.CONTEXT_BUILDER
    context = builder(request)
    if inspect.isawaitable(context):
        context = await context
    return context


def _with_request_metadata(context: object, parsed: Any) -> None:
    """Expose the request's metadata and composer tool choice as ``context.metadata``."""
    metadata = getattr(context, "metadata", None)
    if not isinstance(metadata, dict):
        return
    metadata.update(parsed.metadata or {})
    params = getattr(parsed, "params", None)
    user_input = getattr(params, "input", None)
    options = getattr(user_input, "inference_options", None)
    tool_choice = getattr(options, "tool_choice", None)
    if tool_choice is not None:
        metadata["tool_choice"] = tool_choice.id
    model = getattr(options, "model", None)
    if model:
        metadata["model"] = model


async def _check_referenced_item(server: ChatKitServer[Any], parsed: Any, context: object) -> None:
    """Refuse item references the SDK would silently ignore or answer vaguely."""
    params = parsed.params
    if isinstance(parsed, InputTranscribeReq):
        try:
            base64.b64decode(params.audio_base64, validate=True)  # the SDK decodes it unchecked
        except ValueError:
            raise BadRequest("params.audio_base64: not valid base64.") from None
    user_input = getattr(params, "input", None)
    attachment_ids = list(getattr(user_input, "attachments", None) or ())
    check_message_attachments(attachment_ids)  # before any read: duplicates, count
    for attachment_id in attachment_ids:
        # The SDK creates the thread before it loads attachments: check first, write nothing.
        await server.store.load_attachment(attachment_id, context)
    if isinstance(parsed, ThreadsRetryAfterItemReq):
        item = await server.store.load_item(params.thread_id, params.item_id, context)
        if not isinstance(item, UserMessageItem):
            raise BadRequest(f"Item {params.item_id} is not a user message; only user messages can be retried.")
    elif isinstance(parsed, (ThreadsCustomActionReq, ThreadsSyncCustomActionReq)) and params.item_id:
        item = await server.store.load_item(params.thread_id, params.item_id, context)
        if not isinstance(item, WidgetItem):
            raise BadRequest(f"Item {params.item_id} is a {item.type}, not a widget; actions need a widget sender.")


def content_length(request: HttpRequest) -> int | None:
    """The request's declared body length (``None`` if absent or not a number)."""
    return parse_length(request.META.get("CONTENT_LENGTH"))


def parse_length(value: str | bytes | None) -> int | None:
    """A ``Content-Length`` header's value as a number of bytes, ``None`` if absent or not one."""
    try:
        return int(value or "")
    except ValueError:
        return None


def refuse_size(size: int | None) -> ChatKitResponse | None:
    """The 413 for a request body of ``size`` bytes over ``CHATKIT["MAX_REQUEST_BYTES"]``, else None.

    The one size rule: a transport applies it to the declared length and to what it has read
    so far (to stop reading early), :func:`handle_chatkit_request` to the whole body.
    """
    limit = chatkit_settings.MAX_REQUEST_BYTES
    if size is None or size <= limit:
        return None
    return ChatKitResponse.error(PayloadTooLarge(f"The request body is over the {limit}-byte limit."))


async def handle_chatkit_request(request: HttpRequest, body: bytes) -> ChatKitResponse:
    """Answer one ChatKit request; never raises for a client mistake."""
    install_drain_handler()
    if request.method != "POST":
        response = ChatKitResponse.json_error(405, "method_not_allowed", "Send ChatKit requests with POST.")
        response.headers["Allow"] = "POST"
        return response
    refusal = refuse_size(len(body))
    if refusal is not None:
        return refusal
    owner = streaming = None  # whose streaming slot this request holds (django_chatkit.limits)
    try:
        reason = csrf_failure(request)
        if reason:
            raise PermissionDenied(csrf_refusal(reason))
        database = pick_thread()
        async with on_thread(database, refresh=True):
            context = await build_context(request)
            parsed = parse_request(body)
            check_request_bounds(body)  # NUL bytes, lengths, integers: before any write
            owner = owner_of(context)
            limits.check_rate(owner)
            if is_streaming_req(parsed):
                limits.take_stream(owner)
                streaming = owner
            _with_request_metadata(context, parsed)
            server = get_chatkit_server()
            await _check_referenced_item(server, parsed, context)
            await runs.before_request(parsed, owner)
            process_parsed = getattr(server, "process_parsed", None)
            if process_parsed is not None:
                result = await process_parsed(parsed, context)
            else:  # a ChatKitServer that is not this app's parses the body itself
                result = await server.process(body, context)
    except Exception as exc:
        if streaming is not None:
            limits.release_stream(streaming)
        return response_for_exception(exc)  # a 429 keeps its Retry-After
    except BaseException:  # cancelled (the client left while it waited for a busy thread)
        if streaming is not None:
            limits.release_stream(streaming)
        raise

    if isinstance(result, NonStreamingResult):
        if streaming is not None:
            limits.release_stream(streaming)
        return ChatKitResponse(status=200, body=result.json, headers={"Content-Type": JSON_CONTENT_TYPE})

    stream = EventStream(
        # The run gives the stream slot back as it ends (one generator layer less per event).
        runs.supervise(parsed, owner, aiter(result), ended=lambda: limits.release_stream(owner)),
        detach_on_disconnect=chatkit_settings.DISCONNECT == "continue",
        database=database,
    )
    try:
        first = await stream.first()
    except asyncio.CancelledError:
        await stream.stop()  # the client left before the first event: same as after it
        raise
    if first is None and stream.startup_error is not None:
        return response_for_exception(stream.startup_error)
    return ChatKitResponse(status=200, stream=stream, headers=dict(SSE_HEADERS))
