"""The django_chatkit side of the benchmark: the server class and context builder.

``BenchChatKitServer`` is ``DjangoChatKitServer`` (Django models on SQLite or
PostgreSQL) answering with the same synthetic responder as the reference. The context
builder gives every request one fixed owner: the reference has no authentication, so
neither does this side (a session lookup would add the same cost to any stack).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from chatkit.types import ThreadMetadata, ThreadStreamEvent, UserMessageItem
from django.http import HttpRequest

from django_chatkit.context import RequestContext
from django_chatkit.server import DjangoChatKitServer

from .responder import synthetic_events

BENCH_OWNER = "user:bench"


class BenchChatKitServer(DjangoChatKitServer):
    def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        return synthetic_events(
            thread, input_user_message, lambda: self.store.generate_item_id("message", thread, context)
        )


def bench_context(request: HttpRequest) -> RequestContext:
    return RequestContext(user_id=BENCH_OWNER, request=request)
