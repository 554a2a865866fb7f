"""Answers with no model and no network: for demos, tests and development.

- :class:`OfflineChatKitServer`, the default ``SERVER_CLASS``: streams ``You said: …``
  back word by word, as an ordinary assistant message.
- :class:`OfflineModel`, a deterministic local model for openai-agents: real agent runs
  (the runner, tools, guardrails, ChatKit's ``stream_agent_response``, persistence) with
  no API call. It reads the input the runner gives it and answers by simple, documented
  rules, streaming Responses-format events exactly like the OpenAI Responses API does.
- :func:`run_plain_runner_calls_offline`: plain ``Runner.run`` / ``Runner.run_streamed``
  calls of an adopted server (:mod:`django_chatkit.adopt`) run on the offline model.

Long because: ``OfflineModel`` writes every Responses event a real model streams (text
deltas, tool calls, structured output) by hand, next to the rules that choose them; the
echo server beside it is a few lines.

The rules, applied to the current turn (the items after the last assistant message):

1. **After a tool call.** When the last input item is a tool result
   (``function_call_output``), the model answers in text:
   ``"<label>: Tool <name> returned: <output>"`` (output shortened to 200 characters).
2. **Explicit tool trigger.** When the user's text contains ``/<tool_name>`` for a tool
   (or handoff) the agent has, the model calls it. A JSON object right after the name
   is used as the arguments (``/show_widget {"color": "red"}``); otherwise arguments
   are built from the tool's JSON schema (defaults, else empty values).
3. **Keyword trigger.** ``OfflineModel(tool_triggers={"line": "show_line_selector"})``
   calls the tool when the keyword appears in the user's text as a word
   (case-insensitive). Triggers naming a tool the agent lacks are ignored.
4. **Otherwise** it echoes what it received, one token (a word and its trailing
   space) per ``output_text.delta`` event::

       <label>: You said: "<text>". You mentioned: <first line of each @-mention context>.
       I received <n> attachment(s): <first line of a text, a file's name, or "an image">.

   The ``label`` (usually the agent's name) and the mention/attachment sentences appear
   only when there is something to show. An agent with a structured ``output_type``
   gets JSON of the schema's shape: defaults where given, the echo in string fields,
   zero, false or empty values elsewhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Literal, TypeVar

from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
from agents.model_settings import ModelSettings
from agents.models.interface import Model, ModelTracing
from agents.run import (
    AgentRunner,
    RunConfig,
    get_default_agent_runner,
    set_default_agent_runner,
)
from agents.tool import Tool
from agents.usage import Usage
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
)
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)
from openai.types.responses.response_prompt_param import ResponsePromptParam

from .conf import chatkit_settings
from .context import RequestContext
from .ids import new_id
from .server import DjangoChatKitServer

_PartEvent = TypeVar(
    "_PartEvent",
    ResponseContentPartAddedEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseContentPartDoneEvent,
)

__all__ = [
    "MENTION_CONTEXT_HEADER",
    "OfflineChatKitServer",
    "OfflineModel",
    "message_text",
    "run_plain_runner_calls_offline",
]


# -- the echo server -----------------------------------------------------------------------


def message_text(item: UserMessageItem | None) -> str:
    """The plain text a user typed (tags become their text)."""
    if item is None:
        return ""
    parts = []
    for part in item.content:
        if isinstance(part, UserMessageTextContent):
            parts.append(part.text)
        else:
            parts.append(f"@{getattr(part, 'text', '')}")
    return " ".join(p for p in parts if p).strip()


class OfflineChatKitServer(DjangoChatKitServer):
    """Streams ``You said: …`` back word by word, ``CHATKIT["OFFLINE_REPLY_DELAY"]`` apart.

    The reply is an ordinary assistant message: added, updated with text deltas, done,
    so every client behaviour (streaming, stop, reload, disconnect) can be exercised.
    """

    def reply_for(self, thread: ThreadMetadata, item: UserMessageItem | None, context: RequestContext) -> str:
        text = message_text(item)
        return f"You said: {text}" if text else "Hello! Send me a message and I will echo it back."

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        reply = self.reply_for(thread, input_user_message, context)
        item = AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        yield ThreadItemAddedEvent(item=item)
        delay = chatkit_settings.OFFLINE_REPLY_DELAY
        words = reply.split(" ")
        for index, word in enumerate(words):
            if delay:
                await asyncio.sleep(delay)
            delta = word if index == 0 else f" {word}"
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartTextDelta(content_index=0, delta=delta),
            )
        item.content = [AssistantMessageContent(text=reply)]
        yield ThreadItemDoneEvent(item=item)


# -- the offline model for openai-agents ------------------------------------------------------


MENTION_CONTEXT_HEADER = "# User-provided context for @-mentions"
"""How ChatKit's converter opens the message carrying @-mention context."""

