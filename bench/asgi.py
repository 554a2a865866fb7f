"""The two ASGI applications of the app contenders.

- ``channels_application``: ``/chatkit/`` served by the Channels consumer (run under daphne);
- ``django_application``: Django's own ASGI handler, ``/chatkit/`` served by the plain
  async view (run under uvicorn, the server of the reference).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from django_chatkit.routing import chatkit_http_routes  # noqa: E402

channels_application = ProtocolTypeRouter(
    {"http": AuthMiddlewareStack(URLRouter([*chatkit_http_routes("chatkit/"), re_path(r"", django_application)]))}
)
