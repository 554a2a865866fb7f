"""ASGI applications the W040 check is tried on (never served)."""

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application
from django.urls import path

from django_chatkit.routing import chatkit_websocket_routes

django_application = get_asgi_application()

# What the README's asgi.py once was: HTTP only, while the chat UI opens /chatkit/live/.
http_only = ProtocolTypeRouter({"http": django_application})

# The live socket mounted elsewhere.
live_elsewhere = ProtocolTypeRouter(
    {"http": django_application, "websocket": URLRouter(chatkit_websocket_routes("sockets/live/"))}
)

# The live socket behind a nested router.
nested = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([path("chatkit/", URLRouter(chatkit_websocket_routes("live/")))]))
        ),
    }
)
