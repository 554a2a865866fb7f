"""Who is asking: the request context handed to the ChatKit server and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from typing_extensions import TypeVar

from .conf import AUTH_ANONYMOUS_SESSION, chatkit_settings
from .exceptions import NotAuthenticated


@dataclass
class RequestContext:
    """The ``context`` every server and store method receives.

    ``user_id`` is the owner of the data (a string), ``user`` the Django user (or
    ``AnonymousUser`` under the anonymous-session policy), ``metadata`` the request's
    ``metadata`` object plus ``tool_choice`` when the composer sent one.

    ``owned_threads`` is the store's memo of the threads it has seen this context's
    owner own (loaded or saved) during the request: item writes to them skip the
    ownership check. A thread deleted meanwhile is still refused, by its foreign key.
    """

    user_id: str
    user: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    request: HttpRequest | None = field(default=None, repr=False, compare=False)
    owned_threads: set[tuple[str, str]] = field(default_factory=set, repr=False, compare=False)


#: The context type of the stores (``DjangoStore[MyContext]``): this app's
#: :class:`RequestContext` unless a site builds its own (``CONTEXT_BUILDER``, with an
#: ``OWNER_RESOLVER`` that reads it).
TContext = TypeVar("TContext", default=RequestContext)


async def build_request_context(request: HttpRequest) -> RequestContext:
    """Default context builder: session-authenticated users, or session keys when allowed."""
    user = await request.auser()
    if user.is_authenticated:
        return RequestContext(user_id=f"user:{user.pk}", user=user, request=request)
    if chatkit_settings.AUTH_POLICY == AUTH_ANONYMOUS_SESSION:
        session = request.session
        if not session.session_key:
            await session.acreate()
        _ensure_csrf_cookie(request)
        return RequestContext(user_id=f"session:{session.session_key}", user=user, request=request)
    raise NotAuthenticated("Authentication required: log in to use this chat.")


def _ensure_csrf_cookie(request: HttpRequest) -> None:
    """Give an anonymous session the CSRF cookie its next request needs: once the session
    cookie is set, requests are cookie-authenticated and must send the token. The async
    view's CsrfViewMiddleware sets the cookie; the consumer adds it itself
    (:func:`csrf_cookie_header`)."""
    if not settings.CSRF_USE_SESSIONS and settings.CSRF_COOKIE_NAME not in request.COOKIES:
        get_token(request)


def csrf_cookie_header(request: HttpRequest) -> str | None:
    """The ``Set-Cookie`` value of a CSRF cookie this request asked for (``get_token``),
    for a transport without Django's middleware; None when there is none to set."""
    if not request.META.get("CSRF_COOKIE_NEEDS_UPDATE") or settings.CSRF_USE_SESSIONS:
        return None
    response = HttpResponse()
    response.set_cookie(
        settings.CSRF_COOKIE_NAME,
        request.META["CSRF_COOKIE"],
        max_age=settings.CSRF_COOKIE_AGE,
        domain=settings.CSRF_COOKIE_DOMAIN,
        path=settings.CSRF_COOKIE_PATH,
        secure=settings.CSRF_COOKIE_SECURE,
        httponly=settings.CSRF_COOKIE_HTTPONLY,
        samesite=settings.CSRF_COOKIE_SAMESITE,
    )
    return response.cookies[settings.CSRF_COOKIE_NAME].OutputString()


def owner_from_context(context: object) -> str:
    """Default owner resolver: ``context.user_id`` of any context object that has one."""
    owner = getattr(context, "user_id", None)
    if not owner:
        raise ValueError(
            "The ChatKit context has no user_id; pass a RequestContext or set "
            "CHATKIT['OWNER_RESOLVER'] to a function returning the owner string."
        )
    return str(owner)
