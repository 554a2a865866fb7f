"""Answer ChatKit messages with openai-agents: routing, history, tools, titles, guardrails.

Point ``CHATKIT["SERVER_CLASS"]`` at :class:`AgentChatKitServer` and name your agents::

    CHATKIT = {
        "SERVER_CLASS": "django_chatkit.agents.AgentChatKitServer",
        "AGENTS": {
            "general": "myapp.agents.general_agent",
            "event_finder": "myapp.agents.event_finder_agent",
        },
        "DEFAULT_AGENT": "general",
    }

Each turn, the server picks the agent for the composer's tool choice
(``context.metadata["tool_choice"]``), converts the thread's history to agent input
(resolving @-mention tags through :mod:`django_chatkit.entities` and attachments from
Django storage), runs it with ``Runner.run_streamed`` and streams the result through the
SDK's ``stream_agent_response``. Without an OpenAI API key the agents run on the
deterministic :class:`~django_chatkit.offline.OfflineModel`.

Long because: :class:`AgentChatKitServer`'s hooks (agent routing, history conversion,
attachments, tools, titles, guardrails) are one class that sites subclass and override.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import openai
from agents import (
    Agent,
    FunctionTool,
    InputGuardrailTripwireTriggered,
    OutputGuardrailTripwireTriggered,
    RunConfig,
    RunContextWrapper,
    Runner,
)
from chatkit.agents import AgentContext, ClientToolCall, ThreadItemConverter, stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.types import (
    AssistantMessageItem,
    Attachment,
    ErrorEvent,
    ImageAttachment,
    NoticeEvent,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTagContent,
)
from django.utils.module_loading import import_string
from openai.types.responses import ResponseInputContentParam
from pydantic import BaseModel

from . import models
from .compat import openai_default_configured
from .conf import ChatKitConfigurationError, chatkit_settings
from .context import RequestContext
from .entities import aresolve_entity, is_entity_source_id
from .journal import is_interruption_marker
from .offline import OfflineModel, message_text
from .server import DjangoChatKitServer
from .store import read_stored_file
from .widgets import WidgetError, awidget_item

__all__ = [
    "AgentChatKitServer",
    "ChatKitItemConverter",
    "client_tool",
    "first_message_title",
    "widget_tool",
]

logger = logging.getLogger("django_chatkit.agents")

BACKEND_AUTO = "auto"
BACKEND_OFFLINE = "offline"
BACKEND_OPENAI = "openai"


# -- history -> agent input ------------------------------------------------------------


class ChatKitItemConverter(ThreadItemConverter):
    """The SDK's converter plus what it leaves to the integrator.

    ``tag_to_message_content`` resolves an @-mention of a registered entity source
    (``"<source>:<id>"``) back to its row with the requesting user's visibility (never
    trusting the tag's own ``data``); a tag the user may not see is dropped: the agent is
    told only that a mention was removed, and :attr:`dropped` records it so the server
    can show the user a notice. A tag whose id names no registered source (a raw id, as
    a site's own entity search makes them) goes to :meth:`raw_tag_to_message_content`.
    ``attachment_to_message_content`` reads each file once per turn, the newest first
    within ``AGENT_ATTACHMENT_BYTES_PER_TURN`` bytes.
    """

    text_attachment_limit = 20_000
    """Characters of a text attachment given to the agent."""

    def __init__(self, context: RequestContext, owner: str) -> None:
        self.context = context
        self.owner = owner
        self.dropped: dict[str, list[UserMessageTagContent]] = {}
        self._message_id: str | None = None
        # Each attachment is read once per turn, however many messages name it.
        self._contents: dict[str, ResponseInputContentParam] = {}
        # The attachments this turn may read (None: not planned, read as asked).
        self._readable: dict[str, str] | None = None

    async def to_agent_input(self, thread_items):
        items = list(thread_items) if isinstance(thread_items, (list, tuple)) else [thread_items]
        await self._plan_attachments(items)
        return await super().to_agent_input(items)

    async def _plan_attachments(self, items: list[ThreadItem]) -> None:
        """Pick the attachments this turn reads: the newest first, within
        ``AGENT_ATTACHMENT_BYTES_PER_TURN`` bytes (sizes from the upload, one query)."""
        wanted: list[str] = []
        for item in reversed(items):
            for attachment in getattr(item, "attachments", None) or ():
                if attachment.id not in wanted:
                    wanted.append(attachment.id)
        self._readable = {}
        if not wanted:
            return
        stored = {
            attachment_id: (name, size)
            async for attachment_id, name, size in models.Attachment.objects.filter(
                attachment_id__in=wanted, owner=self.owner
            ).values_list("attachment_id", "file", "size")
        }
        budget = chatkit_settings.AGENT_ATTACHMENT_BYTES_PER_TURN
        for attachment_id in wanted:
            name, size = stored.get(attachment_id, ("", 0))
            if not name:
                continue
            if size > budget:
                budget = -1  # older attachments stay out too: the newest ones come first
                continue
            budget -= size
            self._readable[attachment_id] = name

    async def user_message_to_input(self, item: UserMessageItem, is_last_message: bool = True):
        self._message_id = item.id
        try:
            return await super().user_message_to_input(item, is_last_message)
        finally:
            self._message_id = None

    async def assistant_message_to_input(self, item: AssistantMessageItem):
        """The answer as the model wrote it: an interruption marker is the app's text."""
        content = [part for part in item.content if not is_interruption_marker(part)]
        if not content:
            return None
        return await super().assistant_message_to_input(item.model_copy(update={"content": content}))

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputContentParam:
        if not is_entity_source_id(tag.id):
            return await self.raw_tag_to_message_content(tag)
        resolved = await aresolve_entity(self.context.user, tag.id)
        if resolved is None:
            self.dropped.setdefault(self._message_id or "", []).append(tag)
            return {
                "type": "input_text",
                "text": (
                    f'@-mention "{tag.text}" was removed: it does not exist or the user may '
                    "not see it. Do not guess what it referred to."
                ),
            }
        entity = resolved.entity
        kind = entity.get("group") or entity.get("type", "entity")
        return {
            "type": "input_text",
            "text": f'@-mention: {kind} "{entity["title"]}" (id {entity["id"]})\n{resolved.description}',
        }

    async def raw_tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputContentParam:
        """An @-mention whose id names no registered entity source. Override to look it up
        your way; by default the agent gets what the user saw (the tag's text) and its id,
        not the tag's ``data``, which the client sent."""
        return {"type": "input_text", "text": f'@-mention: "{tag.text}" (id {tag.id})'}

    async def attachment_to_message_content(self, attachment: Attachment) -> ResponseInputContentParam:
        content = self._contents.get(attachment.id)
        if content is None:
            content = self._contents[attachment.id] = await self._attachment_content(attachment)
        return content

    async def _attachment_content(self, attachment: Attachment) -> ResponseInputContentParam:
        if self._readable is None:
            name = await _stored_file_name(attachment, self.owner)
        elif attachment.id in self._readable:
            name = self._readable[attachment.id]
        else:
            name = await _stored_file_name(attachment, self.owner)
            if name:
                return {
                    "type": "input_text",
                    "text": f"(The attached file {attachment.name} was left out: this turn's attachment limit is used up.)",
                }
        is_text = attachment.mime_type.startswith("text/")
        # A text attachment is cut to text_attachment_limit characters: read no more than that.
        content = await read_stored_file(name, 4 * self.text_attachment_limit if is_text else -1) if name else None
        if content is None:
            return {
                "type": "input_text",
                "text": f"(The attached file {attachment.name} is no longer available.)",
            }
        if is_text:
            text = content.decode("utf-8", errors="replace")[: self.text_attachment_limit]
            return {"type": "input_text", "text": f"Attached file {attachment.name}:\n{text}"}
        encoded = base64.b64encode(content).decode("ascii")
        del content
        if isinstance(attachment, ImageAttachment) or attachment.mime_type.startswith("image/"):
            return {
                "type": "input_image",
                "detail": "auto",
                "image_url": f"data:{attachment.mime_type};base64,{encoded}",
            }
        return {
            "type": "input_file",
            "filename": attachment.name,
            "file_data": f"data:{attachment.mime_type};base64,{encoded}",
        }


async def _stored_file_name(attachment: Attachment, owner: str) -> str | None:
    """The storage name of an attachment this owner uploaded, or ``None``."""
    return await (
        models.Attachment.objects.filter(attachment_id=attachment.id, owner=owner)
        .values_list("file", flat=True)
        .afirst()
    )


# -- tools ---------------------------------------------------------------------------


def _agent_context(wrapper: RunContextWrapper[Any]) -> AgentContext:
    context = wrapper.context
    if not isinstance(context, AgentContext):
        raise TypeError(
            "This tool needs a ChatKit AgentContext: run the agent through AgentChatKitServer "
            "(or pass context=AgentContext(...) to Runner.run_streamed)."
        )
    return context


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _tool_arguments(raw: str) -> dict[str, Any] | None:
    """The model's arguments as a dict, or ``None`` when they are not a JSON object."""
    try:
        arguments = json.loads(raw or "{}")
    except ValueError:
        return None
    return arguments if isinstance(arguments, dict) else None


def _parameters_schema(parameters: Mapping[str, Any] | type[BaseModel] | None) -> dict[str, Any]:
    if parameters is None:
        return {"type": "object", "properties": {}, "additionalProperties": True}
    if isinstance(parameters, type) and issubclass(parameters, BaseModel):
        return parameters.model_json_schema()
    return dict(parameters)


def widget_tool(
    widget: str | Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    data: Mapping[str, Any] | Callable[..., Any] | None = None,
    parameters: Mapping[str, Any] | type[BaseModel] | None = None,
    copy_text: str | None = None,
) -> FunctionTool:
    """A tool that shows a widget in the thread.

    ``widget`` is the name of an admin-managed widget template (rendered through
    :mod:`django_chatkit.widgets`, which remembers template and data so server actions
    can re-render it) or a callable ``(data) -> WidgetRoot`` (sync, async, or an async
    generator of successive roots, which streams the widget).

    The data comes from ``data``: a dict, or a callable ``(agent_context, arguments)``
    (sync or async). Without ``data`` the model's arguments are the data; ``parameters``
    (a JSON schema or pydantic model) tells the model their shape.

    A template that refuses the data (schema, rendering) does not end the turn: the
    model gets the reason as the tool's result and may try again.
    """
    if not (isinstance(widget, str) or callable(widget)):
        raise TypeError("widget_tool() needs a template name or a callable returning a widget.")
    template_name = widget if isinstance(widget, str) else None
    tool_name = name or re.sub(r"[^A-Za-z0-9_-]", "_", f"show_{template_name or getattr(widget, '__name__', 'widget')}")
    if parameters is None and data is not None:
        parameters = {"type": "object", "properties": {}, "additionalProperties": False}

    async def invoke(wrapper: RunContextWrapper[Any], raw_arguments: str) -> str:
        ctx = _agent_context(wrapper)
        arguments = _tool_arguments(raw_arguments)
        if arguments is None:
            return f"The arguments of {tool_name} must be a JSON object."
        if data is None:
            values = arguments
        elif callable(data):
            values = await _maybe_await(data(ctx, arguments))
        else:
            values = dict(data)
        try:
            if isinstance(widget, str):
                # widget_item remembers template, version and data in the thread, so a
                # server action can re-render this widget later with new data.
                item = await awidget_item(
                    widget,
                    values,
                    thread=ctx.thread,
                    item_id=ctx.generate_id("message"),
                    copy_text=copy_text,
                )
                await ctx.stream(ThreadItemDoneEvent(item=item))
            else:
                root = widget(values)
                if not inspect.isasyncgen(root):
                    root = await _maybe_await(root)
                await ctx.stream_widget(root, copy_text=copy_text)
        except WidgetError as exc:  # the model gets the reason and may retry with better data
            logger.info("Widget tool %s could not render: %s", tool_name, exc)
            return f"The widget could not be shown: {exc}"
        return f"The {template_name or tool_name} widget is now shown to the user."

    return FunctionTool(
        name=tool_name,
        description=description or f"Show the {template_name or tool_name} widget to the user.",
        params_json_schema=_parameters_schema(parameters),
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


def client_tool(
    name: str,
    *,
    description: str,
    parameters: Mapping[str, Any] | type[BaseModel] | None = None,
) -> FunctionTool:
    """A tool the browser runs: the turn stops with a pending ``client_tool_call`` item.

    The client answers with ``threads.add_client_tool_output``; the server then runs the
    agent again with the output in its input. :class:`AgentChatKitServer` makes an agent
    that has client tools stop at them (``StopAtTools``) unless it sets its own
    ``tool_use_behavior``.
    """

    async def invoke(wrapper: RunContextWrapper[Any], raw_arguments: str) -> str:
        ctx = _agent_context(wrapper)
        arguments = _tool_arguments(raw_arguments)
        if arguments is None:
            return f"The arguments of {name} must be a JSON object."
        ctx.client_tool_call = ClientToolCall(name=name, arguments=arguments)
        return f"The client will run {name}."

    tool = FunctionTool(
        name=name,
        description=description,
        params_json_schema=_parameters_schema(parameters),
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )
    tool._chatkit_client_tool = True  # type: ignore[attr-defined]
    return tool


# -- titles -----------------------------------------------------------------------------


def first_message_title(thread: ThreadMetadata, user_text: str, assistant_text: str) -> str:
    """Default thread title: the first message, cut at a word to 60 characters."""
    text = " ".join(user_text.split())
    if len(text) <= 60:
        return text
    cut = text[:60].rsplit(" ", 1)[0] or text[:60]
    return cut.rstrip(" ,.;:") + "…"


# -- the server ---------------------------------------------------------------------------


def has_openai_credentials() -> bool:
    """Whether a real OpenAI model can be called (an API key or a default client is set)."""
    return bool(os.environ.get("OPENAI_API_KEY") or openai_default_configured())


def uses_offline_model() -> bool:
    """Whether agents run on the offline model: ``AGENT_BACKEND`` is ``"offline"``, or
    ``"auto"`` with no OpenAI credentials."""
    backend = chatkit_settings.AGENT_BACKEND
    return backend == BACKEND_OFFLINE or (backend == BACKEND_AUTO and not has_openai_credentials())


class AgentChatKitServer(DjangoChatKitServer):
    """A ChatKit server that answers each user message by running an openai-agents agent.

    Override points: :meth:`get_agent` (routing), :meth:`get_model` (model choice),
    :meth:`get_run_config`, :meth:`load_history`, :meth:`get_agent_context` (your own
    ``AgentContext`` subclass), :meth:`get_converter` (your own converter) and
    :attr:`converter_class`.
    """

    converter_class: type[ChatKitItemConverter] = ChatKitItemConverter

    # -- routing -------------------------------------------------------------------------

    def get_tool_choice(
        self, input_user_message: UserMessageItem | None, context: RequestContext, history: list[ThreadItem]
    ) -> str | None:
        """The composer tool the user picked for this turn, if any.

        ``context.metadata["tool_choice"]`` first (set from the request, as in the seed),
        then the turn's message, or the latest user message when there is none (after
        ``threads.add_client_tool_output`` the agent that asked finishes the job).
        """
        choice = context.metadata.get("tool_choice") if context.metadata else None
        if choice:
            return str(choice)
        message = input_user_message or _last_user_message(history)
        if message is not None and message.inference_options.tool_choice is not None:
            return message.inference_options.tool_choice.id
        return None

    def get_agent(self, tool_choice: str | None, context: RequestContext) -> Agent[Any]:
        """The agent for ``tool_choice`` from ``CHATKIT["AGENTS"]`` (the default otherwise)."""
        agents = chatkit_settings.AGENTS
        default = chatkit_settings.DEFAULT_AGENT
        key = tool_choice if tool_choice in agents else default
        if key not in agents:
            raise ChatKitConfigurationError(
                "AGENTS",
                f"has no agent for {key!r} (the default agent, DEFAULT_AGENT)",
                '{"general": "myapp.agents.general_agent"}',
            )
        target = agents[key]
        try:
            agent = import_string(target) if isinstance(target, str) else target
        except ImportError as exc:
            raise ChatKitConfigurationError(
                "AGENTS",
                f"entry {key!r} cannot be imported ({exc})",
                '{"general": "myapp.agents.general_agent"}',
            ) from exc
        if not isinstance(agent, Agent) and callable(agent):
            agent = agent(context)
        if not isinstance(agent, Agent):
            raise ChatKitConfigurationError(
                "AGENTS",
                f"entry {key!r} is {agent!r}, not an agents.Agent or a function returning one",
                '{"general": "myapp.agents.general_agent"}',
            )
        return agent

    def get_model(self, agent: Agent[Any], requested: str | None, context: RequestContext) -> Any:
        """The model for this run: the offline model, an allowed override, or ``None``."""
        if uses_offline_model():
            return OfflineModel(
                label=agent.name,
                delay=chatkit_settings.OFFLINE_REPLY_DELAY,
                tool_triggers=chatkit_settings.OFFLINE_TOOL_TRIGGERS,
            )
        if requested and requested in chatkit_settings.AGENT_MODEL_ALLOWLIST:
            return requested
        return None

    def get_run_config(self, agent: Agent[Any], model: Any, context: RequestContext) -> RunConfig:
        offline = isinstance(model, OfflineModel)
        return RunConfig(model=model, tracing_disabled=offline)

    def get_agent_context(self, thread: ThreadMetadata, context: RequestContext) -> AgentContext:
        """The ``AgentContext`` the agent's tools receive; return an instance of your own
        subclass when your agents expect its fields."""
        return AgentContext(thread=thread, store=self.store, request_context=context)

    def get_converter(self, thread: ThreadMetadata, context: RequestContext) -> ThreadItemConverter:
        """The converter of the thread's items to agent input: ``converter_class(context,
        owner)`` by default. Return any ``ThreadItemConverter``; one without
        :attr:`ChatKitItemConverter.dropped` just never reports dropped mentions."""
        return self.converter_class(context, self.owner_of(context))

    async def load_history(self, thread: ThreadMetadata, context: RequestContext) -> list[ThreadItem]:
        """The last ``AGENT_HISTORY_LIMIT`` items of the thread, oldest first."""
        page = await self.store.load_thread_items(
            thread.id, None, chatkit_settings.AGENT_HISTORY_LIMIT, "desc", context
        )
        return list(reversed(page.data))

    # -- the turn ---------------------------------------------------------------------------

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        history = await self.load_history(thread, context)
        try:
            agent = self.get_agent(self.get_tool_choice(input_user_message, context, history), context)
        except ChatKitConfigurationError as exc:
            logger.error("%s", exc)
            raise CustomStreamError(str(exc), allow_retry=False) from exc
        agent = _stop_at_client_tools(agent)

        requested = input_user_message.inference_options.model if input_user_message else None
        model = self.get_model(agent, requested, context)

        converter = self.get_converter(thread, context)
        agent_input = await converter.to_agent_input(history)
        if input_user_message is not None:
            for tag in getattr(converter, "dropped", {}).get(input_user_message.id, []):
                yield NoticeEvent(
                    level="warning",
                    message=f"@{tag.text} is not available to you, so it was not shared with the assistant.",
                )

        agent_context = self.get_agent_context(thread, context)
        result = Runner.run_streamed(
            agent,
            agent_input,
            context=agent_context,
            run_config=self.get_run_config(agent, model, context),
        )
        assistant_text: list[str] = []
        try:
            async for event in stream_agent_response(agent_context, result):
                if event.type == "thread.item.done" and event.item.type == "assistant_message":
                    assistant_text.extend(part.text for part in event.item.content)
                yield event
        except (InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered) as exc:
            # stream_agent_response already removed what the run produced; drop the
            # message that tripped an input guardrail too, so no half turn is left.
            if input_user_message is not None and isinstance(exc, InputGuardrailTripwireTriggered):
                yield ThreadItemRemovedEvent(item_id=input_user_message.id)
            yield ErrorEvent(code="custom", message=_guardrail_message(exc), allow_retry=False)
            return
        except openai.APIError as exc:
            logger.warning("The model call of agent %r failed: %s", agent.name, exc)
            message = f"The AI model could not answer ({type(exc).__name__}). Please try again."
            yield ErrorEvent(code="custom", message=message, allow_retry=True)
            return

        title_message = input_user_message or _last_user_message(history)
        await self._maybe_set_title(thread, title_message, "".join(assistant_text))

    async def _maybe_set_title(
        self, thread: ThreadMetadata, message: UserMessageItem | None, assistant_text: str
    ) -> None:
        titler = chatkit_settings.THREAD_TITLE
        if titler is None or thread.title or message is None or not assistant_text:
            return
        title = await _maybe_await(titler(thread, message_text(message), assistant_text))
        if title:
            thread.title = str(title)[:255]


def _last_user_message(history: list[ThreadItem]) -> UserMessageItem | None:
    return next((item for item in reversed(history) if isinstance(item, UserMessageItem)), None)


def _guardrail_message(exc: InputGuardrailTripwireTriggered | OutputGuardrailTripwireTriggered) -> str:
    info = exc.guardrail_result.output.output_info
    if isinstance(info, str) and info:
        return info
    if isinstance(info, Mapping) and info.get("message"):
        return str(info["message"])
    kind = "message" if isinstance(exc, InputGuardrailTripwireTriggered) else "reply"
    return f"This {kind} was blocked by a safety check, so the assistant did not answer."


def _stop_at_client_tools(agent: Agent[Any]) -> Agent[Any]:
    names = [tool.name for tool in agent.tools if getattr(tool, "_chatkit_client_tool", False)]
    if names and agent.tool_use_behavior == "run_llm_again":
        return agent.clone(tool_use_behavior={"stop_at_tool_names": names})
    return agent
