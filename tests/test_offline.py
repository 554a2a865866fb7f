"""django_chatkit/offline.py: the echo server, and the offline model driving real
openai-agents runs (streamed text, tools, handoffs)."""

from __future__ import annotations

import json

import pytest
from agents import Agent, RunConfig, Runner, function_tool

from django_chatkit.offline import MENTION_CONTEXT_HEADER, OfflineModel

calls: list[dict] = []


@function_tool
def show_lines(color: str = "blue", count: int = 2) -> str:
    """Show the transit lines."""
    calls.append({"color": color, "count": count})
    return f"{count} {color} lines"


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


def run_config(**options) -> RunConfig:
    return RunConfig(model=OfflineModel(**options), tracing_disabled=True)


async def stream(agent: Agent, agent_input, **options):
    result = Runner.run_streamed(agent, agent_input, run_config=run_config(**options))
    deltas = []
    async for event in result.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            deltas.append(event.data.delta)
    return result, deltas


async def test_reply_streams_token_by_token_and_echoes_the_message():
    agent = Agent(name="General")
    result, deltas = await stream(agent, "where is the blue line", label="General")
    assert result.final_output == 'General: You said: "where is the blue line".'
    assert deltas == ["General: ", "You ", "said: ", '"where ', "is ", "the ", "blue ", 'line".']
    assert "".join(deltas) == result.final_output


async def test_same_input_gives_same_output():
    agent = Agent(name="General")
    first, _ = await stream(agent, "hello")
    second, _ = await stream(agent, "hello")
    assert first.final_output == second.final_output == 'You said: "hello".'


async def test_slash_trigger_calls_tool_with_json_arguments_then_answers():
    agent = Agent(name="General", tools=[show_lines])
    result, deltas = await stream(agent, 'please /show_lines {"color": "red", "count": 3}')
    assert calls == [{"color": "red", "count": 3}]
    assert result.final_output == "Tool show_lines returned: 3 red lines"
    assert deltas  # the answer after the tool call is streamed too


async def test_slash_trigger_without_arguments_uses_schema_defaults():
    agent = Agent(name="General", tools=[show_lines])
    result, _ = await stream(agent, "/show_lines")
    assert calls == [{"color": "blue", "count": 2}]
    assert result.final_output == "Tool show_lines returned: 2 blue lines"


async def test_keyword_trigger_calls_tool_only_on_whole_word():
    agent = Agent(name="General", tools=[show_lines])
    await stream(agent, "Which Lines run today?", tool_triggers={"lines": "show_lines"})
    assert len(calls) == 1
    result, _ = await stream(agent, "guidelines please", tool_triggers={"lines": "show_lines"})
    assert len(calls) == 1
    assert result.final_output.startswith("You said")


async def test_trigger_for_a_tool_the_agent_lacks_is_ignored():
    agent = Agent(name="General")
    result, _ = await stream(agent, "/show_lines now", tool_triggers={"now": "show_lines"})
    assert calls == []
    assert result.final_output == 'You said: "/show_lines now".'


async def test_mentions_and_attachments_from_the_input_are_reported():
    agent_input = [
        {"role": "assistant", "type": "message", "content": [{"type": "output_text", "text": "old"}]},
        {
            "role": "user",
            "type": "message",
            "content": [
                {"type": "input_text", "text": "compare @Ada"},
                {"type": "input_text", "text": "Attached file notes.txt:\nhello"},
            ],
        },
        {
            "role": "user",
            "type": "message",
            "content": [
                {"type": "input_text", "text": MENTION_CONTEXT_HEADER + "\n- rules"},
                {"type": "input_text", "text": '@-mention: People "Ada Lovelace" (id person:1)\n{"x": 1}'},
            ],
        },
    ]
    result, _ = await stream(Agent(name="A"), agent_input)
    assert result.final_output == (
        'You said: "compare @Ada". You mentioned: @-mention: People "Ada Lovelace" (id person:1). '
        "I received 1 attachment(s): Attached file notes.txt."
    )


async def test_handoff_by_slash_trigger_switches_agent():
    specialist = Agent(name="Specialist")
    triage = Agent(name="Triage", handoffs=[specialist])
    tool_name = "transfer_to_specialist"
    result, _ = await stream(triage, f"/{tool_name}")
    assert result.last_agent.name == "Specialist"


async def test_non_streaming_get_response_matches():
    result = await Runner.run(Agent(name="A"), "hi", run_config=run_config(label="A"))
    assert result.final_output == 'A: You said: "hi".'


async def test_tool_output_preview_is_shortened():
    @function_tool
    def long_tool() -> str:
        """Return a lot."""
        return "x" * 500

    result, _ = await stream(Agent(name="A", tools=[long_tool]), "/long_tool")
    text = result.final_output
    assert text.startswith("Tool long_tool returned: xxx")
    assert len(text) < 260
    assert json.dumps(text)  # plain text, serializable


async def test_the_users_message_is_found_after_earlier_widget_context():
    agent_input = [
        {"role": "user", "type": "message", "content": [{"type": "input_text", "text": "show lines"}]},
        {
            "role": "user",
            "type": "message",
            "content": [{"type": "input_text", "text": "The following graphical UI widget"}],
        },
        {"role": "user", "type": "message", "content": [{"type": "input_text", "text": "now pick red"}]},
        {
            "role": "user",
            "type": "message",
            "content": [{"type": "input_text", "text": "The user is referring to this in particular: \nRed"}],
        },
    ]
    result, _ = await stream(Agent(name="A"), agent_input)
    assert result.final_output == 'You said: "now pick red".'


async def test_structured_output_follows_the_schema():
    from pydantic import BaseModel

    class Title(BaseModel):
        title: str
        words: int

    result, _ = await stream(Agent(name="Titler", output_type=Title), "name this thread")
    assert result.final_output == Title(title='You said: "name this thread".', words=0)


def test_plain_runner_calls_run_offline_once_the_context_asks_for_it():
    """What an adopted SDK backend relies on (django_chatkit.adopt): ``Runner.run`` with
    no model of ours, inside a context that asked for the offline model."""
    import contextvars

    from django_chatkit.offline import run_plain_runner_calls_offline

    agent = Agent(name="Plain", instructions="Answer.", model="gpt-never-called")

    def offline_run(text: str, **options):
        run_plain_runner_calls_offline()
        return Runner.run_sync(agent, text, **options)

    result = contextvars.copy_context().run(offline_run, "hello there")
    assert result.final_output == 'Plain: You said: "hello there".'
    # A run_config naming its model keeps it.
    named = contextvars.copy_context().run(offline_run, "hi", run_config=run_config(label="Named"))
    assert named.final_output == 'Named: You said: "hi".'


def test_the_old_offline_model_module_still_works_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="import OfflineModel from django_chatkit.offline"):
        from django_chatkit.offline_model import OfflineModel as Old
    assert Old is OfflineModel
