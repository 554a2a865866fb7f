"""ChatKit request bodies of the benchmark (kept free of heavy imports, for the load generator)."""

from __future__ import annotations

import json
from typing import Any


def user_input(deltas: int, rate: float | None = None) -> dict[str, Any]:
    text = f"bench:{deltas}" if not rate else f"bench:{deltas}@{rate:g}"
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def create_request(deltas: int, rate: float | None = None) -> bytes:
    """A ``threads.create`` body whose answer streams ``deltas`` deltas (``rate`` a second, if given)."""
    return json.dumps({"type": "threads.create", "params": {"input": user_input(deltas, rate)}}).encode()


def add_message_request(thread_id: str, deltas: int) -> bytes:
    body = {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input(deltas)}}
    return json.dumps(body).encode()


def items_list_request(thread_id: str, *, limit: int = 20, after: str | None = None, order: str = "desc") -> bytes:
    params: dict[str, Any] = {"thread_id": thread_id, "limit": limit, "order": order}
    if after is not None:
        params["after"] = after
    return json.dumps({"type": "items.list", "params": params}).encode()
