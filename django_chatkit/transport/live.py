"""Live sync: follow a thread's responses over a WebSocket, from any tab or process.

Route :class:`LiveConsumer` in the site's ASGI ``websocket`` router behind
``AuthMiddlewareStack`` (see :func:`django_chatkit.routing.chatkit_websocket_routes`).
The client talks JSON; every message has a ``type``:

client → server
    ``{"type": "subscribe", "thread_id": "thr_…"}``: follow a thread of yours.
    ``{"type": "unsubscribe", "thread_id": "thr_…"}``
    ``{"type": "stop", "thread_id": "thr_…"}``: stop the thread's running response.

server → client
    ``{"type": "subscribed", "thread_id", "run": {run_id, item_id, mode, started_at} | null}``:
    ``run`` is the response running right now, if any.
    ``{"type": "run", "thread_id", "run_id", "state"}``: a response ``started``, or ended:
    ``finished``, ``stopped`` (by a stop request), ``cancelled`` (its client went away
    under ``DISCONNECT = "cancel"``) or ``interrupted`` (its process died).
    ``{"type": "events", "thread_id", "run_id", "events": [...]}``: the stream events of
    the running response, exactly as its SSE stream carries them, in batches.
    ``{"type": "stopping", "thread_id"}``, ``{"type": "unsubscribed", "thread_id"}``
    ``{"type": "error", "code", "message", "thread_id"?}``

A thread that is not yours is answered exactly like a missing one (``not_found``).
The events come through the Channels layer: the in-memory layer within one process,
``channels_redis`` across processes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.http.request import split_domain_port, validate_host
from django.views.decorators.csrf import csrf_exempt

from .. import limits, models, runs
from ..adopt import owner_of
from ..conf import chatkit_settings
from ..exceptions import ChatKitRequestError, Forbidden
from .consumers import request_from_scope
from .core import build_context, csrf_failure, csrf_refusal
from .errors import error_payload

MAX_SUBSCRIPTIONS = 20


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_key(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin like ``https://example.com:8443``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether a WebSocket handshake comes from the site itself or a trusted origin.

    A browser always sends ``Origin`` with a WebSocket handshake, and sends the site's
    cookies whatever page opened it: so the origin must be the site's own (same scheme,
    host and port as the request, on a host of ``ALLOWED_HOSTS``) or one listed in
    ``CSRF_TRUSTED_ORIGINS`` (``https://*.example.com`` allows the subdomains). A client
    without ``Origin`` is not a browser and carries no one else's cookies.
    """
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    key = _origin_key(origin)
    if key is None:
        return False
    host = _header(scope, b"host") or ""
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    own = _origin_key(f"{scheme}://{host}")
    if own is not None and own == key:
        domain, _port = split_domain_port(host)
        if validate_host(domain, settings.ALLOWED_HOSTS):
            return True
    for trusted in getattr(settings, "CSRF_TRUSTED_ORIGINS", ()):
        if "://*." in trusted:
            trusted_scheme, _, rest = trusted.partition("://*.")
            wanted = _origin_key(f"{trusted_scheme}://{rest}")
            if wanted is not None and key[0] == wanted[0] and key[2] == wanted[2] and key[1].endswith("." + wanted[1]):
                return True
        elif _origin_key(trusted) == key:
            return True
    return False


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class LiveConsumer(AsyncWebsocketConsumer):
    """Subscriptions to the owner's threads; relays their runs' events."""

    async def connect(self) -> None:
        self.owner: str | None = None
        self.threads: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None
        if not origin_allowed(self.scope):
            return await self.close()  # before accept: the handshake is refused (HTTP 403)
        await self.accept()
        if self.channel_layer is None:
            await self._error(
                "not_configured",
                "Live sync needs a channel layer: set CHANNEL_LAYERS (channels_redis across processes).",
            )
            return await self.close(code=4500)
        try:
            request = request_from_scope({**self.scope, "type": "http", "method": "GET"}, b"")
            owner = owner_of(await build_context(request))
        except ChatKitRequestError as exc:
            await self._error(exc.code, exc.message)
            return await self.close(code=4401 if exc.status == 401 else 4403)
        if not limits.take_socket(owner):
            await self._error("too_many_sockets", "You have too many live connections open; close one first.")
            return await self.close(code=4429)
        self.owner = owner

    def _renew_interest(self) -> None:
        """Keep telling the runs' processes that this socket follows its threads."""
        if self._renewer is None:
            self._renewer = asyncio.ensure_future(self._renew_forever())

    async def _renew_forever(self) -> None:
        while self.threads:
            await asyncio.sleep(chatkit_settings.LIVE_INTEREST_TTL / 3)
            for thread_id in list(self.threads):
                await runs.follow(thread_id)
        self._renewer = None

    async def disconnect(self, code: int) -> None:
        renewer = getattr(self, "_renewer", None)
        if renewer is not None:
            renewer.cancel()
        owner = getattr(self, "owner", None)
        if owner is not None:
            limits.release_socket(owner)
            self.owner = None
        for thread_id in getattr(self, "threads", ()):
            await self.channel_layer.group_discard(runs.group_name(thread_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.owner is None:
            return
        try:
            message = json.loads(text_data or "")
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return await self._error(
                "invalid_request", 'Send JSON objects like {"type": "subscribe", "thread_id": "…"}.'
            )
        kind, thread_id = message.get("type"), message.get("thread_id")
        if kind not in ("subscribe", "unsubscribe", "stop"):
            return await self._error(
                "invalid_request", f"Unknown message type {kind!r}: use subscribe, unsubscribe or stop."
            )
        if not isinstance(thread_id, str) or not thread_id:
            return await self._error("invalid_request", f"{kind} needs a thread_id.")
        if kind == "unsubscribe":
            if thread_id in self.threads:
                self.threads.discard(thread_id)
                await self.channel_layer.group_discard(runs.group_name(thread_id), self.channel_name)
            return await self.send(_dump({"type": "unsubscribed", "thread_id": thread_id}))
        if not await models.Thread.objects.filter(thread_id=thread_id, owner=self.owner).aexists():
            return await self._error("not_found", f"Thread {thread_id} not found", thread_id)
        if kind == "stop":
            if await runs.request_stop(thread_id, self.owner):
                return await self.send(_dump({"type": "stopping", "thread_id": thread_id}))
            return await self._error("no_run", "No response is running in this thread.", thread_id)
        if thread_id not in self.threads:
            if len(self.threads) >= MAX_SUBSCRIPTIONS:
                return await self._error(
                    "too_many_subscriptions", f"Follow at most {MAX_SUBSCRIPTIONS} threads per connection.", thread_id
                )
            self.threads.add(thread_id)
            await self.channel_layer.group_add(runs.group_name(thread_id), self.channel_name)
        # Subscribed first, then looked: a run starting in between is announced, not missed.
        await runs.follow(thread_id)
        self._renew_interest()
        lease = await runs.recover(thread_id, self.owner)
        await self.send(_dump({"type": "subscribed", "thread_id": thread_id, "run": runs.describe(lease)}))

    async def _error(self, code: str, message: str, thread_id: str | None = None) -> None:
        payload: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if thread_id is not None:
            payload["thread_id"] = thread_id
        await self.send(_dump(payload))

    # -- messages from the channel layer (sent by django_chatkit.runs) -----------------------

    async def chatkit_events(self, event: dict[str, Any]) -> None:
        if event["thread_id"] not in self.threads:
            return
        # ``events`` is already a JSON array: splice it in without parsing it.
        head = _dump({"type": "events", "thread_id": event["thread_id"], "run_id": event["run_id"]})
        await self.send(head[:-1] + ',"events":' + event["events"] + "}")

    async def chatkit_run(self, event: dict[str, Any]) -> None:
        if event["thread_id"] not in self.threads:
            return
        if event["state"] == "started":  # its process may not have heard of this socket yet
            await runs.follow(event["thread_id"])
        await self.send(
            _dump({"type": "run", "thread_id": event["thread_id"], "run_id": event["run_id"], "state": event["state"]})
        )


@csrf_exempt  # checked below, like the ChatKit endpoint
async def stop_run(request: HttpRequest, thread_id: str) -> JsonResponse:
    """``POST``: stop the running response of one of your threads (``{"stopping": true}``),
    or 404 when the thread is not yours or nothing runs in it."""
    try:
        if request.method != "POST":
            return JsonResponse(error_payload("method_not_allowed", "Use POST."), status=405)
        reason = csrf_failure(request)
        if reason:
            raise Forbidden(csrf_refusal(reason))
        owner = owner_of(await build_context(request))
    except ChatKitRequestError as exc:
        return JsonResponse(error_payload(exc.code, exc.message), status=exc.status)
    if not await runs.request_stop(thread_id, owner):
        return JsonResponse(error_payload("no_run", f"No response is running in thread {thread_id}."), status=404)
    return JsonResponse({"stopping": True, "thread_id": thread_id})