_CONTEXT_PREFIXES = (MENTION_CONTEXT_HEADER, "The user is referring to this in particular")

OFFLINE_MODEL_NAME = "django-chatkit-offline"
_TOKEN = re.compile(r"\S+\s*")
_TOOL_OUTPUT_PREVIEW = 200


def _field(item: Any, key: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(key, default)
    return getattr(item, key, default)


def _part_label(part: Any) -> str:
    """How the echo names an attachment part: a text's first line, a file's name, "an image"."""
    kind = _field(part, "type")
    if kind == "input_image":
        return "an image"
    if kind == "input_file":
        return str(_field(part, "filename") or "a file")
    text = _field(part, "text")
    if isinstance(text, str) and text.strip():
        return text.strip().splitlines()[0].rstrip(":")
    return "an attachment"


def _text_parts(content: Any) -> list[str]:
    """The text of each part of a message's content (a string or a list of parts)."""
    if isinstance(content, str):
        return [content]
    parts = []
    for part in content or []:
        text = _field(part, "text")
        parts.append(text if isinstance(text, str) else "")
    return parts


class _Turn:
    """What the model needs to know about the current turn of its input."""

    def __init__(self, items: list[Any]) -> None:
        last_assistant = -1
        for index, item in enumerate(items):
            if _field(item, "role") == "assistant":
                last_assistant = index
        current = items[last_assistant + 1 :]
        user_messages = [
            item for item in current if _field(item, "role") == "user" and _field(item, "type", "message") == "message"
        ]
        self.user_text = ""
        self.attachments: list[str] = []
        self.mentions: list[str] = []
        # ChatKit's converter puts a user message first, then its context messages
        # (@-mentions, quoted text); widgets shown earlier are user-role messages too. The
        # user's own message is the last user message that is not such context.
        context: list[Any] = []
        for message in reversed(user_messages):
            texts = _text_parts(_field(message, "content"))
            if texts and texts[0].startswith(_CONTEXT_PREFIXES):
                context.insert(0, texts)
                continue
            self.user_text = texts[0] if texts else ""
            content = _field(message, "content")
            if isinstance(content, list):
                self.attachments = [_part_label(part) for part in content[1:]]
            break
        for parts in context:
            if parts[0].startswith(MENTION_CONTEXT_HEADER):
                self.mentions.extend(p.strip().splitlines()[0] for p in parts[1:] if p.strip())
        last = items[-1] if items else None
        self.tool_output: tuple[str, str] | None = None
        if last is not None and _field(last, "type") == "function_call_output":
            call_id = _field(last, "call_id")
            name = next(
                (
                    _field(item, "name")
                    for item in items
                    if _field(item, "type") == "function_call" and _field(item, "call_id") == call_id
                ),
                "?",
            )
            output = _field(last, "output")
            if not isinstance(output, str):
                output = json.dumps(output, default=str)
            self.tool_output = (str(name), output)


def _placeholder(schema: Mapping[str, Any], fill: str = "") -> Any:
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return _arguments_from_schema(schema, fill)
    return {"string": fill, "integer": 0, "number": 0, "boolean": False, "array": []}.get(str(kind))


def _arguments_from_schema(schema: Mapping[str, Any], fill: str = "") -> dict[str, Any]:
    properties = schema.get("properties") or {}
    return {name: _placeholder(prop or {}, fill) for name, prop in properties.items()}


class OfflineModel(Model):
    """A deterministic ``Model`` that streams replies and calls tools on triggers.

    ``label`` prefixes every reply (the agent server passes the agent's name, so the
    answer shows which agent replied); ``delay`` is the pause between streamed tokens in
    seconds; ``tool_triggers`` maps keywords to tool names (rule 3 above).
    """

    def __init__(
        self,
        *,
        label: str | None = None,
        delay: float = 0.0,
        tool_triggers: Mapping[str, str] | None = None,
    ) -> None:
        self.label = label
        self.delay = delay
        self.tool_triggers = dict(tool_triggers or {})

    # -- deciding what to say -------------------------------------------------------

    def _prefix(self) -> str:
        return f"{self.label}: " if self.label else ""

    def _reply_text(self, turn: _Turn) -> str:
        if turn.tool_output is not None:
            name, output = turn.tool_output
            if len(output) > _TOOL_OUTPUT_PREVIEW:
                output = output[: _TOOL_OUTPUT_PREVIEW - 1] + "…"
            return f"{self._prefix()}Tool {name} returned: {output}"
        sentences = [f'You said: "{turn.user_text.strip()}".']
        if turn.mentions:
            sentences.append("You mentioned: " + "; ".join(turn.mentions) + ".")
        if turn.attachments:
            count = len(turn.attachments)
            sentences.append(f"I received {count} attachment(s): " + "; ".join(turn.attachments) + ".")
        return self._prefix() + " ".join(sentences)

    def _choose_tool_call(
        self, turn: _Turn, tools: Iterable[Tool], handoffs: Iterable[Handoff]
    ) -> tuple[str, dict[str, Any]] | None:
        if turn.tool_output is not None or not turn.user_text:
            return None
        schemas: dict[str, Mapping[str, Any]] = {}
        for tool in tools:
            schema = getattr(tool, "params_json_schema", None)
            if schema is not None:
                schemas[tool.name] = schema
        for handoff in handoffs:
            schemas[handoff.tool_name] = handoff.input_json_schema or {}
        text = turn.user_text
        for match in re.finditer(r"/([A-Za-z_][\w-]*)", text):
            name = match.group(1)
            if name not in schemas:
                continue
            rest = text[match.end() :].lstrip()
            if rest.startswith("{"):
                try:
                    arguments, _ = json.JSONDecoder().raw_decode(rest)
                except ValueError:
                    arguments = None
                if isinstance(arguments, dict):
                    return name, arguments
            return name, _arguments_from_schema(schemas[name])
        lowered = text.lower()
        for keyword, name in self.tool_triggers.items():
            if name in schemas and re.search(rf"\b{re.escape(keyword.lower())}\b", lowered):
                return name, _arguments_from_schema(schemas[name])
        return None

    def _output(
        self,
        input: str | list[TResponseInputItem],
        tools: list[Tool],
        handoffs: list[Handoff],
        output_schema: AgentOutputSchemaBase | None = None,
    ) -> tuple[ResponseOutputMessage | ResponseFunctionToolCall, str]:
        items: list[Any] = (
            [{"role": "user", "type": "message", "content": input}] if isinstance(input, str) else list(input)
        )
        turn = _Turn(items)
        call = self._choose_tool_call(turn, tools, handoffs)
        if call is not None:
            name, arguments = call
            encoded = json.dumps(arguments)
            item = ResponseFunctionToolCall(
                type="function_call",
                id=new_id("fc"),
                call_id=new_id("call"),
                name=name,
                arguments=encoded,
                status="completed",
            )
            return item, encoded
        text = self._reply_text(turn)
        if output_schema is not None and not output_schema.is_plain_text():
            # Structured output: the schema's shape, every string field holding the reply.
            text = json.dumps(_arguments_from_schema(output_schema.json_schema(), fill=text))
        message = ResponseOutputMessage(
            type="message",
            id=new_id("msg"),
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )
        return message, text

    @staticmethod
    def _response(output: list[Any], status: Literal["completed", "in_progress"] = "completed") -> Response:
        return Response(
            id=new_id("resp"),
            created_at=0,
            model=OFFLINE_MODEL_NAME,
            object="response",
            output=output,
            tool_choice="auto",
            tools=[],
            top_p=None,
            parallel_tool_calls=False,
            status=status,
        )

    # -- the Model interface ------------------------------------------------------------

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        """The answer :meth:`stream_response` streams, at once (the same arguments)."""
        async for event in self.stream_response(*args, **kwargs):
            if isinstance(event, ResponseCompletedEvent):
                answer = event.response
                return ModelResponse(output=list(answer.output), usage=Usage(requests=1), response_id=answer.id)
        raise AssertionError("the offline stream ended without response.completed")

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: ResponsePromptParam | None = None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        item, payload = self._output(input, tools, handoffs, output_schema)
        sequence = iter(range(1_000_000))
        in_progress = self._response([], status="in_progress")
        yield ResponseCreatedEvent(type="response.created", response=in_progress, sequence_number=next(sequence))
        yield ResponseInProgressEvent(type="response.in_progress", response=in_progress, sequence_number=next(sequence))
        if isinstance(item, ResponseFunctionToolCall):
            yield ResponseOutputItemAddedEvent(
                type="response.output_item.added",
                item=item.model_copy(update={"arguments": "", "status": "in_progress"}),
                output_index=0,
                sequence_number=next(sequence),
            )
            yield ResponseFunctionCallArgumentsDeltaEvent(
                type="response.function_call_arguments.delta",
                item_id=item.id or "",
                output_index=0,
                delta=payload,
                sequence_number=next(sequence),
            )
            yield ResponseFunctionCallArgumentsDoneEvent(
                type="response.function_call_arguments.done",
                item_id=item.id or "",
                # The Responses API sends the name; this openai version types the event without it.
                name=item.name,
                output_index=0,
                arguments=payload,
                sequence_number=next(sequence),
            )
        else:
            yield ResponseOutputItemAddedEvent(
                type="response.output_item.added",
                item=item.model_copy(update={"content": [], "status": "in_progress"}),
                output_index=0,
                sequence_number=next(sequence),
            )
            for event in self._text_events(item, payload, sequence):
                if self.delay and isinstance(event, ResponseTextDeltaEvent):
                    await asyncio.sleep(self.delay)
                yield event
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done",
            item=item,
            output_index=0,
            sequence_number=next(sequence),
        )
        yield ResponseCompletedEvent(
            type="response.completed",
            response=self._response([item]),
            sequence_number=next(sequence),
        )

    @staticmethod
    def _text_events(
        item: ResponseOutputMessage, payload: str, sequence: Iterator[int]
    ) -> Iterator[TResponseStreamEvent]:
        """The events of the message's one text part: added, a delta per token, done."""

        def part_event(event: type[_PartEvent], kind: str, **fields: Any) -> _PartEvent:
            return event(
                type=kind, item_id=item.id, output_index=0, content_index=0, sequence_number=next(sequence), **fields
            )

        empty = ResponseOutputText(type="output_text", text="", annotations=[])
        yield part_event(ResponseContentPartAddedEvent, "response.content_part.added", part=empty)
        for token in _TOKEN.findall(payload):
            yield part_event(ResponseTextDeltaEvent, "response.output_text.delta", delta=token, logprobs=[])
        yield part_event(ResponseTextDoneEvent, "response.output_text.done", text=payload, logprobs=[])
        yield part_event(ResponseContentPartDoneEvent, "response.content_part.done", part=item.content[0])


