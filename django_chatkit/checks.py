"""System checks: configuration mistakes reported by ``manage.py check``.

Ids are stable: ``django_chatkit.E001`` … for errors, ``W0xx`` for warnings.

Long because: one short function per system check, kept in one module so the ids stay
unique and the list reads in order.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .conf import DEFAULTS, chatkit_settings, default_database_vendor


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list:
    from chatkit.server import ChatKitServer

    problems: list = []
    user = getattr(settings, "CHATKIT", {})
    if not isinstance(user, dict):
        return [Error("settings.CHATKIT must be a dict.", hint="CHATKIT = {}", id="django_chatkit.E001")]
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        problems.append(
            Warning(
                f"Unknown CHATKIT keys: {', '.join(unknown)}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="django_chatkit.W001",
            )
        )
    for key, expected, code in (
        ("SERVER_CLASS", "a ChatKitServer subclass", "E002"),
        ("CONTEXT_BUILDER", "a callable (request) -> context", "E003"),
        ("OWNER_RESOLVER", "a callable (context) -> str", "E004"),
        ("TRANSCRIBER", "a callable (audio_input, context) -> TranscriptionResult", "E005"),
    ):
        try:
            value = getattr(chatkit_settings, key)
        except ImproperlyConfigured as exc:
            problems.append(Error(str(exc), id=f"django_chatkit.{code}"))
            continue
        if value is None:
            continue
        ok = isinstance(value, type) and issubclass(value, ChatKitServer) if key == "SERVER_CLASS" else callable(value)
        if not ok:
            problems.append(Error(f"CHATKIT[{key!r}] must be {expected}, got {value!r}.", id=f"django_chatkit.{code}"))
    try:
        policy = chatkit_settings.AUTH_POLICY
    except ImproperlyConfigured as exc:
        problems.append(Error(str(exc), id="django_chatkit.E006"))
        policy = None
    if policy and not apps.is_installed("django.contrib.sessions"):
        problems.append(
            Warning(
                "The default context builder authenticates with Django sessions, "
                "but django.contrib.sessions is not installed.",
                hint="Add 'django.contrib.sessions' to INSTALLED_APPS or set CHATKIT['CONTEXT_BUILDER'].",
                id="django_chatkit.W002",
            )
        )
    problems.extend(_check_database_threads())
    for key in ("MAX_REQUEST_BYTES", "ATTACHMENT_MAX_BYTES"):
        try:
            valid = getattr(chatkit_settings, key) > 0
        except (TypeError, ValueError):
            valid = False
        if not valid:
            problems.append(Error(f"CHATKIT[{key!r}] must be a positive number of bytes.", id="django_chatkit.E007"))
    return problems


def _check_database_threads() -> list:
    try:
        threads = chatkit_settings.DATABASE_THREADS
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="django_chatkit.E008")]
    if threads > 1 and default_database_vendor() == "sqlite":
        return [
            Warning(
                f"CHATKIT['DATABASE_THREADS'] is {threads} on SQLite, which runs one write at a time: "
                "the extra threads only wait for its write lock.",
                hint="Keep CHATKIT['DATABASE_THREADS'] at 1 on SQLite.",
                id="django_chatkit.W003",
            )
        ]
    return []


@register(Tags.staticfiles)
def check_static_storage(app_configs: Any = None, **kwargs: Any) -> list:
    """The chat client's ES modules import each other: a hashing storage must rewrite imports."""
    from django.contrib.staticfiles.storage import HashedFilesMixin
    from django.utils.module_loading import import_string

    backend = getattr(settings, "STORAGES", {}).get("staticfiles", {}).get("BACKEND")
    try:
        storage_class = import_string(backend) if backend else None
    except ImportError:
        return []  # Django's own checks report a backend that cannot be imported
    if (
        isinstance(storage_class, type)
        and issubclass(storage_class, HashedFilesMixin)
        and not storage_class.support_js_module_import_aggregation
    ):
        return [
            Warning(
                f"{storage_class.__name__} hashes static files but leaves ES-module imports alone, so the "
                "chat client's modules load by their unhashed names and may be served stale.",
                hint="Use django_chatkit.staticfiles.ManifestStaticFilesStorage, or set "
                "support_js_module_import_aggregation = True on your storage class.",
                id="django_chatkit.W041",
            )
        ]
    return []


