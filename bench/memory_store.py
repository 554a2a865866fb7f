"""An in-memory ``chatkit.store.Store``, as OpenAI's sample apps use behind FastAPI.

Used by the reference contender and by the floor: dictionaries, no persistence.
"""

from __future__ import annotations

from typing import Any

from chatkit.store import NotFoundError, Store
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata


class MemoryStore(Store[Any]):
    def __init__(self) -> None:
        self.threads: dict[str, ThreadMetadata] = {}
        self.items: dict[str, list[ThreadItem]] = {}
        self.attachments: dict[str, Attachment] = {}

    async def load_thread(self, thread_id: str, context: Any) -> ThreadMetadata:
        try:
            return self.threads[thread_id].model_copy(deep=True)
        except KeyError:
            raise NotFoundError(f"Thread {thread_id} not found") from None

    async def save_thread(self, thread: ThreadMetadata, context: Any) -> None:
        self.threads[thread.id] = thread.model_copy(deep=True)
        self.items.setdefault(thread.id, [])

    async def load_threads(self, limit: int, after: str | None, order: str, context: Any) -> Page[ThreadMetadata]:
        threads = sorted(self.threads.values(), key=lambda t: t.created_at, reverse=order == "desc")
        return _page(threads, limit, after)

    async def delete_thread(self, thread_id: str, context: Any) -> None:
        self.threads.pop(thread_id, None)
        self.items.pop(thread_id, None)

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Any
    ) -> Page[ThreadItem]:
        items = self.items.get(thread_id, [])
        ordered = list(reversed(items)) if order == "desc" else items
        return _page(ordered, limit, after)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        self.items.setdefault(thread_id, []).append(item.model_copy(deep=True))

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        items = self.items.setdefault(thread_id, [])
        for index, existing in enumerate(items):
            if existing.id == item.id:
                items[index] = item.model_copy(deep=True)
                return
        items.append(item.model_copy(deep=True))

    async def load_item(self, thread_id: str, item_id: str, context: Any) -> ThreadItem:
        for item in self.items.get(thread_id, []):
            if item.id == item_id:
                return item.model_copy(deep=True)
        raise NotFoundError(f"Item {item_id} not found")

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Any) -> None:
        self.items[thread_id] = [i for i in self.items.get(thread_id, []) if i.id != item_id]

    async def save_attachment(self, attachment: Attachment, context: Any) -> None:
        self.attachments[attachment.id] = attachment

    async def load_attachment(self, attachment_id: str, context: Any) -> Attachment:
        try:
            return self.attachments[attachment_id]
        except KeyError:
            raise NotFoundError(f"Attachment {attachment_id} not found") from None

    async def delete_attachment(self, attachment_id: str, context: Any) -> None:
        self.attachments.pop(attachment_id, None)


def _page(rows: list[Any], limit: int, after: str | None) -> Page[Any]:
    start = 0
    if after is not None:
        start = next((i + 1 for i, row in enumerate(rows) if row.id == after), len(rows))
    chunk = rows[start : start + limit]
    has_more = start + limit < len(rows)
    return Page(data=chunk, has_more=has_more, after=chunk[-1].id if has_more and chunk else None)
