"""The configured server (:func:`get_chatkit_server`), and how an existing ``ChatKitServer``
subclass runs on this app unchanged.

A backend written against the SDK (OpenAI's samples: a FastAPI app, an in-memory store
built in ``__init__``, openai-agents) moves here by naming its class in settings::

    CHATKIT = {"SERVER_CLASS": "support.server.CustomerSupportServer"}

A ``SERVER_CLASS`` that is a plain ``ChatKitServer`` (not a :class:`DjangoChatKitServer`)
is adopted: :func:`adopt` builds a subclass of it on :class:`DjangoChatKitServer` whose
``__init__`` runs the original one, then puts the Django stores where it left its own
(``self.store``, ``self.attachment_store``, and any attribute of the server, or of an
object the server holds, that referred to them). Everything the server does through
them (threads, items, attachments, titles) is stored in the database, scoped to the
requester, and served by both transports. Without an OpenAI API key (see
``CHATKIT["AGENT_BACKEND"]``) its plain ``Runner.run`` / ``Runner.run_streamed`` calls
run on the offline model (:mod:`django_chatkit.offline`).

To keep a store of your own instead, subclass :class:`DjangoChatKitServer` and pass it
(``super().__init__(store=MyStore())``): such a class is used as it is.
"""

from __future__ import annotations

from typing import Any

from chatkit.server import ChatKitServer
from chatkit.store import AttachmentStore, Store

from .conf import chatkit_settings
from .server import DjangoChatKitServer
from .store import DjangoAttachmentStore, DjangoStore

__all__ = ["DjangoStoresMixin", "adopt", "get_chatkit_server", "owner_of"]


class DjangoStoresMixin:
    """First base of an adopted server: after the server's own ``__init__``, the Django
    stores replace the ones it built, and plain ``Runner`` calls may go offline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        replacements: dict[int, Any] = {}
        for name, django_class in (("store", DjangoStore), ("attachment_store", DjangoAttachmentStore)):
            own = getattr(self, name, None)
            if own is None:
                setattr(self, name, django_class())
            elif not isinstance(own, django_class):
                replacements[id(own)] = django_class()
        _replace_references(self, replacements)

    async def process_parsed(self, parsed: Any, context: object) -> Any:
        """``process`` for a parsed request (``process`` comes here too); ``context`` is
        what ``CHATKIT["CONTEXT_BUILDER"]`` builds (a ``RequestContext`` by default)."""
        from .agents import uses_offline_model

        if uses_offline_model():
            from .offline import run_plain_runner_calls_offline

            run_plain_runner_calls_offline(
                delay=chatkit_settings.OFFLINE_REPLY_DELAY, tool_triggers=chatkit_settings.OFFLINE_TOOL_TRIGGERS
            )
        return await super().process_parsed(parsed, context)  # type: ignore[misc]


def _replace_references(server: Any, replacements: dict[int, Any]) -> None:
    """Point the server's attributes, and the attributes of the objects it holds (a
    converter, an attachment helper), from its own stores to the Django ones."""
    if not replacements:
        return
    for holder in [server, *(value for value in list(vars(server).values()) if hasattr(value, "__dict__"))]:
        if isinstance(holder, (Store, AttachmentStore)) and holder is not server:
            continue  # the old stores themselves are dropped, not rewired
        try:
            attributes = vars(holder)
        except TypeError:
            continue
        for name, value in list(attributes.items()):
            if id(value) in replacements:
                setattr(holder, name, replacements[id(value)])


_adopted: dict[type, type] = {}


def adopt(server_class: type[ChatKitServer[Any]]) -> type[DjangoChatKitServer]:
    """The class this app runs for ``server_class``: itself when it is already a
    :class:`DjangoChatKitServer`, else a subclass of it on the Django stores (one per class)."""
    if issubclass(server_class, DjangoChatKitServer):
        return server_class
    if not issubclass(server_class, ChatKitServer):
        raise TypeError(f"{server_class!r} is not a chatkit.server.ChatKitServer subclass.")
    adopted = _adopted.get(server_class)
    if adopted is None:
        adopted = _adopted[server_class] = type(
            server_class.__name__,
            (DjangoStoresMixin, server_class, DjangoChatKitServer),
            {
                "__module__": server_class.__module__,
                "__qualname__": server_class.__qualname__,
                "__doc__": server_class.__doc__,
            },
        )
    return adopted


_servers: dict[type, ChatKitServer[Any]] = {}


def get_chatkit_server() -> ChatKitServer[Any]:
    """The instance of ``CHATKIT["SERVER_CLASS"]`` (one per class, built on first use).
    A plain ``ChatKitServer`` subclass runs on the Django stores (:func:`adopt`)."""
    server_class = adopt(chatkit_settings.SERVER_CLASS)
    server = _servers.get(server_class)
    if server is None:
        server = _servers[server_class] = server_class()
    return server


def owner_of(context: object) -> str:
    """The owner string of a request context, as the configured server's store sees it: the
    one answer the transport, the live socket and the runs use."""
    resolve = getattr(get_chatkit_server(), "owner_of", None)
    return resolve(context) if resolve else chatkit_settings.OWNER_RESOLVER(context)