# -- plain ``Runner`` calls on the offline model -------------------------------------------
#
# A backend written for the SDK calls ``Runner.run_streamed(agent, input, context=...)``
# with no model of ours. openai-agents sends every such call to one default runner
# (``agents.run.set_default_agent_runner``, marked experimental upstream: this is the only
# place that uses it); ours gives a call the offline model when the current context asked
# for it and the call names no model itself.

_PLAIN_RUNS_OFFLINE: ContextVar[dict[str, Any] | None] = ContextVar("django_chatkit_plain_runs_offline", default=None)


class _OfflineCapableRunner(AgentRunner):
    def run_streamed(self, starting_agent: Any, input: Any, **kwargs: Any) -> Any:
        return super().run_streamed(starting_agent, input, **_offline_options(starting_agent, kwargs))

    async def run(self, starting_agent: Any, input: Any, **kwargs: Any) -> Any:
        return await super().run(starting_agent, input, **_offline_options(starting_agent, kwargs))


def _offline_options(agent: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    options = _PLAIN_RUNS_OFFLINE.get()
    if options is None:
        return kwargs
    run_config = kwargs.get("run_config")
    if isinstance(run_config, Mapping):
        run_config = RunConfig(**run_config)
    if run_config is not None and run_config.model is not None:
        return kwargs  # the call picked its model itself
    model = OfflineModel(label=getattr(agent, "name", None), **options)
    if run_config is None:
        run_config = RunConfig(model=model, tracing_disabled=True)
    else:
        run_config = dataclasses.replace(run_config, model=model, tracing_disabled=True)
    return {**kwargs, "run_config": run_config}


def run_plain_runner_calls_offline(*, delay: float = 0.0, tool_triggers: Mapping[str, str] | None = None) -> None:
    """From now on in the current context (this request, and the tasks it starts),
    ``agents.Runner.run`` and ``Runner.run_streamed`` calls whose ``run_config`` names no
    model run on an :class:`OfflineModel` labelled with the agent's name.

    Raises ``RuntimeError`` when the site installed a default agent runner of its own.
    """
    runner = get_default_agent_runner()
    if not isinstance(runner, _OfflineCapableRunner):
        if type(runner) is not AgentRunner:
            raise RuntimeError(
                f"openai-agents' default runner is {type(runner).__name__}, set by the site: "
                "plain Runner calls cannot be sent to the offline model."
            )
        set_default_agent_runner(_OfflineCapableRunner())
    _PLAIN_RUNS_OFFLINE.set({"delay": delay, "tool_triggers": dict(tool_triggers or {})})
