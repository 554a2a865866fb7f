"""Every private name of ``chatkit``, ``agents``, ``asgiref`` and ``channels`` this app relies on.

The rest of the package uses only their public API. The names here are seams an SDK
release may move: :data:`SEAMS` lists each with what the app needs of it, and
:func:`seam_problems` (a system check, and ``tests/test_compat.py``) says by name which
one an installed version no longer has. Known to work: ``openai-chatkit`` 1.6,
``openai-agents`` 0.4 to 0.24, ``asgiref`` 3.13 (the pins in ``pyproject.toml``), ``channels``
4.3 (``body_send`` falls back to the wrapped ``send`` when its seams are not there).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import AsyncToSync
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult, TContext
from chatkit.types import ChatKitReq, ThreadMetadata, ThreadStreamEvent, is_streaming_req
from pydantic import TypeAdapter

__all__ = [
    "SEAMS",
    "SDKServerSeams",
    "body_send",
    "inside_async_to_sync",
    "openai_default_configured",
    "seam_problems",
]


@dataclass(frozen=True)
class Seam:
    """A private upstream name: where it lives and the parameters the app passes it."""

    module: str
    path: str  # attribute path inside the module
    parameters: tuple[str, ...] | None = None  # for a callable; None: only its presence
    why: str = ""

    @property
    def name(self) -> str:
        return f"{self.module}.{self.path}"


SEAMS: tuple[Seam, ...] = (
    Seam(
        "chatkit.server",
        "ChatKitServer._process_events",
        ("self", "thread", "context", "stream"),
        "the SDK's event loop of a response: the journal and the durable run watch its events",
    ),
    Seam(
        "chatkit.server",
        "ChatKitServer._process_streaming",
        ("self", "request", "context"),
        "process() with the request schema built once",
    ),
    Seam(
        "chatkit.server",
        "ChatKitServer._process_non_streaming",
        ("self", "request", "context"),
        "process() with the request schema built once",
    ),
    Seam(
        "agents.models._openai_shared",
        "get_default_openai_key",
        (),
        "whether a real OpenAI model can be called (agents backend 'auto')",
    ),
    Seam(
        "agents.models._openai_shared",
        "get_default_openai_client",
        (),
        "whether a real OpenAI model can be called (agents backend 'auto')",
    ),
    Seam(
        "channels.sessions",
        "InstanceSessionWrapper.send",
        ("self", "message"),
        "a streamed body chunk skips the session middleware's send, which acts on the response's start only",
    ),
    Seam(
        "channels.sessions",
        "InstanceSessionWrapper.save_message_types",
        None,
        "the messages on which the session middleware saves the session (not body chunks)",
    ),
    Seam(
        "asgiref.sync",
        "AsyncToSync.executors",
        None,
        "whether a synchronous caller waits in async_to_sync (its thread keeps the database work)",
    ),
)


def _resolve(seam: Seam) -> Any:
    import importlib

    target: Any = importlib.import_module(seam.module)
    for part in seam.path.split("."):
        target = getattr(target, part)
    return target


def seam_problems() -> list[str]:
    """One line per seam the installed packages no longer provide as this app needs it."""
    problems = []
    for seam in SEAMS:
        try:
            target = _resolve(seam)
        except (ImportError, AttributeError):
            problems.append(f"{seam.name} is missing ({seam.why})")
            continue
        if seam.parameters is None:
            continue
        try:
            names = tuple(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            problems.append(f"{seam.name} is no longer a function ({seam.why})")
            continue
        if names != seam.parameters:
            problems.append(f"{seam.name} takes ({', '.join(names)}), not ({', '.join(seam.parameters)}) ({seam.why})")
    return problems


# -- the seams, used ---------------------------------------------------------------------

# Built once: the SDK's ``process`` builds this adapter on every request, and building it
# costs more than the parse it does.
_REQUEST_ADAPTER: TypeAdapter[Any] = TypeAdapter(ChatKitReq)


class SDKServerSeams(ChatKitServer[TContext]):
    """The SDK's server with its private event loop opened up through a public hook.

    Subclasses override :meth:`begin_events` (not the SDK's private method) to follow
    the events of a response.
    """

    async def process(
        self, request: str | bytes | bytearray, context: TContext
    ) -> StreamingResult | NonStreamingResult:
        """The SDK's ``process``, parsing with a request schema built once."""
        return await self.process_parsed(_REQUEST_ADAPTER.validate_json(request), context)

    async def process_parsed(self, parsed: Any, context: TContext) -> StreamingResult | NonStreamingResult:
        """``process`` for a request already parsed (the transports parse it once)."""
        if is_streaming_req(parsed):
            return StreamingResult(self._process_streaming(parsed, context))
        return NonStreamingResult(await self._process_non_streaming(parsed, context))

    async def _process_events(
        self,
        thread: ThreadMetadata,
        context: TContext,
        stream: Callable[[], AsyncIterator[ThreadStreamEvent]],
    ) -> AsyncIterator[ThreadStreamEvent]:
        watched = await self.begin_events(thread, context, stream)
        async for event in super()._process_events(thread, context, watched):
            yield event

    async def begin_events(
        self,
        thread: ThreadMetadata,
        context: TContext,
        stream: Callable[[], AsyncIterator[ThreadStreamEvent]],
    ) -> Callable[[], AsyncIterator[ThreadStreamEvent]]:
        """The handler's event stream as the SDK's event loop will consume it (default:
        unchanged). Awaited as the loop starts, before the first event."""
        return stream


def parse_request(body: bytes | str) -> Any:
    """A ChatKit request body, parsed (pydantic ``ValidationError`` when it is not one)."""
    return _REQUEST_ADAPTER.validate_json(body)


def openai_default_configured() -> bool:
    """Whether the agents SDK has a default OpenAI key or client set in code."""
    from agents.models import _openai_shared

    return bool(_openai_shared.get_default_openai_key() or _openai_shared.get_default_openai_client())


def inside_async_to_sync() -> bool:
    """Whether a synchronous caller waits for this code in ``async_to_sync``."""
    return getattr(AsyncToSync.executors, "current", None) is not None


def body_send(send: Callable[[dict[str, Any]], Awaitable[None]]) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """The ASGI ``send`` to use for a response's body chunks.

    Channels' session middleware wraps ``send`` to save the session and set its cookie
    on ``http.response.start``; for any other message its wrapper only passes it on, at
    the price of a coroutine and two session look-ups, for every token of an answer. A
    body chunk is sent past it (past each such wrapper, from the outside in); any other
    wrapper, a subclass that overrides ``send`` included, is kept.
    """
    from channels.sessions import InstanceSessionWrapper

    while True:
        wrapper = getattr(send, "__self__", None)
        if (
            not isinstance(wrapper, InstanceSessionWrapper)
            or getattr(send, "__func__", None) is not InstanceSessionWrapper.send
            or "http.response.body" in wrapper.save_message_types
            or "http.response.body" in wrapper.cookie_response_message_types
        ):
            return send
        inner = getattr(wrapper, "real_send", None)
        if inner is None:
            return send
        send = inner
