"""Settings for django_chatkit, read live from ``settings.CHATKIT``.

A site sets only the keys it needs; the others keep their defaults::

    CHATKIT = {
        "SERVER_CLASS": "myapp.chat.MyServer",
        "AUTH_POLICY": "authenticated",
    }

Each key is declared once, in :class:`ChatKitSettings`: a descriptor named after it, with
its default, its check and a comment (``MAX_REQUEST_BYTES = _Value(int, 1024 * 1024)``, or a
method under ``@_setting(default, example)`` for a check of its own). :data:`DEFAULTS` is
built from these declarations.

Values are read on every access (no import-time caching), so ``override_settings``
works in tests without any cache to reset.

Long because: every setting is here, typed and checked, beside its default and its comment.
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


_T = TypeVar("_T")


class _Invalid(Exception):
    """What is wrong with a ``CHATKIT`` value; the key's descriptor raises it as a
    :class:`ChatKitConfigurationError` that names the key and an example."""


class _Key(ABC, Generic[_T]):
    """A ``CHATKIT`` key read live (each access reads ``settings.CHATKIT``), as a descriptor of
    :class:`ChatKitSettings` named after the key: ``MAX_REQUEST_BYTES = _Value(int, 1024 * 1024)``.
    ``default`` is used when the site does not set the key; ``example`` is the value an error
    message suggests."""

    key = ""

    def __init__(self, default: Any, example: str = "") -> None:
        self.default = default
        self.example = example

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    @overload
    def __get__(self, settings: None, owner: type) -> Self: ...
    @overload
    def __get__(self, settings: ChatKitSettings, owner: type | None = None) -> _T: ...
    def __get__(self, settings: ChatKitSettings | None, owner: type | None = None) -> Self | _T:
        if settings is None:
            return self
        try:
            return self._read(settings, settings._get(self.key, self.default))
        except _Invalid as invalid:
            # The cause, where there is one, is the ImportError of an import string.
            raise ChatKitConfigurationError(self.key, str(invalid), self.example) from invalid.__cause__

    @abstractmethod
    def _read(self, settings: ChatKitSettings, value: Any) -> _T:
        """The setting's value from what ``CHATKIT`` holds (the default filled in); raises
        :class:`_Invalid` for a wrong one."""


def _is_whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _whole_number(value: Any) -> int:
    if not _is_whole_number(value):
        raise _Invalid(f"must be a whole number, 0 or more, not {value!r}")
    return value


def _positive_seconds(value: Any) -> float:
    if not isinstance(value, (int, float)) or value <= 0:
        raise _Invalid(f"must be a positive number of seconds or None, not {value!r}")
    return float(value)


class _Value(_Key[_T]):
    """The value, converted by ``convert`` (``int``, ``str``...)."""

    def __init__(self, convert: Callable[[Any], _T], default: Any) -> None:
        super().__init__(default)
        self.convert = convert

    def _read(self, settings: ChatKitSettings, value: Any) -> _T:
        return self.convert(value)


class _Import(_Key[Any]):
    """An object, or the dotted path of one (imported at each read); ``None`` stays ``None``."""

    def _read(self, settings: ChatKitSettings, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return import_string(value)
        except ImportError as exc:
            raise _Invalid(f"cannot import {value!r} ({exc})") from exc


class _Count(_Key[int]):
    """A whole number of 0 or more."""

    def _read(self, settings: ChatKitSettings, value: Any) -> int:
        return _whole_number(value)


class _Limit(_Key[int | None]):
    """A whole number of 0 or more, or ``None``: no limit."""

    def _read(self, settings: ChatKitSettings, value: Any) -> int | None:
        return None if value is None else _whole_number(value)


class _Seconds(_Key[float]):
    """A positive number of seconds."""

    def _read(self, settings: ChatKitSettings, value: Any) -> float:
        if value is None:
            raise _Invalid("must be a positive number of seconds, not None")
        return _positive_seconds(value)


class _OptionalSeconds(_Key[float | None]):
    """A positive number of seconds, or ``None``: off."""

    def _read(self, settings: ChatKitSettings, value: Any) -> float | None:
        return None if value is None else _positive_seconds(value)


class _Choice(_Key[str]):
    """One of ``choices``; the first is the default."""

    def __init__(self, *choices: str, example: str) -> None:
        super().__init__(choices[0], example)
        self.choices = choices

    def _read(self, settings: ChatKitSettings, value: Any) -> str:
        if value not in self.choices:
            quoted = [f'"{choice}"' for choice in self.choices]
            raise _Invalid(f"must be {', '.join(quoted[:-1])} or {quoted[-1]}, not {value!r}")
        return value


class _Checked(_Key[_T]):
    """A key whose check is a method of :class:`ChatKitSettings`: see :func:`_setting`."""

    def __init__(self, check: Callable[[ChatKitSettings, Any], _T], default: Any, example: str) -> None:
        super().__init__(default, example)
        self.check = check

    def _read(self, settings: ChatKitSettings, value: Any) -> _T:
        return self.check(settings, value)


def _setting(default: Any, example: str = "") -> Callable[[Callable[[ChatKitSettings, Any], _T]], _Checked[_T]]:
    """Makes a method of :class:`ChatKitSettings` a key with its own check: the method gets the
    value ``CHATKIT`` holds (or ``default``) and returns the setting, or raises :class:`_Invalid`."""

    def declare(check: Callable[[ChatKitSettings, Any], _T]) -> _Checked[_T]:
        return _Checked(check, default, example)

    return declare


def _strings(value: Any) -> list[str]:
    return list(value)


class ChatKitSettings:
    """Typed, live accessor for the ``CHATKIT`` settings dict: each key is declared here once,
    with its default, its check and its comment."""

    def _get(self, key: str, default: Any) -> Any:
        user = getattr(settings, "CHATKIT", None) or {}
        if not isinstance(user, dict):
            raise ImproperlyConfigured("settings.CHATKIT must be a dict.")
        return user.get(key, default)

    # -- the server and the request context
    # The ChatKitServer subclass that answers requests (import string).
    SERVER_CLASS = _Import("django_chatkit.offline.OfflineChatKitServer", '"myapp.chat.MyChatKitServer"')
    # Callable (request) -> RequestContext, sync or async (import string).
    CONTEXT_BUILDER = _Import("django_chatkit.context.build_request_context", '"myapp.chat.build_context"')
    # Callable (context) -> owner string used to scope every stored row (import string).
    OWNER_RESOLVER = _Import("django_chatkit.context.owner_from_context", '"myapp.chat.owner_of"')

    # "authenticated": Django users only; "anonymous_session": a session key owns the data.
    @_setting(AUTH_AUTHENTICATED, '"authenticated"')
    def AUTH_POLICY(self, policy: Any) -> str:
        if policy not in AUTH_POLICIES:
            raise _Invalid(f"must be one of {AUTH_POLICIES}, not {policy!r}")
        return policy

    # Largest request body the endpoint accepts, in bytes (413 above it).
    MAX_REQUEST_BYTES = _Value(int, 1024 * 1024)

    # -- attachments
    # Largest upload in bytes, allowed MIME types (fnmatch patterns), storage prefix.
    ATTACHMENT_MAX_BYTES = _Value(int, 10 * 1024 * 1024)
    ATTACHMENT_ALLOWED_MIME_TYPES = _Value(_strings, ["image/*", "text/plain", "application/pdf"])
    ATTACHMENT_UPLOAD_TO = _Value(str, "chatkit/attachments/")
    # Most attachments one message may carry (each id once).
    ATTACHMENT_MAX_PER_MESSAGE = _Count(10, "10")
    # Storage alias in settings.STORAGES used for attachment files.
    ATTACHMENT_STORAGE = _Value(str, "default")

    # -- limits per user (by owner) and per process, each answered with a 429 (None: no limit)
    # ChatKit requests per user per minute, counted in each process.
    RATE_LIMIT_PER_MINUTE = _Limit(120, "120")
    # Responses streaming at once for one user, and in one process.
    MAX_STREAMS_PER_USER = _Limit(5, "5")
    MAX_STREAMS_PER_PROCESS = _Limit(500, "500")
    # Live-sync WebSockets open at once for one user, in one process.
    MAX_LIVE_SOCKETS_PER_USER = _Limit(10, "10")
    # Attachments one user may keep, and their total size in bytes.
    ATTACHMENT_MAX_PER_USER = _Limit(1000, "1000")
    ATTACHMENT_MAX_BYTES_PER_USER = _Limit(1024 * 1024 * 1024, "1024 * 1024 * 1024")

    # -- dictation, the offline server, the database threads
    # Callable (AudioInput, context) -> TranscriptionResult (import string); None disables dictation.
    TRANSCRIBER = _Import(None, '"myapp.speech.transcribe"')
    # Seconds between the words of the offline server's reply.
    OFFLINE_REPLY_DELAY = _Value(float, 0.05)

    # Threads that run the database work of chat requests, shared by all requests of a
    # process (django_chatkit.db); "auto": 1 on SQLite, 4 on other databases; 0: each
    # request's own thread, Django's default.
    @_setting("auto", "4")
    def DATABASE_THREADS(self, threads: Any) -> int:
        if threads == "auto":
            # SQLite runs one write at a time; a server database takes several at once.
            return 1 if default_database_vendor() == "sqlite" else AUTO_SERVER_DATABASE_THREADS
        if not _is_whole_number(threads):
            raise _Invalid(f'must be "auto" or a whole number, 0 or more, not {threads!r}')
        return threads

    # -- durable runs (django_chatkit.runs)
    # What a client disconnect does to a running response: "cancel" stops it (the partial
    # answer is kept), "continue" lets it finish.
    DISCONNECT = _Choice("cancel", "continue", example='"continue"')
    # Seconds between checkpoints of the in-progress assistant message (None: no checkpoints).
    RUN_CHECKPOINT_INTERVAL = _OptionalSeconds(0.5, "0.5")
    # Seconds a message to a busy thread waits for the running response before a 409.
    RUN_WAIT_TIMEOUT = _Value(float, 30.0)
    # Seconds without a heartbeat after which another host's run counts as dead.
    RUN_STALE_AFTER = _Value(float, 30.0)
    # Seconds between batches of stream events sent to live subscribers (None: no live events).
    LIVE_EVENTS_INTERVAL = _OptionalSeconds(0.05, "0.05")
    # Seconds a live subscriber's interest in a thread lasts without being renewed (its
    # socket renews it every third of this): runs send live events only to followed threads.
    LIVE_INTEREST_TTL = _Seconds(30.0, "30.0")

    # On SIGTERM, seconds a worker lets its running responses finish (new ones get a 503
    # with Retry-After meanwhile); those still running then are saved as interrupted.
    @_setting(30.0, "30.0")
    def DRAIN_TIMEOUT(self, seconds: Any) -> float:
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise _Invalid(f"must be a number of seconds, 0 or more, not {seconds!r}")
        return float(seconds)

    # -- agents (django_chatkit.agents), thread titles, @-mentions
    # Composer tool-choice id -> agent import string.
    @_setting({}, '{"general": "myapp.agents.general_agent"}')
    def AGENTS(self, agents: Any) -> dict[str, Any]:
        if not isinstance(agents, dict):
            raise _Invalid("must be a dict of tool-choice id -> agent import string")
        return agents

    # The AGENTS key used without (or with an unknown) tool choice; None = the first key.
    @_setting(None)
    def DEFAULT_AGENT(self, default: Any) -> str | None:
        if default is None:
            return next(iter(self.AGENTS), None)
        return str(default)

    # "auto": the offline model unless an OpenAI API key is set; "offline"; "openai".
    AGENT_BACKEND = _Choice("auto", "offline", "openai", example='"auto"')

    # Model names a user may pick through inference_options.model; others are ignored.
    @_setting([])
    def AGENT_MODEL_ALLOWLIST(self, names: Any) -> list[str]:
        return [str(name) for name in names]

    # How many of the latest thread items are given to the agent each turn.
    AGENT_HISTORY_LIMIT = _Value(int, 100)
    # Bytes of attachment files read for the agent in one turn, history included (the
    # newest first); older attachments beyond it are named but not read.
    AGENT_ATTACHMENT_BYTES_PER_TURN = _Count(20 * 1024 * 1024, "20 * 1024 * 1024")
    # Offline model keyword -> tool name triggers (see django_chatkit.offline).
    OFFLINE_TOOL_TRIGGERS = _Value(dict, {})
    # Callable (thread, user_text, assistant_text) -> title after the first exchange; None: off.
    THREAD_TITLE = _Import("django_chatkit.agents.first_message_title", '"myapp.chat.make_title"')
    # Entities returned per source by the @-mention search endpoint.
    ENTITY_SEARCH_LIMIT = _Value(int, 10)

    # -- widgets and the chat UI
    # Extra directories of .widget files, besides each installed app's widgets/ directory
    # (read by the system checks and by chatkit_import_widgets without arguments).
    @_setting([], '[BASE_DIR / "widgets"]')
    def WIDGET_DIRS(self, dirs: Any) -> list[str]:
        if isinstance(dirs, (str, bytes)) or not isinstance(dirs, (list, tuple)):
            raise _Invalid(f"must be a list of directories, not {dirs!r}")
        return [str(d) for d in dirs]

    # Bounds of one widget render: seconds, loop iterations, nesting of calls (macros,
    # recursive loops) and characters made (output and intermediate strings).
    @_setting(1.0, "1.0")
    def WIDGET_RENDER_TIMEOUT(self, seconds: Any) -> float:
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
            raise _Invalid(f"must be a positive number of seconds, not {seconds!r}")
        return float(seconds)

    WIDGET_RENDER_MAX_ITERATIONS = _Count(100_000, "100_000")
    WIDGET_RENDER_MAX_DEPTH = _Count(30, "30")
    WIDGET_RENDER_MAX_CHARS = _Count(2_000_000, "2_000_000")

    # Seconds a stored widget template stays in memory between database reads (0: always read).
    @_setting(5.0)
    def WIDGET_CACHE_TIMEOUT(self, seconds: Any) -> float:
        return float(seconds or 0)

    # Which chat UI {% chatkit_ui %} renders: "builtin" (this app's client) or "official".
    CLIENT_UI = _Choice("builtin", "official", example='"builtin"')
    # Domain key given to the official ChatKit web component (api.domainKey).
    DOMAIN_KEY = _Value(str, "local-dev")
    # Script URL of the official ChatKit web component.
    OFFICIAL_UI_SCRIPT_URL = _Value(str, "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js")


#: Each key's default, by name, in the order :class:`ChatKitSettings` declares them.
DEFAULTS: dict[str, Any] = {name: key.default for name, key in vars(ChatKitSettings).items() if isinstance(key, _Key)}

chatkit_settings = ChatKitSettings()