# -- widget templates and server actions (the seed's anti-patterns) ----------------------------


@register("django_chatkit_widgets")
def check_widget_actions(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """Widget templates against the ``@chatkit_action`` registry.

    Reads the ``.widget`` files of ``CHATKIT["WIDGET_DIRS"]`` and of each app's
    ``widgets/`` directory, plus the stored templates when run with ``--database``.
    Each template is rendered with its sample data to see which actions it sends.
    """
    from django.core.checks import Info

    from .actions import registry
    from .widgets import WidgetDefinition, WidgetError, discover_widget_files, iter_actions

    problems: list = []
    definitions: dict[str, WidgetDefinition] = {}
    for path in discover_widget_files():
        try:
            definition = WidgetDefinition.from_file(path)
        except (WidgetError, OSError) as exc:
            problems.append(Warning(f"{path}: {exc}", id="django_chatkit.W023"))
            continue
        definitions[definition.name] = definition
    if databases:
        from django.db import DatabaseError

        from .models import WidgetTemplate

        for alias in databases:
            try:
                rows = list(WidgetTemplate.objects.using(alias).all())
            except DatabaseError:
                continue  # not migrated yet (``migrate`` runs the checks before it migrates)
            for row in rows:
                definitions[row.name] = row.definition()

    handlers: dict[str, set[str]] = {}
    used: set[str] = set()
    server_has_own_action = _server_has_own_action()
    for name, definition in sorted(definitions.items()):
        if definition.sample_data is None:
            continue
        try:
            root = definition.render(definition.sample_data)
        except WidgetError as exc:
            problems.append(
                Warning(
                    f"Widget template {name!r} does not render with its sample data: {exc}",
                    hint="Fix the template or its sampleData; the admin shows the reason next to the field.",
                    obj=name,
                    id="django_chatkit.W023",
                )
            )
            continue
        reported: set[tuple[str, str]] = set()
        for action in iter_actions(root.model_dump(mode="json")):
            used.add(action.type)
            handlers.setdefault(action.type, set()).add(action.handler)
            if (
                action.handler == "server"
                and action.type not in registry
                and not server_has_own_action
                and ("W020", action.type) not in reported
            ):
                reported.add(("W020", action.type))
                problems.append(
                    Warning(
                        f"Widget template {name!r} sends the server action {action.type!r} ({action.path}), "
                        "but no handler is registered for it.",
                        hint=f'Add @chatkit_action("{action.type}") to a function in an app\'s chatkit_actions.py, '
                        'or set "handler": "client" if the browser handles it.',
                        obj=name,
                        id="django_chatkit.W020",
                    )
                )
            if not action.has_payload and ("W022", action.type) not in reported:
                reported.add(("W022", action.type))
                problems.append(
                    Warning(
                        f"Widget template {name!r} sends the action {action.type!r} without a payload ({action.path}).",
                        hint='Always include the data the handler needs, e.g. "payload": {"id": {{ item.id|tojson }}}.',
                        obj=name,
                        id="django_chatkit.W022",
                    )
                )
    for action_type, kinds in sorted(handlers.items()):
        if "client" in kinds and ("server" in kinds or action_type in registry):
            problems.append(
                Warning(
                    f"The action {action_type!r} is handled both client-side and server-side.",
                    hint="Handle each action type in one place: the browser's onAction or a @chatkit_action handler.",
                    obj=action_type,
                    id="django_chatkit.W021",
                )
            )
    if definitions:
        for registered in registry:
            if registered.type not in used:
                problems.append(
                    Info(
                        f"The server action {registered.type!r} ({registered.handler_name}) is not sent by any "
                        "widget template's sample render.",
                        hint="Remove the handler, or check the action type in the templates for a typo.",
                        obj=registered.handler_name,
                        id="django_chatkit.I020",
                    )
                )
    return problems


def _server_has_own_action() -> bool:
    """Whether ``SERVER_CLASS`` answers actions with an ``action()`` of its own (a sample's
    ``if action.type == "line.select"``) instead of the ``@chatkit_action`` registry: then an
    action no handler is registered for may well be answered (no W020)."""
    from .adopt import adopt
    from .server import DjangoChatKitServer

    try:
        server_class = adopt(chatkit_settings.SERVER_CLASS)
    except (ImproperlyConfigured, TypeError):
        return False  # reported as E002
    return server_class.action is not DjangoChatKitServer.action


# -- agents (django_chatkit.agents) -------------------------------------------------------------


@register(Tags.compatibility)
def check_agents(app_configs: Any = None, **kwargs: Any) -> list:
    """``AGENTS``, ``DEFAULT_AGENT``, ``AGENT_BACKEND`` and ``THREAD_TITLE``."""
    from django.utils.module_loading import import_string

    problems: list = []
    example = 'CHATKIT["AGENTS"] = {"general": "myapp.agents.general_agent"}'
    try:
        backend = chatkit_settings.AGENT_BACKEND
    except ImproperlyConfigured as exc:
        problems.append(Error(str(exc), id="django_chatkit.E033"))
        backend = None
    try:
        _ = chatkit_settings.THREAD_TITLE  # importing it is the check
    except ImproperlyConfigured as exc:
        problems.append(Error(str(exc), id="django_chatkit.E034"))
    try:
        server_class = chatkit_settings.SERVER_CLASS
    except ImproperlyConfigured:
        return problems  # reported as E002
    from .agents import AgentChatKitServer, has_openai_credentials

    if not (isinstance(server_class, type) and issubclass(server_class, AgentChatKitServer)):
        return problems
    try:
        agents = chatkit_settings.AGENTS
    except ImproperlyConfigured as exc:
        return [*problems, Error(str(exc), id="django_chatkit.E030")]
    # A subclass that picks its agents itself (its own respond() or get_agent()) needs none.
    picks_its_own = server_class.respond is not AgentChatKitServer.respond or (
        server_class.get_agent is not AgentChatKitServer.get_agent
    )
    if not agents and not picks_its_own:
        problems.append(
            Error(
                "CHATKIT['AGENTS'] is empty, so AgentChatKitServer has no agent to run.",
                hint=example,
                id="django_chatkit.E030",
            )
        )
    from agents import Agent

    for key, target in agents.items():
        try:
            value = import_string(target) if isinstance(target, str) else target
        except ImportError as exc:
            problems.append(
                Error(f"CHATKIT['AGENTS'][{key!r}] cannot be imported: {exc}", hint=example, id="django_chatkit.E031")
            )
            continue
        if not (isinstance(value, Agent) or callable(value)):
            problems.append(
                Error(
                    f"CHATKIT['AGENTS'][{key!r}] is {value!r}, not an agents.Agent or a function returning one.",
                    hint=example,
                    id="django_chatkit.E031",
                )
            )
    default = chatkit_settings.DEFAULT_AGENT
    if agents and default not in agents:
        problems.append(
            Error(
                f"CHATKIT['DEFAULT_AGENT'] is {default!r}, which is not a key of CHATKIT['AGENTS'].",
                hint=f"Use one of: {', '.join(map(repr, agents))}.",
                id="django_chatkit.E032",
            )
        )
    if backend == "openai" and not has_openai_credentials():
        problems.append(
            Warning(
                "CHATKIT['AGENT_BACKEND'] is 'openai' but no OpenAI API key is configured.",
                hint="Set OPENAI_API_KEY, or use AGENT_BACKEND 'auto' to fall back to the offline model.",
                id="django_chatkit.W030",
            )
        )
    return problems


@register(Tags.compatibility)
def check_sdk_seams(app_configs: Any = None, **kwargs: Any) -> list:
    """The private SDK names the app relies on (:mod:`django_chatkit.compat`) are there."""
    from .compat import seam_problems

    return [
        Error(
            f"An installed package changed a private name django_chatkit relies on: {problem}.",
            hint="Install the versions pyproject.toml pins (openai-chatkit 1.6.x), or a django-chatkit-server "
            "release made for this one.",
            id="django_chatkit.E040",
        )
        for problem in seam_problems()
    ]


@register(Tags.compatibility)
def check_code_editor(app_configs: Any = None, **kwargs: Any) -> list:
    """The widget template admin's code editor is Ace, from the django-ace package's static files."""
    if not apps.is_installed("django.contrib.admin") or apps.is_installed("django_ace"):
        return []
    message = (
        "The widget template admin shows plain textareas: its code editor (Ace) comes from "
        "the django-ace package, which is not in INSTALLED_APPS."
    )
    return [
        Warning(
            message,
            hint='INSTALLED_APPS += ["django_ace"]  (installed with django-chatkit-server)',
            id="django_chatkit.W042",
        )
    ]


@register(Tags.compatibility)
def check_redis_timeout(app_configs: Any = None, **kwargs: Any) -> list:
    """W043: redis-py 8 reads with a 5 s socket timeout by default, and channels_redis waits
    for messages with a blocking pop of about as long: a Redis channel layer whose hosts do
    not set ``socket_timeout`` loses its receivers (live sockets, the runs' interest
    listener) to ``TimeoutError`` whenever they wait that long."""
    try:
        import redis
    except ImportError:
        return []
    if int(redis.__version__.split(".")[0]) < 8:
        return []
    problems = []
    for alias, layer in (getattr(settings, "CHANNEL_LAYERS", None) or {}).items():
        if "channels_redis" not in str(layer.get("BACKEND", "")):
            continue
        hosts = (layer.get("CONFIG") or {}).get("hosts") or ["redis://localhost:6379"]
        if not all(_sets_socket_timeout(host) for host in hosts):
            problems.append(
                Warning(
                    f"CHANNEL_LAYERS[{alias!r}] uses redis-py {redis.__version__}, whose 5-second default socket "
                    "timeout cuts channels_redis's blocking reads: live sync drops its sockets and followers.",
                    hint='Give each host a socket_timeout: "hosts": [{"address": REDIS_URL, "socket_timeout": None}]',
                    id="django_chatkit.W043",
                )
            )
    return problems


def _sets_socket_timeout(host: Any) -> bool:
    """Whether a channels_redis host entry chooses its own read timeout (a key of a dict,
    or a query parameter of a URL: ``redis://...?socket_timeout=10``)."""
    if isinstance(host, dict):
        return "socket_timeout" in host or "socket_timeout=" in str(host.get("address", ""))
    return isinstance(host, str) and "socket_timeout=" in host


# -- the live-sync WebSocket route ---------------------------------------------------------


@register(Tags.urls)
def check_live_route(app_configs: Any = None, **kwargs: Any) -> list:
    """W040: the chat UI connects to the live-sync WebSocket (``/chatkit/live/`` unless a
    page passes another ``live_url``); without a route there, every page load logs a
    WebSocket error. Only checked when ``settings.ASGI_APPLICATION`` names the app."""
    from django.utils.module_loading import import_string

    from .templatetags.chatkit import DEFAULT_LIVE_URL

    name = getattr(settings, "ASGI_APPLICATION", None)
    if not name:
        return []
    try:
        application = import_string(name)
    except Exception:
        return []
    websocket = _websocket_application(application)
    if websocket is not None and _routes(websocket, DEFAULT_LIVE_URL.lstrip("/")):
        return []
    return [
        Warning(
            f"{name} has no WebSocket route for {DEFAULT_LIVE_URL}, where the chat UI's live sync connects.",
            hint=(
                'Add "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter('
                "chatkit_websocket_routes()))) to its ProtocolTypeRouter (django_chatkit.routing), or "
                'pass live_url="" to {% chatkit_chat %} and silence django_chatkit.W040.'
            ),
            id="django_chatkit.W040",
        )
    ]


def _unwrap(application: Any) -> Any:
    """The router inside Channels' middleware (``inner``) and origin validators (``application``)."""
    for _ in range(32):
        if hasattr(application, "routes") or hasattr(application, "application_mapping"):
            return application
        inner = getattr(application, "inner", None) or getattr(application, "application", None)
        if inner is None:
            return application
        application = inner
    return application


def _websocket_application(application: Any) -> Any:
    mapping = getattr(_unwrap(application), "application_mapping", None)
    return mapping.get("websocket") if isinstance(mapping, dict) else None


def _routes(application: Any, path: str) -> bool:
    """Whether a Channels ``URLRouter`` (behind any middleware) routes ``path``."""
    router = _unwrap(application)
    for route in getattr(router, "routes", None) or ():
        match = route.pattern.match(path)
        if not match:
            continue
        remaining = match[0] if isinstance(match, tuple) else ""
        callback = getattr(route, "callback", None)
        if hasattr(_unwrap(callback), "routes"):
            if _routes(callback, remaining):
                return True
            continue
        if not remaining:
            return True
    return False
