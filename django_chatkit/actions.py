"""Server actions: ``@chatkit_action`` handlers, found by autodiscovery, dispatched by the server.

A widget whose action says ``"handler": "server"`` sends ``threads.custom_action`` (or
``threads.sync_custom_action`` when it says ``"streaming": false``). The server looks the
action's ``type`` up in :data:`registry` and runs the handler registered for it::

    # myapp/chatkit_actions.py  (found automatically, like admin.py)
    from django_chatkit.actions import chatkit_action

    @chatkit_action("line.select", payload=LineSelection)
    async def select_line(thread, action, sender, context, act):
        line_id = action.payload["id"]
        yield await act.replace_sender(update={"selected": line_id})
        yield act.assistant_message(f"Selected {line_id}")
        yield act.client_effect("selection_changed", {"lineId": line_id})

Handlers take the SDK's ``(thread, action, sender, context)``, optionally followed by an
:class:`ActionContext` (``act``) with helpers for the common moves. Streaming handlers are
async generators yielding stream events, or coroutines returning one event, a list of
events or None. ``sync=True`` handlers are coroutines returning the updated widget item
(or a widget root, a replace event, or None); the server saves it, so a reload shows it.

Refusals never reach the handler and write nothing: an unknown type, a payload that
fails its model, a missing permission each answer with a clear ``error`` event (streaming)
or an HTTP error with a JSON body (sync).

Long because: the decorator, the registry, the ``ActionContext`` helpers and the
dispatch (refusals, sync and streaming handlers) are one public API, read together.
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer
from chatkit.store import Store, StoreItemType
from chatkit.types import (
    Action,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientEffectEvent,
    HiddenContextItem,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WidgetItem,
)
from chatkit.widgets import BasicRoot, Card, DynamicWidgetRoot, ListView
from pydantic import BaseModel, ValidationError

from .context import RequestContext
from .exceptions import ActionRefused, ActionRegistrationError, BadRequest, Forbidden
from .widgets import (
    WidgetError,
    WidgetSource,
    aget_widget_definition,
    remember_source,
    validate_widget,
    widget_source,
)

__all__ = [
    "ActionContext",
    "ActionRegistrationError",
    "ActionRegistry",
    "RegisteredAction",
    "chatkit_action",
    "registry",
    "run_action",
    "run_sync_action",
]

Permission = str | Callable[["ActionContext"], Any]


# -- the registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredAction:
    """A handler and the options it was registered with."""

    type: str
    handler: Callable[..., Any]
    payload: builtins.type[BaseModel] | None = None
    permission: Permission | None = None
    sync: bool = False
    takes_helpers: bool = False

    @property
    def handler_name(self) -> str:
        return f"{self.handler.__module__}.{self.handler.__qualname__}"


def _count_positional(func: Callable[..., Any]) -> tuple[int, bool]:
    params = inspect.signature(func).parameters.values()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_args = any(p.kind is p.VAR_POSITIONAL for p in params)
    return len(positional), var_args


def _check_type(action_type: Any) -> str:
    if not isinstance(action_type, str) or not action_type.strip() or action_type != action_type.strip():
        raise ActionRegistrationError(
            f"An action type must be a non-empty string without surrounding spaces, got {action_type!r}. "
            'Example: @chatkit_action("line.select")'
        )
    return action_type


class ActionRegistry:
    """Action type -> handler. ``register``, ``get`` and ``reset``, like Django's admin site."""

    def __init__(self) -> None:
        self._actions: dict[str, RegisteredAction] = {}

    def register(
        self,
        action_type: str,
        handler: Callable[..., Any],
        *,
        payload: type[BaseModel] | None = None,
        permission: Permission | None = None,
        sync: bool = False,
    ) -> RegisteredAction:
        """Register ``handler`` for ``action_type``; a second handler for the same type raises."""
        action_type = _check_type(action_type)
        where = f"@chatkit_action({action_type!r})"
        if not callable(handler):
            raise ActionRegistrationError(f"{where} must decorate a function, not {handler!r}.")
        name = f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)!s}"
        if sync:
            if not inspect.iscoroutinefunction(handler):
                raise ActionRegistrationError(
                    f"{where} on {name}: a sync action handler must be an `async def` returning the updated item."
                )
        elif not (inspect.iscoroutinefunction(handler) or inspect.isasyncgenfunction(handler)):
            raise ActionRegistrationError(
                f"{where} on {name}: the handler must be an `async def` (a coroutine, or an async generator "
                "yielding stream events)."
            )
        count, var_args = _count_positional(handler)
        if count < 4 and not var_args:
            raise ActionRegistrationError(
                f"{where} on {name}: the handler must accept (thread, action, sender, context[, act])."
            )
        if payload is not None and not (isinstance(payload, type) and issubclass(payload, BaseModel)):
            raise ActionRegistrationError(f"{where} on {name}: payload= must be a pydantic BaseModel subclass.")
        if permission is not None and not (
            callable(permission) or (isinstance(permission, str) and permission.count(".") == 1)
        ):
            raise ActionRegistrationError(
                f"{where} on {name}: permission= must be a Django permission like 'app_label.codename' "
                "or a callable (act) -> bool."
            )
        registered = RegisteredAction(
            action_type, handler, payload, permission, sync, takes_helpers=count >= 5 or var_args
        )
        existing = self._actions.get(action_type)
        # Re-importing the same module (importlib.reload) re-registers the same function: allowed.
        if existing is not None and existing.handler_name != registered.handler_name:
            raise ActionRegistrationError(
                f"The action {action_type!r} already has a server handler, {existing.handler_name}; "
                f"{registered.handler_name} cannot handle it too. Give one of them another action type."
            )
        self._actions[action_type] = registered
        return registered

    def unregister(self, action_type: str) -> None:
        self._actions.pop(action_type, None)

    def get(self, action_type: str) -> RegisteredAction | None:
        return self._actions.get(action_type)

    def reset(self) -> None:
        """Forget every handler (tests)."""
        self._actions.clear()

    def types(self) -> list[str]:
        return sorted(self._actions)

    def __contains__(self, action_type: object) -> bool:
        return action_type in self._actions

    def __iter__(self) -> Iterator[RegisteredAction]:
        return iter(list(self._actions.values()))

    def __len__(self) -> int:
        return len(self._actions)

    @contextmanager
    def isolated(self) -> Iterator[ActionRegistry]:
        """Run a block with an empty registry, then put the previous handlers back (tests)."""
        saved = dict(self._actions)
        self._actions.clear()
        try:
            yield self
        finally:
            self._actions.clear()
            self._actions.update(saved)


