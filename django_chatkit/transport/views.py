"""The plain async Django views: the ChatKit endpoint and attachment up/download."""

from __future__ import annotations

from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from .. import models
from ..adopt import owner_of
from ..conf import chatkit_settings
from ..exceptions import BadRequest, ChatKitRequestError, Forbidden, NotFound, PayloadTooLarge
from ..limits import check_attachment_quota, owner_lock
from ..store import RASTER_IMAGE_TYPES, attachment_storage, check_attachment_allowed, parse_mime_type
from .core import (
    ChatKitResponse,
    build_context,
    content_length,
    csrf_failure,
    csrf_refusal,
    handle_chatkit_request,
    refuse_size,
)
from .errors import ResponseStream


def _to_http(response: ChatKitResponse) -> HttpResponseBase:
    if response.stream is not None:
        http: HttpResponseBase = StreamingHttpResponse(_drain(response.stream), status=response.status)
    else:
        http = HttpResponse(response.body, status=response.status)
    for name, value in response.headers.items():
        http[name] = value
    return http


async def _drain(stream: ResponseStream) -> AsyncIterator[bytes]:
    try:
        async for batch in stream.batches():
            yield batch
    finally:
        # Normal end: the task is done. Disconnect: Django cancels us; stop the SDK too.
        await stream.stop()


@csrf_exempt  # the core checks CSRF itself, identically for both transports
async def chatkit_view(request: HttpRequest) -> HttpResponseBase:
    """The ChatKit endpoint as a plain async view (``api.url`` of the ChatKit UI)."""
    refusal = refuse_size(content_length(request))
    if refusal is not None:
        return _to_http(refusal)
    try:
        body = request.body
    except RequestDataTooBig:  # MAX_REQUEST_BYTES above Django's DATA_UPLOAD_MAX_MEMORY_SIZE
        return _to_http(ChatKitResponse.error(PayloadTooLarge("The request body is over DATA_UPLOAD_MAX_MEMORY_SIZE.")))
    return _to_http(await handle_chatkit_request(request, body))


async def _owned_attachment(request: HttpRequest, attachment_id: str) -> models.Attachment:
    owner = owner_of(await build_context(request))
    attachment = await models.Attachment.objects.filter(attachment_id=attachment_id, owner=owner).afirst()
    if attachment is None:
        raise NotFound(f"Attachment {attachment_id} not found")
    return attachment


@csrf_exempt
async def attachment_upload(request: HttpRequest, attachment_id: str) -> HttpResponseBase:
    """Second phase of an upload: the file's bytes (multipart ``file`` field or a raw body)."""
    try:
        if request.method not in ("POST", "PUT"):
            raise BadRequest("Upload the file with POST or PUT.")
        reason = csrf_failure(request)
        if reason:
            raise Forbidden(csrf_refusal(reason))
        attachment = await _owned_attachment(request, attachment_id)
        if attachment.thread_id:
            raise BadRequest(f"Attachment {attachment_id} was sent in a message; its file cannot be replaced.")
        limit = chatkit_settings.ATTACHMENT_MAX_BYTES
        declared = content_length(request)
        if declared is not None and declared > limit + 64 * 1024:  # room for multipart framing
            raise PayloadTooLarge(f"The file is over the {limit}-byte attachment limit.")
        upload = await sync_to_async(_uploaded_file)(request, attachment, limit)
        if upload.size > limit:
            raise PayloadTooLarge(f"The file is {upload.size} bytes; the attachment limit is {limit} bytes.")
        try:
            check_attachment_allowed(attachment.mime_type, upload.size)
            # The quota's sum and the size it admits in one step per user: uploads sent at
            # once cannot all pass the sum before any of them is recorded.
            async with owner_lock(attachment.owner):
                await check_attachment_quota(attachment.owner, upload.size, excluding=attachment.attachment_id)
                await sync_to_async(_store_file)(attachment, upload)
        finally:
            upload.close()
    except ChatKitRequestError as exc:
        return _to_http(ChatKitResponse.error(exc))
    return _to_http(ChatKitResponse(status=200, body=b'{"ok": true}', headers={"Content-Type": "application/json"}))


def _uploaded_file(request: HttpRequest, attachment: models.Attachment, limit: int):
    """The uploaded file, read at most ``limit`` bytes past the limit whatever the framing
    (a declared length, chunked), and refused with JSON errors, never Django's HTML pages."""
    from django.core.files.uploadedfile import TemporaryUploadedFile
    from django.http.multipartparser import MultiPartParserError

    if request.content_type == "multipart/form-data":
        try:
            files = request.FILES
        except RequestDataTooBig as exc:
            raise PayloadTooLarge(f"The file is over the {limit}-byte attachment limit.") from exc
        except (TooManyFieldsSent, TooManyFilesSent) as exc:
            raise BadRequest(f"The upload has too many form fields: {exc}") from exc
        except MultiPartParserError as exc:
            raise BadRequest(f"The multipart upload cannot be read: {exc}") from exc
        upload = files.get("file") or next(iter(files.values()), None)
        if upload is None:
            raise BadRequest("The multipart upload has no file field.")
        return upload
    # A raw body: read from the stream (request.body would refuse anything over Django's
    # DATA_UPLOAD_MAX_MEMORY_SIZE with an HTML page, far below the attachment limit).
    upload = TemporaryUploadedFile(attachment.name[:200], attachment.mime_type, 0, None)
    size = 0
    while True:
        chunk = request.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            upload.close()
            raise PayloadTooLarge(f"The file is over the {limit}-byte attachment limit.")
        upload.write(chunk)
    upload.size = size
    upload.seek(0)
    return upload


def _store_file(attachment: models.Attachment, upload) -> None:
    storage = attachment_storage()
    if attachment.file:
        storage.delete(attachment.file.name)
    name = storage.save(f"{chatkit_settings.ATTACHMENT_UPLOAD_TO}{attachment.attachment_id}/{attachment.name}", upload)
    data = dict(attachment.data)
    data["upload_descriptor"] = None  # the SDK's sign that the upload is complete
    models.Attachment.objects.filter(pk=attachment.pk).update(file=name, size=upload.size, data=data)


async def attachment_download(request: HttpRequest, attachment_id: str) -> HttpResponseBase:
    """The attachment's bytes, for its owner only (404 for anyone else)."""
    return await _serve(request, attachment_id, inline=False)


async def attachment_preview(request: HttpRequest, attachment_id: str) -> HttpResponseBase:
    """The image shown in the composer and transcript (``preview_url``)."""
    return await _serve(request, attachment_id, inline=True)


def _served_type(stored: str) -> str:
    """The stored type, or ``application/octet-stream`` for a row older than the checks."""
    try:
        return parse_mime_type(stored)
    except BadRequest:
        return "application/octet-stream"


async def _serve(request: HttpRequest, attachment_id: str, *, inline: bool) -> HttpResponseBase:
    try:
        attachment = await _owned_attachment(request, attachment_id)
        if not attachment.file:
            raise NotFound(f"Attachment {attachment_id} has not been uploaded yet")
        handle = await sync_to_async(attachment_storage().open)(attachment.file.name, "rb")
    except ChatKitRequestError as exc:
        return _to_http(ChatKitResponse.error(exc))
    # Served from the site's origin, a file must never run as a page of the site: only raster
    # images are shown inline, the browser may not guess another type, and a document that
    # is opened anyway is sandboxed (no script, a unique origin).
    served = _served_type(attachment.mime_type)
    return FileResponse(
        handle,
        as_attachment=not (inline and served in RASTER_IMAGE_TYPES),
        filename=attachment.name,
        content_type=served,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=0",
        },
    )
