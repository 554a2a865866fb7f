"""Bounds on what a request may carry, checked before anything reaches the database.

The SDK's request types accept any string and any integer; the database does not: a NUL
byte or a lone surrogate cannot be stored in PostgreSQL text, an integer past 2**63 does
not fit a LIMIT, and a title longer than its column fails on PostgreSQL and is cut
nowhere. :func:`check_request_bounds` refuses such a request with a 400 whose message
names the field, so no row is ever half written.
"""

from __future__ import annotations

import json
from typing import Any

from .exceptions import BadRequest
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
        limit = _MAX_LENGTHS.get(key or "")
        if limit is not None and len(value) > limit:
            raise BadRequest(f"{path} is {len(value)} characters long; at most {limit} are allowed.")
        if key in _ID_FIELDS and (not value.isprintable() or len(value) > ID_MAX_LENGTH):
            raise BadRequest(f"{path} is not a valid id.")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if key == "limit" and not 0 <= value <= MAX_PAGE_LIMIT:
            raise BadRequest(f"{path} must be between 0 and {MAX_PAGE_LIMIT}.")
        if abs(value) > MAX_INTEGER:
            raise BadRequest(f"{path} is too large (at most {MAX_INTEGER}).")
        if key == "size" and value < 0:
            raise BadRequest(f"{path} must not be negative.")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
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