#: The registry the server dispatches through.
registry = ActionRegistry()


def chatkit_action(
    action_type: str,
    *,
    payload: type[BaseModel] | None = None,
    permission: Permission | None = None,
    sync: bool = False,
    registry: ActionRegistry | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated ``async def`` as the server handler for ``action_type``.

    ``payload``: a pydantic model the action's payload must match (``act.payload`` is the
    parsed model; ``action.payload`` stays the raw dict). ``permission``: a Django
    permission (``"app_label.codename"``) or a callable ``(act) -> bool`` (sync or async).
    ``sync``: the handler answers ``threads.sync_custom_action`` by returning the updated item.
    """
    _check_type(action_type)
    target = registry if registry is not None else globals()["registry"]

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        registered = target.register(action_type, handler, payload=payload, permission=permission, sync=sync)
        handler.chatkit_action = registered  # type: ignore[attr-defined]
        return handler

    return decorator


# -- what a handler gets ----------------------------------------------------------------------


@dataclass
class ActionContext:
    """Everything about the action being handled, plus helpers for the common moves.

    The helpers return stream events for the handler to ``yield`` (``replace_sender``
    is awaited first because it may read the template from the database).
    """

    server: ChatKitServer[RequestContext]
    thread: ThreadMetadata
    action: Action[str, Any]
    sender: WidgetItem | None
    context: RequestContext
    #: The validated payload model when the action was registered with ``payload=``, else the raw payload.
    payload: Any = None
    _original_sender: WidgetItem | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._original_sender = self.sender

    @property
    def store(self) -> Store[RequestContext]:
        return self.server.store

    @property
    def user_id(self) -> str:
        return self.context.user_id

    def new_item_id(self, kind: StoreItemType = "message") -> str:
        return self.store.generate_item_id(kind, self.thread, self.context)

    def sender_source(self) -> WidgetSource | None:
        """The template, version and data that rendered the sender widget, if it came from one."""
        return widget_source(self.thread, self.sender) if self.sender is not None else None

    async def replace_sender(
        self,
        data: Any = None,
        *,
        update: dict[str, Any] | None = None,
        widget: Any = None,
        template: str | None = None,
        version: int | None = None,
    ) -> ThreadItemReplacedEvent:
        """Replace the widget that sent the action.

        Either give the new ``widget`` (a widget root or its JSON), or re-render the
        sender's template: with ``data`` as the new data, or its previous data with
        ``update`` merged in. ``template`` renders another template instead.
        """
        if self.sender is None:
            raise CustomStreamError(
                f"The action {self.action.type!r} was not sent from a widget; there is nothing to replace."
            )
        if widget is not None:
            root = validate_widget(widget) if isinstance(widget, dict) else widget
        else:
            source = self.sender_source()
            name = template or (source.template if source else None)
            if name is None:
                raise CustomStreamError(
                    f"The widget {self.sender.id} was not rendered from a widget template, so it cannot be re-rendered. "
                    "Pass widget= or template=."
                )
            if data is None:
                data = dict(source.data or {}) if source and source.template == name else {}
            if isinstance(data, BaseModel):
                data = data.model_dump(mode="json")
            if update:
                data = {**data, **update}
            try:
                definition = await aget_widget_definition(name, version)
                root = await definition.arender(data)
            except WidgetError as exc:
                raise CustomStreamError(str(exc)) from exc
            remember_source(self.thread, self.sender.id, WidgetSource(definition.name, definition.version, data))
        self.sender = self.sender.model_copy(update={"widget": root})
        return ThreadItemReplacedEvent(item=self.sender)

    def _new_item(self, item_class: Any, **fields: Any) -> ThreadItemDoneEvent:
        """A new item of this thread, done (a message id, created now)."""
        item = item_class(id=self.new_item_id("message"), thread_id=self.thread.id, created_at=datetime.now(), **fields)
        return ThreadItemDoneEvent(item=item)

    def assistant_message(self, text: str) -> ThreadItemDoneEvent:
        """A finished assistant message with ``text``."""
        return self._new_item(AssistantMessageItem, content=[AssistantMessageContent(text=text)])

    def client_effect(self, name: str, data: dict[str, Any] | None = None) -> ClientEffectEvent:
        """Ask the browser to run its ``onEffect`` handler ``name`` with ``data`` (not persisted)."""
        return ClientEffectEvent(name=name, data=data or {})

    def hidden_context(self, content: Any) -> ThreadItemDoneEvent:
        """Context the model sees on the next turn but the user never does."""
        return self._new_item(HiddenContextItem, content=content)

    def set_title(self, title: str | None) -> None:
        """Rename the thread; the server saves it and streams ``thread.updated``."""
        self.thread.title = title

    @property
    def updated_sender(self) -> WidgetItem | None:
        """The sender after ``replace_sender``, or None when it was not replaced."""
        return self.sender if self.sender is not self._original_sender else None


# -- dispatch ---------------------------------------------------------------------------------


def _payload_problem(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ())) or "payload"
        problems.append(f"{where}: {error.get('msg')}")
    return "; ".join(problems)


async def _allowed(registered: RegisteredAction, act: ActionContext) -> bool:
    permission = registered.permission
    if permission is None:
        return True
    if isinstance(permission, str):
        user = getattr(act.context, "user", None)
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        if hasattr(user, "ahas_perm"):
            return bool(await user.ahas_perm(permission))
        return bool(await sync_to_async(user.has_perm)(permission))
    result = permission(act)
    if inspect.isawaitable(result):
        result = await result
    return bool(result)


async def _prepare(act: ActionContext) -> RegisteredAction:
    """Find the handler, validate ``act.payload`` and check permission; :class:`ActionRefused` if any fails."""
    action = act.action
    registered = registry.get(action.type)
    if registered is None:
        raise ActionRefused(f"No server handler is registered for the action {action.type!r}.", 400)
    if registered.payload is not None:
        try:
            act.payload = registered.payload.model_validate(action.payload if action.payload is not None else {})
        except ValidationError as exc:
            raise ActionRefused(
                f"Invalid payload for the action {action.type!r}: {_payload_problem(exc)}", 400
            ) from exc
    if not await _allowed(registered, act):
        raise ActionRefused(f"You are not allowed to perform the action {action.type!r}.", 403)
    return registered


def _arguments(registered: RegisteredAction, act: ActionContext) -> tuple[Any, ...]:
    base = (act.thread, act.action, act.sender, act.context)
    return (*base, act) if registered.takes_helpers else base


def _updated_item(result: Any, act: ActionContext) -> ThreadItem | None:
    """What a sync handler returned, as the updated item (a widget, or the item it replaces)."""
    if isinstance(result, SyncCustomActionResponse):
        return result.updated_item
    if isinstance(result, ThreadItemReplacedEvent):
        return result.item
    if isinstance(result, WidgetItem):
        return result
    if isinstance(result, (DynamicWidgetRoot, Card, ListView, BasicRoot)) and act.sender is not None:
        return act.sender.model_copy(update={"widget": result})
    if result is None:
        return act.updated_sender
    raise TypeError(
        f"The sync action handler for {act.action.type!r} returned {type(result).__name__}; "
        "return a WidgetItem, a widget root, a ThreadItemReplacedEvent or None."
    )


async def run_action(act: ActionContext) -> AsyncIterator[ThreadStreamEvent]:
    """The events of ``threads.custom_action``: the registered handler's, or one clear error.

    ``act`` is the action as the server received it (its ``payload`` still raw).
    """
    try:
        registered = await _prepare(act)
    except ActionRefused as exc:
        raise CustomStreamError(exc.message) from exc
    if registered.sync:
        item = _updated_item(await registered.handler(*_arguments(registered, act)), act)
        if item is not None:
            yield ThreadItemReplacedEvent(item=item)
        return
    result = registered.handler(*_arguments(registered, act))
    if isinstance(result, AsyncIterator):
        async for event in result:
            yield event
        return
    result = await result
    events: list[ThreadStreamEvent] = (
        list(result) if isinstance(result, (list, tuple)) else [] if result is None else [result]
    )
    for event in events:
        yield event


async def run_sync_action(act: ActionContext) -> SyncCustomActionResponse:
    """Answer ``threads.sync_custom_action`` and save the updated item (the SDK does not)."""
    try:
        registered = await _prepare(act)
    except ActionRefused as exc:
        raise (Forbidden if exc.status == 403 else BadRequest)(exc.message) from exc
    if not registered.sync:
        raise BadRequest(
            f"The action {act.action.type!r} streams its answer: send it with threads.custom_action "
            "(or register its handler with sync=True)."
        )
    thread = act.thread
    before = thread.model_copy(deep=True)
    try:
        result = await registered.handler(*_arguments(registered, act))
    except CustomStreamError as exc:
        raise BadRequest(exc.message) from exc
    item = _updated_item(result, act)
    if item is not None:
        await act.store.save_item(thread.id, item, context=act.context)
    if thread != before:
        await act.store.save_thread(thread, context=act.context)
    return SyncCustomActionResponse(updated_item=item)
