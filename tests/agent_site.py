"""Agents, tools and entity sources the agent tests run, in-process and in daphne.

``serve_agents`` is the setup of the daphne process of the live agent tests: it points
the test site's ChatKit endpoint at :class:`~django_chatkit.agents.AgentChatKitServer`
with these agents on the offline model (or, with ``openai_base_url``, on the real
OpenAI model client talking to a local Responses API stub).
"""

from __future__ import annotations

import os

from agents import Agent, GuardrailFunctionOutput, input_guardrail, output_guardrail
from chatkit.widgets import Card, Text

from django_chatkit import entities
from django_chatkit.agents import client_tool, widget_tool
from tests.models import Note


def lines_card(data: dict) -> Card:
    return Card(children=[Text(id="lines", value="Lines: " + ", ".join(data["lines"]))])


show_lines = widget_tool(
    lines_card,
    name="show_lines",
    description="Show the transit lines.",
    data={"lines": ["red", "blue"]},
    copy_text="the lines",
)


async def counting_card(data: dict):
    """Successive states of a streamed widget: the Text grows, then stops streaming."""
    text = ""
    for word in data["words"]:
        text += word
        yield Card(children=[Text(id="count", value=text, streaming=True)])
    yield Card(children=[Text(id="count", value=text, streaming=False)])


stream_count = widget_tool(counting_card, name="stream_count", data={"words": ["one ", "two ", "three"]})

# An admin-managed template (the tests save it as "test_badge"); the model's arguments are the data.
show_badge = widget_tool(
    "test_badge",
    name="show_badge",
    parameters={"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]},
)

BADGE_TEMPLATE = {
    "name": "test_badge",
    "template": '{"type": "Card", "children": [{"type": "Badge", "label": {{ label|tojson }}}]}',
    "json_schema": {
        "type": "object",
        "properties": {"label": {"type": "string"}},
        "required": ["label"],
        "additionalProperties": False,
    },
}

get_location = client_tool(
    "get_location",
    description="Ask the browser where the user is.",
    parameters={"type": "object", "properties": {"precision": {"type": "string", "default": "city"}}},
)


def _text_of(agent_input) -> str:
    if isinstance(agent_input, str):
        return agent_input
    texts = []
    for item in agent_input:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            texts.extend(part.get("text", "") for part in content if isinstance(part, dict))
        elif isinstance(content, str):
            texts.append(content)
    return " ".join(texts)


@input_guardrail
async def refuse_forbidden(ctx, agent, agent_input) -> GuardrailFunctionOutput:
    tripped = "forbidden" in _text_of(agent_input).lower()
    return GuardrailFunctionOutput(
        output_info={"message": "That topic is off limits here."} if tripped else None,
        tripwire_triggered=tripped,
    )


@output_guardrail
async def refuse_secrets(ctx, agent, output) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="secret" in str(output).lower())


general_agent = Agent(
    name="General",
    instructions="You are a helpful assistant.",
    tools=[show_lines, show_badge, stream_count, get_location],
    input_guardrails=[refuse_forbidden],
    output_guardrails=[refuse_secrets],
)

event_finder_agent = Agent(name="Event Finder", instructions="You find events.")


def agent_for(context) -> Agent:
    """An AGENTS entry may be a function of the request context."""
    return Agent(name=f"Helper of {context.user.username}", instructions="Help this user.")


AGENT_SETTINGS = {
    "SERVER_CLASS": "django_chatkit.agents.AgentChatKitServer",
    "AGENTS": {
        "general": "tests.agent_site.general_agent",
        "event_finder": "tests.agent_site.event_finder_agent",
    },
    "AGENT_BACKEND": "offline",
    "OFFLINE_REPLY_DELAY": 0,
    "AGENT_MODEL_ALLOWLIST": ["gpt-allowed"],
}


def register_note_source() -> None:
    entities.entity_sources.reset()
    entities.register_model(
        Note,
        key="note",
        search_fields=["title", "body"],
        group="Notes",
        icon="document",
        visible_to=lambda user: Note.objects.filter(owner_id=getattr(user, "pk", None)),
        describe=lambda note: f"Note body: {note.body}",
    )


def serve_agents(openai_base_url: str | None = None) -> None:
    """Setup of the daphne process: the test database, the agents, the note source."""
    from django.conf import settings

    from tests.live import use_test_database

    use_test_database()
    overrides = dict(AGENT_SETTINGS)
    if openai_base_url:
        os.environ["OPENAI_API_KEY"] = "sk-test-stub"
        os.environ["OPENAI_BASE_URL"] = openai_base_url
        os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
        overrides["AGENT_BACKEND"] = "openai"
    settings.CHATKIT = {**settings.CHATKIT, **overrides}
    register_note_source()


# -- AgentChatKitServer hooks: a sample's agent, context and converter inside it ------------

from django_chatkit.agents import AgentChatKitServer  # noqa: E402
from tests.sample_backend import FrontDeskContext, FrontDeskConverter, desk_agent  # noqa: E402


class FrontDeskAgentServer(AgentChatKitServer):
    """Picks its agent itself (no CHATKIT["AGENTS"]), with the agent's own context class
    and converter."""

    def get_agent(self, tool_choice, context):
        return desk_agent

    def get_agent_context(self, thread, context):
        return FrontDeskContext(thread=thread, store=self.store, request_context=context, desk_name="south desk")

    def get_converter(self, thread, context):
        return FrontDeskConverter(self.attachment_store, context)
