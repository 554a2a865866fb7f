"""Channels routes for the ChatKit endpoint."""

from django.urls import path

from .transport.consumers import ChatKitConsumer
from .transport.live import LiveConsumer


def chatkit_http_routes(prefix: str = "chatkit/") -> list:
    """The consumer at ``prefix`` (the ``api.url`` given to ChatKit); put these in an
    ``http`` URLRouter ahead of the Django application, which serves the rest of
    ``django_chatkit.urls`` (attachment upload and download)."""
    return [path(prefix, ChatKitConsumer.as_asgi(), name="chatkit-consumer")]


def chatkit_websocket_routes(prefix: str = "chatkit/live/") -> list:
    """The live-sync WebSocket (:mod:`django_chatkit.transport.live`) at ``prefix``; put
    these in a ``websocket`` URLRouter behind ``AuthMiddlewareStack`` (the session says
    who the user is). The consumer refuses a handshake from any origin but the site's own
    (scheme, host and port) and those of ``CSRF_TRUSTED_ORIGINS``, before accepting it."""
    return [path(prefix, LiveConsumer.as_asgi(), name="chatkit-live")]
