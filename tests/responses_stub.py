"""A small stand-in for the OpenAI Responses API, served over real HTTP on 127.0.0.1.

It answers ``POST /v1/responses`` with ``stream: true`` in the Responses streaming
format (server-sent events ``response.created`` … ``response.completed``). The reply is
``Stub <model> heard: <last user text>``, one word per ``response.output_text.delta``,
so a test can see both which model was asked and that the text streamed through.
A user text containing ``[http 401]`` gets a 401 error instead, as for a wrong API key.
Every request body is kept in :attr:`ResponsesStub.requests`.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _last_user_text(body: dict[str, Any]) -> str:
    items = body.get("input")
    if isinstance(items, str):
        return items
    for item in reversed(items or []):
        if item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        for part in content or []:
            if part.get("type") == "input_text" and not part["text"].startswith("# User-provided context"):
                return part["text"]
    return ""


def _response(response_id: str, model: str, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": 0,
        "model": model,
        "status": status,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 1,
            "output_tokens": 1,
            "total_tokens": 2,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def response_events(model: str, text: str) -> list[dict[str, Any]]:
    """The Responses streaming events of one assistant message saying ``text``."""
    response_id = f"resp_{uuid.uuid4().hex}"
    message_id = f"msg_{uuid.uuid4().hex}"
    part = {"type": "output_text", "text": text, "annotations": []}
    message = {"type": "message", "id": message_id, "role": "assistant", "status": "completed", "content": [part]}
    base = {"item_id": message_id, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response(response_id, model, "in_progress", [])},
        {"type": "response.in_progress", "response": _response(response_id, model, "in_progress", [])},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **base, "part": {**part, "text": ""}},
    ]
    events += [
        {"type": "response.output_text.delta", **base, "delta": token, "logprobs": []}
        for token in re.findall(r"\S+\s*", text)
    ]
    events += [
        {"type": "response.output_text.done", **base, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **base, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {"type": "response.completed", "response": _response(response_id, model, "completed", [message])},
    ]
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


class ResponsesStub:
    """Run with ``with ResponsesStub() as stub:``; ``stub.base_url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") != "/v1/responses" or not body.get("stream"):
                    self.send_response(404)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "only streamed /v1/responses"}}')
                    return
                stub.requests.append(body)
                if "[http 401]" in _last_user_text(body):
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}')
                    return
                model = body.get("model", "?")
                text = f"Stub {model} heard: {_last_user_text(body)}"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                for event in response_events(model, text):
                    chunk = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
                    self.wfile.write(chunk.encode())
                    self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ResponsesStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
