"""The reference contender: the openai-chatkit SDK behind FastAPI + uvicorn.

This is the serving pattern of OpenAI's ChatKit documentation and sample apps: one
``POST /chatkit`` route hands the body to ``server.process`` and returns a
``StreamingResponse`` for streamed results, a plain ``Response`` otherwise; the store
is in memory. Run it with ``uvicorn bench.reference:app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from chatkit.server import ChatKitServer, StreamingResult
from chatkit.types import ThreadMetadata, ThreadStreamEvent, UserMessageItem
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from .memory_store import MemoryStore
from .responder import synthetic_events


class ReferenceServer(ChatKitServer[dict[str, Any]]):
    """The SDK server with the synthetic responder and the in-memory store."""

    def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: dict[str, Any]
    ) -> AsyncIterator[ThreadStreamEvent]:
        return synthetic_events(
            thread, input_user_message, lambda: self.store.generate_item_id("message", thread, context)
        )


def make_server() -> ReferenceServer:
    return ReferenceServer(store=MemoryStore())


app = FastAPI()
server = make_server()


@app.post("/chatkit")
async def chatkit_endpoint(request: Request) -> Response:
    result = await server.process(await request.body(), {})
    if isinstance(result, StreamingResult):
        return StreamingResponse(result, media_type="text/event-stream")
    return Response(content=result.json, media_type="application/json")
