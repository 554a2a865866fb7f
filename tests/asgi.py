"""The test site's ASGI app: the consumer at /consumer/chatkit/, Django (and its async
view at /chatkit/) everywhere else."""

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application
from django.urls import re_path

django_application = get_asgi_application()

from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from django_chatkit.routing import chatkit_http_routes, chatkit_websocket_routes  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": AuthMiddlewareStack(
            URLRouter([*chatkit_http_routes("consumer/chatkit/"), re_path(r"", django_application)])
        ),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(chatkit_websocket_routes()))),
    }
)
