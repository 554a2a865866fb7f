"""Settings for django_chatkit, read live from ``settings.CHATKIT``.

Every key has a default in :data:`DEFAULTS`; a site overrides only what it needs::

    CHATKIT = {
        "SERVER_CLASS": "myapp.chat.MyServer",
        "AUTH_POLICY": "authenticated",
    }

Values are read on every access (no import-time caching), so ``override_settings``
works in tests without any cache to reset.

Long because: one typed, validated property per setting, beside its default.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar, overload

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .exceptions import ChatKitConfigurationError

AUTH_AUTHENTICATED = "authenticated"
AUTH_ANONYMOUS_SESSION = "anonymous_session"
AUTH_POLICIES = (AUTH_AUTHENTICATED, AUTH_ANONYMOUS_SESSION)

#: ``DATABASE_THREADS = "auto"`` on a database other than SQLite.
AUTO_SERVER_DATABASE_THREADS = 4


def default_database_vendor() -> str:
    """The ``vendor`` of the default database's backend, without a connection object:
    ``connections["default"]`` in the event loop makes a new one for every request's
    context (a few KiB per open stream, and its setup's CPU)."""
    from django.db import connections

    return _backend_vendor(connections.settings["default"]["ENGINE"])


@functools.cache
def _backend_vendor(engine: str) -> str:
    from django.db.utils import load_backend

    return load_backend(engine).DatabaseWrapper.vendor


DEFAULTS: dict[str, Any] = {
    # The ChatKitServer subclass that answers requests (import string).
    "SERVER_CLASS": "django_chatkit.offline.OfflineChatKitServer",
    # Callable (request) -> RequestContext, sync or async (import string).
    "CONTEXT_BUILDER": "django_chatkit.context.build_request_context",
    # Callable (context) -> owner string used to scope every stored row (import string).
    "OWNER_RESOLVER": "django_chatkit.context.owner_from_context",
    # "authenticated": Django users only; "anonymous_session": a session key owns the data.
    "AUTH_POLICY": AUTH_AUTHENTICATED,
    # Largest request body the endpoint accepts, in bytes (413 above it).
    "MAX_REQUEST_BYTES": 1024 * 1024,
    # Attachments: largest upload in bytes, allowed MIME types (fnmatch patterns), storage prefix.
    "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "ATTACHMENT_ALLOWED_MIME_TYPES": ["image/*", "text/plain", "application/pdf"],
    "ATTACHMENT_UPLOAD_TO": "chatkit/attachments/",
    # Most attachments one message may carry (each id once).
    "ATTACHMENT_MAX_PER_MESSAGE": 10,
    # Storage alias in settings.STORAGES used for attachment files.
    "ATTACHMENT_STORAGE": "default",
    # Limits per user (by owner) and per process, each answered with a 429 (None: no limit).
    # ChatKit requests per user per minute, counted in each process.
    "RATE_LIMIT_PER_MINUTE": 120,
    # Responses streaming at once for one user, and in one process.
    "MAX_STREAMS_PER_USER": 5,
    "MAX_STREAMS_PER_PROCESS": 500,
    # Live-sync WebSockets open at once for one user, in one process.
    "MAX_LIVE_SOCKETS_PER_USER": 10,
    # Attachments one user may keep, and their total size in bytes.
    "ATTACHMENT_MAX_PER_USER": 1000,
    "ATTACHMENT_MAX_BYTES_PER_USER": 1024 * 1024 * 1024,
    # Callable (AudioInput, context) -> TranscriptionResult (import string); None disables dictation.
    "TRANSCRIBER": None,
    # Seconds between the words of the offline server's reply.
    "OFFLINE_REPLY_DELAY": 0.05,
    # Threads that run the database work of chat requests, shared by all requests of a
    # process (django_chatkit.db); "auto": 1 on SQLite, 4 on other databases; 0: each
    # request's own thread, Django's default.
    "DATABASE_THREADS": "auto",
    # Durable runs (django_chatkit.runs). What a client disconnect does to a running
    # response: "cancel" stops it (the partial answer is kept), "continue" lets it finish.
    "DISCONNECT": "cancel",
    # Seconds between checkpoints of the in-progress assistant message (None: no checkpoints).
    "RUN_CHECKPOINT_INTERVAL": 0.5,
    # Seconds a message to a busy thread waits for the running response before a 409.
    "RUN_WAIT_TIMEOUT": 30.0,
    # Seconds without a heartbeat after which another host's run counts as dead.
    "RUN_STALE_AFTER": 30.0,
    # Seconds between batches of stream events sent to live subscribers (None: no live events).
    "LIVE_EVENTS_INTERVAL": 0.05,
    # Seconds a live subscriber's interest in a thread lasts without being renewed (its
    # socket renews it every third of this): runs send live events only to followed threads.
    "LIVE_INTEREST_TTL": 30.0,
    # On SIGTERM, seconds a worker lets its running responses finish (new ones get a 503
    # with Retry-After meanwhile); those still running then are saved as interrupted.
    "DRAIN_TIMEOUT": 30.0,
    # Agents (django_chatkit.agents): composer tool-choice id -> agent import string.
    "AGENTS": {},
    # The AGENTS key used without (or with an unknown) tool choice; None = the first key.
    "DEFAULT_AGENT": None,
    # "auto": the offline model unless an OpenAI API key is set; "offline"; "openai".
    "AGENT_BACKEND": "auto",
    # Model names a user may pick through inference_options.model; others are ignored.
    "AGENT_MODEL_ALLOWLIST": [],
    # How many of the latest thread items are given to the agent each turn.
    "AGENT_HISTORY_LIMIT": 100,
    # Bytes of attachment files read for the agent in one turn, history included (the
    # newest first); older attachments beyond it are named but not read.
    "AGENT_ATTACHMENT_BYTES_PER_TURN": 20 * 1024 * 1024,
    # Offline model keyword -> tool name triggers (see django_chatkit.offline).
    "OFFLINE_TOOL_TRIGGERS": {},
    # Callable (thread, user_text, assistant_text) -> title after the first exchange; None: off.
    "THREAD_TITLE": "django_chatkit.agents.first_message_title",
    # Entities returned per source by the @-mention search endpoint.
    "ENTITY_SEARCH_LIMIT": 10,
    # Extra directories of .widget files, besides each installed app's widgets/ directory
    # (read by the system checks and by chatkit_import_widgets without arguments).
    "WIDGET_DIRS": [],
    # Bounds of one widget render: seconds, loop iterations, nesting of calls (macros,
    # recursive loops) and characters made (output and intermediate strings).
    "WIDGET_RENDER_TIMEOUT": 1.0,
    "WIDGET_RENDER_MAX_ITERATIONS": 100_000,
    "WIDGET_RENDER_MAX_DEPTH": 30,
    "WIDGET_RENDER_MAX_CHARS": 2_000_000,
    # Seconds a stored widget template stays in memory between database reads (0: always read).
    "WIDGET_CACHE_TIMEOUT": 5.0,
    # Which chat UI {% chatkit_ui %} renders: "builtin" (this app's client) or "official".
    "CLIENT_UI": "builtin",
    # Domain key given to the official ChatKit web component (api.domainKey).
    "DOMAIN_KEY": "local-dev",
    # Script URL of the official ChatKit web component.
    "OFFICIAL_UI_SCRIPT_URL": "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js",
}


_T = TypeVar("_T")


class _Key(ABC, Generic[_T]):
    """A ``CHATKIT`` key read live (each access reads ``settings.CHATKIT``), as a descriptor of
    :class:`ChatKitSettings` named after the key: ``MAX_REQUEST_BYTES = _Value(int)``.
    ``example`` is the value an error message suggests."""

    key = ""

    def __init__(self, example: str = "") -> None:
        self.example = example

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    @overload
    def __get__(self, settings: None, owner: type) -> Self: ...
    @overload
    def __get__(self, settings: ChatKitSettings, owner: type | None = None) -> _T: ...
    def __get__(self, settings: ChatKitSettings | None, owner: type | None = None) -> Self | _T:
        return self if settings is None else self._read(settings._get(self.key))

    @abstractmethod
    def _read(self, value: Any) -> _T:
        """The setting's value from what ``CHATKIT`` holds (a default filled in)."""

    def _whole_number(self, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ChatKitConfigurationError(self.key, f"must be a whole number, 0 or more, not {value!r}", self.example)
        return value


class _Value(_Key[_T]):
    """The value, converted by ``convert`` (``int``, ``str``...)."""

    def __init__(self, convert: Callable[[Any], _T]) -> None:
        super().__init__()
        self.convert = convert

    def _read(self, value: Any) -> _T:
        return self.convert(value)


class _Import(_Key[Any]):
    """An object, or the dotted path of one (imported at each read); ``None`` stays ``None``."""

    def _read(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return import_string(value)
        except ImportError as exc:
            raise ChatKitConfigurationError(self.key, f"cannot import {value!r} ({exc})", self.example) from exc


class _Count(_Key[int]):
    """A whole number of 0 or more."""

    def _read(self, value: Any) -> int:
        return self._whole_number(value)


class _Limit(_Key[int | None]):
    """A whole number of 0 or more, or ``None``: no limit."""

    def _read(self, value: Any) -> int | None:
        return None if value is None else self._whole_number(value)


def _strings(value: Any) -> list[str]:
    return list(value)


class ChatKitSettings:
    """Typed, live accessor for the ``CHATKIT`` settings dict."""

    def _get(self, key: str) -> Any:
        user = getattr(settings, "CHATKIT", None) or {}
        if not isinstance(user, dict):
            raise ImproperlyConfigured("settings.CHATKIT must be a dict.")
        return user.get(key, DEFAULTS[key])

    @property
    def AUTH_POLICY(self) -> str:
        policy = self._get("AUTH_POLICY")
        if policy not in AUTH_POLICIES:
            raise ChatKitConfigurationError(
                "AUTH_POLICY", f"must be one of {AUTH_POLICIES}, not {policy!r}", '"authenticated"'
            )
        return policy

    # The keys without checks of their own (the others are properties below), by concern.
    # -- the server and the request context
    SERVER_CLASS = _Import('"myapp.chat.MyChatKitServer"')
    CONTEXT_BUILDER = _Import('"myapp.chat.build_context"')
    OWNER_RESOLVER = _Import('"myapp.chat.owner_of"')
    MAX_REQUEST_BYTES = _Value(int)

    # -- attachments
    ATTACHMENT_MAX_BYTES = _Value(int)
    ATTACHMENT_ALLOWED_MIME_TYPES = _Value(_strings)
    ATTACHMENT_UPLOAD_TO = _Value(str)
    ATTACHMENT_MAX_PER_MESSAGE = _Count("10")
    ATTACHMENT_STORAGE = _Value(str)

    # -- per-user and per-process limits (None: no limit)
    RATE_LIMIT_PER_MINUTE = _Limit("120")
    MAX_STREAMS_PER_USER = _Limit("5")
    MAX_STREAMS_PER_PROCESS = _Limit("500")
    MAX_LIVE_SOCKETS_PER_USER = _Limit("10")
    ATTACHMENT_MAX_PER_USER = _Limit("1000")
    ATTACHMENT_MAX_BYTES_PER_USER = _Limit("1024 * 1024 * 1024")

    # -- answers: dictation, the offline model, runs, agents
    TRANSCRIBER = _Import('"myapp.speech.transcribe"')
    OFFLINE_REPLY_DELAY = _Value(float)
    RUN_WAIT_TIMEOUT = _Value(float)
    RUN_STALE_AFTER = _Value(float)
    AGENT_HISTORY_LIMIT = _Value(int)
    AGENT_ATTACHMENT_BYTES_PER_TURN = _Count("20 * 1024 * 1024")
    OFFLINE_TOOL_TRIGGERS = _Value(dict)
    THREAD_TITLE = _Import('"myapp.chat.make_title"')
    ENTITY_SEARCH_LIMIT = _Value(int)

    # -- widget rendering budgets and the official UI
    WIDGET_RENDER_MAX_ITERATIONS = _Count("100_000")
    WIDGET_RENDER_MAX_DEPTH = _Count("30")
    WIDGET_RENDER_MAX_CHARS = _Count("2_000_000")
    DOMAIN_KEY = _Value(str)
    OFFICIAL_UI_SCRIPT_URL = _Value(str)

    @property
    def DATABASE_THREADS(self) -> int:
        threads = self._get("DATABASE_THREADS")
        if threads == "auto":
            # SQLite runs one write at a time; a server database takes several at once.
            return 1 if default_database_vendor() == "sqlite" else AUTO_SERVER_DATABASE_THREADS
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
            raise ChatKitConfigurationError(
                "DATABASE_THREADS", f'must be "auto" or a whole number, 0 or more, not {threads!r}', "4"
            )
        return threads

    @property
    def DISCONNECT(self) -> str:
        mode = self._get("DISCONNECT")
        if mode not in ("cancel", "continue"):
            raise ChatKitConfigurationError("DISCONNECT", f'must be "cancel" or "continue", not {mode!r}', '"continue"')
        return mode

    @property
    def RUN_CHECKPOINT_INTERVAL(self) -> float | None:
        return self._optional_seconds("RUN_CHECKPOINT_INTERVAL", "0.5")

    @property
    def LIVE_EVENTS_INTERVAL(self) -> float | None:
        return self._optional_seconds("LIVE_EVENTS_INTERVAL", "0.05")

    @property
    def LIVE_INTEREST_TTL(self) -> float:
        return self._seconds("LIVE_INTEREST_TTL", "30.0")

    @property
    def DRAIN_TIMEOUT(self) -> float:
        value = self._get("DRAIN_TIMEOUT")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ChatKitConfigurationError(
                "DRAIN_TIMEOUT", f"must be a number of seconds, 0 or more, not {value!r}", "30.0"
            )
        return float(value)

    def _seconds(self, key: str, example: str) -> float:
        value = self._optional_seconds(key, example)
        if value is None:
            raise ChatKitConfigurationError(key, "must be a positive number of seconds, not None", example)
        return value

    def _optional_seconds(self, key: str, example: str) -> float | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, (int, float)) or value <= 0:
            raise ChatKitConfigurationError(
                key, f"must be a positive number of seconds or None, not {value!r}", example
            )
        return float(value)

    @property
    def AGENTS(self) -> dict[str, Any]:
        agents = self._get("AGENTS")
        if not isinstance(agents, dict):
            raise ChatKitConfigurationError(
                "AGENTS",
                "must be a dict of tool-choice id -> agent import string",
                '{"general": "myapp.agents.general_agent"}',
            )
        return agents

    @property
    def DEFAULT_AGENT(self) -> str | None:
        default = self._get("DEFAULT_AGENT")
        if default is None:
            return next(iter(self.AGENTS), None)
        return str(default)

    @property
    def AGENT_BACKEND(self) -> str:
        backend = self._get("AGENT_BACKEND")
        if backend not in ("auto", "offline", "openai"):
            raise ChatKitConfigurationError(
                "AGENT_BACKEND", f'must be "auto", "offline" or "openai", not {backend!r}', '"auto"'
            )
        return backend

    @property
    def AGENT_MODEL_ALLOWLIST(self) -> list[str]:
        return [str(name) for name in self._get("AGENT_MODEL_ALLOWLIST")]

    @property
    def WIDGET_DIRS(self) -> list[str]:
        dirs = self._get("WIDGET_DIRS")
        if isinstance(dirs, (str, bytes)) or not isinstance(dirs, (list, tuple)):
            raise ChatKitConfigurationError(
                "WIDGET_DIRS", f"must be a list of directories, not {dirs!r}", '[BASE_DIR / "widgets"]'
            )
        return [str(d) for d in dirs]

    @property
    def WIDGET_RENDER_TIMEOUT(self) -> float:
        value = self._get("WIDGET_RENDER_TIMEOUT")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ChatKitConfigurationError(
                "WIDGET_RENDER_TIMEOUT", f"must be a positive number of seconds, not {value!r}", "1.0"
            )
        return float(value)

    @property
    def WIDGET_CACHE_TIMEOUT(self) -> float:
        return float(self._get("WIDGET_CACHE_TIMEOUT") or 0)

    @property
    def CLIENT_UI(self) -> str:
        ui = self._get("CLIENT_UI")
        if ui not in ("builtin", "official"):
            raise ChatKitConfigurationError("CLIENT_UI", f'must be "builtin" or "official", not {ui!r}', '"builtin"')
        return ui


chatkit_settings = ChatKitSettings()
