"""Channels routes for the ChatKit endpoint."""

from django.urls import path

from .transport.consumers import ChatKitConsumer


def chatkit_http_routes(prefix: str = "chatkit/") -> list:
    """The consumer at ``prefix`` (the ``api.url`` given to ChatKit); put these in an
    ``http`` URLRouter ahead of the Django application, which serves the rest of
    ``django_chatkit.urls`` (attachment upload and download)."""
    return [path(prefix, ChatKitConsumer.as_asgi(), name="chatkit-consumer")]
