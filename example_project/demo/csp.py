"""A Content-Security-Policy for the demo's pages, under which the built-in client works.

Scripts run only from the site itself or with the response's nonce (``request.csp_nonce``,
which the ``{% chatkit_ui %}`` tags put on their inline module scripts); no plugin, no
``<base>``, forms post only to the site, and no other site may frame the page. Styles may
be inline (the pages and the widget renderer set them).
"""

from __future__ import annotations

import secrets
from functools import wraps
from urllib.parse import urlsplit

from django_chatkit.conf import chatkit_settings


def policy(nonce: str) -> str:
    extra = ""
    if chatkit_settings.CLIENT_UI == "official":  # OpenAI's web component and its frames
        script = urlsplit(chatkit_settings.OFFICIAL_UI_SCRIPT_URL)
        extra = f" {script.scheme}://{script.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'{extra}",
            f"style-src 'self' 'unsafe-inline'{extra}",
            f"img-src 'self' data: blob:{extra}",
            f"connect-src 'self'{extra}",
            f"frame-src 'self'{extra}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def content_security_policy(view):
    """Give the view's request a nonce and its response the policy."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        request.csp_nonce = secrets.token_urlsafe(18)
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", policy(request.csp_nonce))
        return response

    return wrapped
