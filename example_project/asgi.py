"""ASGI entry point: ``daphne example_project.asgi:application``.

``/chatkit/`` is served by the Channels consumer; everything else by Django.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
django_application = get_asgi_application()  # set up Django before importing consumers

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from django_chatkit.routing import chatkit_http_routes, chatkit_websocket_routes  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": AuthMiddlewareStack(URLRouter([*chatkit_http_routes("chatkit/"), re_path(r"", django_application)])),
        # Live sync of running responses across tabs and processes (django_chatkit.transport.live).
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(chatkit_websocket_routes("chatkit/live/")))
        ),
    }
)
