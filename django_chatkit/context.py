"""Who is asking: the request context handed to the ChatKit server and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

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


async def build_request_context(request: HttpRequest) -> RequestContext:
    """Default context builder: session-authenticated users, or session keys when allowed."""
    user = await request.auser()
    if user.is_authenticated:
        return RequestContext(user_id=f"user:{user.pk}", user=user, request=request)
    if chatkit_settings.AUTH_POLICY == AUTH_ANONYMOUS_SESSION:
        session = request.session
        if not session.session_key:
            await session.acreate()
        return RequestContext(user_id=f"session:{session.session_key}", user=user, request=request)
    raise NotAuthenticated("Authentication required: log in to use this chat.")


def owner_from_context(context: Any) -> str:
    """Default owner resolver: ``context.user_id`` of any context object that has one."""
    owner = getattr(context, "user_id", None)
    if not owner:
        raise ValueError(
            "The ChatKit context has no user_id; pass a RequestContext or set "
            "CHATKIT['OWNER_RESOLVER'] to a function returning the owner string."
        )
    return str(owner)
