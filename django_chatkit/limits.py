"""Bounds on what a request may carry, and how much one user may ask of a process.

Input bounds are checked before anything reaches the database.

The SDK's request types accept any string and any integer; the database does not: a NUL
byte or a lone surrogate cannot be stored in PostgreSQL text, an integer past 2**63 does
not fit a LIMIT, and a title longer than its column fails on PostgreSQL and is cut
nowhere. :func:`check_request_bounds` refuses such a request with a 400 whose message
names the field, so no row is ever half written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from .conf import chatkit_settings
from .exceptions import BadRequest, TooManyRequests
from .models import ID_MAX_LENGTH

#: Most items a page may ask for (``limit`` of ``threads.list`` and ``items.list``).
MAX_PAGE_LIMIT = 10_000
#: Largest integer anywhere in a request (JSON numbers beyond it lose precision in browsers).
MAX_INTEGER = 2**53

#: Longest value of a field, by the field's name (model column sizes).
_MAX_LENGTHS = {
    "thread_id": ID_MAX_LENGTH,
    "item_id": ID_MAX_LENGTH,
    "attachment_id": ID_MAX_LENGTH,
    "after": ID_MAX_LENGTH,
    "title": 1024,
    "name": 255,
    "mime_type": 255,
}
#: Fields that name rows: printable characters only.
_ID_FIELDS = frozenset({"thread_id", "item_id", "attachment_id", "after", "item_ids", "attachments"})


def _is_field(path: str, key: str | None) -> bool:
    """Whether ``path`` is a field of the op itself (``params.title``, ``params.item_ids[0]``,
    ``params.input.attachments[0]``), not a key inside a payload, result or message."""
    return path.split("[", 1)[0] in (f"params.{key}", "params.input.attachments")


def _string_problem(value: str, field: str) -> str | None:
    if "\x00" in value:
        return f"{field} must not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{field} must not contain lone surrogates (invalid UTF-16 escapes)."
    return None


def _check(value: Any, path: str, key: str | None) -> None:
    if isinstance(value, str):
        problem = _string_problem(value, path)
        if problem:
            raise BadRequest(problem)
        if not _is_field(path, key):
            return  # a value inside a payload or a message: only NUL and surrogates matter
        limit = _MAX_LENGTHS.get(key or "")
        if limit is not None and len(value) > limit:
            raise BadRequest(f"{path} is {len(value)} characters long; at most {limit} are allowed.")
        if key in _ID_FIELDS and (not value.isprintable() or len(value) > ID_MAX_LENGTH):
            raise BadRequest(f"{path} is not a valid id.")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            raise BadRequest(f"{path} is too large (at most {MAX_INTEGER}).")
        if key == "limit" and _is_field(path, key) and not 0 <= value <= MAX_PAGE_LIMIT:
            raise BadRequest(f"{path} must be between 0 and {MAX_PAGE_LIMIT}.")
        if key == "size" and _is_field(path, key) and value < 0:
            raise BadRequest(f"{path} must not be negative.")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise BadRequest(f"{path} must be a finite number.")
    elif isinstance(value, dict):
        for name, item in value.items():
            problem = _string_problem(name, f"a key of {path}")
            if problem:
                raise BadRequest(problem)
            _check(item, f"{path}.{name}", name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", key)


def check_request_bounds(body: bytes | str) -> None:
    """Refuse a ChatKit request whose strings or integers the database cannot take."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return  # the SDK's parser answers with its own 400
    if isinstance(document, dict):
        for key in ("params", "metadata"):
            if key in document:
                _check(document[key], key, None)


# -- how much one user may ask of a process ----------------------------------------------------
#
# Counted in memory, in the event loop's thread (no lock needed): each process enforces
# the limits on its own, so with N worker processes a user may reach N times a limit.

_WINDOW = 60.0
_requests: dict[str, tuple[float, int]] = {}
_streams: dict[str, int] = {}
_sockets: dict[str, int] = {}
_stream_total = 0
_owner_locks: dict[str, tuple[asyncio.Lock, int]] = {}


def reset() -> None:
    """Forget every count of this process (for tests)."""
    global _stream_total
    _requests.clear()
    _streams.clear()
    _sockets.clear()
    _owner_locks.clear()
    _stream_total = 0


def check_rate(owner: str) -> None:
    """Count one ChatKit request of ``owner``; 429 past ``RATE_LIMIT_PER_MINUTE``."""
    limit = chatkit_settings.RATE_LIMIT_PER_MINUTE
    if limit is None:
        return
    now = time.monotonic()
    start, count = _requests.get(owner, (now, 0))
    if now - start >= _WINDOW:
        start, count = now, 0
    if count >= limit:
        retry_after = max(1, math.ceil(start + _WINDOW - now))
        raise TooManyRequests(
            f"Too many requests: at most {limit} a minute. Try again in {retry_after} s.", retry_after=retry_after
        )
    _requests[owner] = (start, count + 1)
    if len(_requests) > 10_000:  # forget the windows that are over
        for key in [key for key, (begun, _) in _requests.items() if now - begun >= _WINDOW]:
            del _requests[key]


def take_stream(owner: str) -> None:
    """Reserve a streaming response for ``owner``; 429 past the per-user or per-process limit.
    Give it back with :func:`release_stream` (or stream through :func:`counted_stream`)."""
    global _stream_total
    per_user = chatkit_settings.MAX_STREAMS_PER_USER
    per_process = chatkit_settings.MAX_STREAMS_PER_PROCESS
    if per_user is not None and _streams.get(owner, 0) >= per_user:
        raise TooManyRequests(
            f"You have {per_user} responses streaming already; wait for one to finish.",
            retry_after=5,
            code="too_many_streams",
        )
    if per_process is not None and _stream_total >= per_process:
        raise TooManyRequests(
            "The server is answering too many requests; try again shortly.", retry_after=5, code="too_many_streams"
        )
    _streams[owner] = _streams.get(owner, 0) + 1
    _stream_total += 1


def release_stream(owner: str) -> None:
    global _stream_total
    left = _streams.get(owner, 0) - 1
    if left > 0:
        _streams[owner] = left
    else:
        _streams.pop(owner, None)
    _stream_total = max(0, _stream_total - 1)


async def counted_stream(owner: str, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks``, giving the stream reserved by :func:`take_stream` back when they end."""
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        release_stream(owner)


def take_socket(owner: str) -> bool:
    """Count a live socket of ``owner``; False past ``MAX_LIVE_SOCKETS_PER_USER``."""
    limit = chatkit_settings.MAX_LIVE_SOCKETS_PER_USER
    if limit is not None and _sockets.get(owner, 0) >= limit:
        return False
    _sockets[owner] = _sockets.get(owner, 0) + 1
    return True


def release_socket(owner: str) -> None:
    left = _sockets.get(owner, 0) - 1
    if left > 0:
        _sockets[owner] = left
    else:
        _sockets.pop(owner, None)


@contextlib.asynccontextmanager
async def owner_lock(owner: str) -> AsyncIterator[None]:
    """One block of ``owner`` at a time in this process: a quota's count and the row it
    admits, so a burst of requests cannot all pass the count before any row is written."""
    lock, users = _owner_locks.get(owner) or (asyncio.Lock(), 0)
    _owner_locks[owner] = (lock, users + 1)
    try:
        async with lock:
            yield
    finally:
        lock, users = _owner_locks[owner]
        if users > 1:
            _owner_locks[owner] = (lock, users - 1)
        else:
            del _owner_locks[owner]


async def check_attachment_quota(owner: str, size: int, *, excluding: str | None = None) -> None:
    """429 when ``owner`` keeps ``ATTACHMENT_MAX_PER_USER`` attachments already, or
    ``size`` more bytes would go over ``ATTACHMENT_MAX_BYTES_PER_USER``."""
    from django.db.models import Count, Sum

    from . import models

    most, most_bytes = chatkit_settings.ATTACHMENT_MAX_PER_USER, chatkit_settings.ATTACHMENT_MAX_BYTES_PER_USER
    if most is None and most_bytes is None:
        return
    rows = models.Attachment.objects.filter(owner=owner)
    if excluding is not None:
        rows = rows.exclude(attachment_id=excluding)
    kept = await rows.aaggregate(count=Count("seq"), size=Sum("size"))
    if most is not None and excluding is None and kept["count"] >= most:
        raise TooManyRequests(
            f"You keep {kept['count']} attachments, the most allowed; delete some first.", code="attachment_quota"
        )
    if most_bytes is not None and (kept["size"] or 0) + size > most_bytes:
        raise TooManyRequests(
            f"Your attachments would take over {most_bytes} bytes, the most allowed; delete some first.",
            code="attachment_quota",
        )
