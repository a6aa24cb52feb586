"""A LangChain 1.x agent (`create_agent`) with two tools, run against the emulator."""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.testing import ModelScopeEmulator, ScriptedReply, ScriptedToolCall

CALLS: list[str] = []


@tool
def get_weather(city: str) -> str:
    """Current temperature of a city, in degrees Celsius."""
    CALLS.append(f"get_weather({city})")
    return "25"


@tool
def celsius_to_fahrenheit(celsius: float) -> str:
    """Convert a temperature from Celsius to Fahrenheit."""
    CALLS.append(f"celsius_to_fahrenheit({celsius})")
    return str(celsius * 9 / 5 + 32)


class WeatherReport(BaseModel):
    """The final answer."""

    city: str = Field(description="the city")
    fahrenheit: float = Field(description="temperature in Fahrenheit")


def _model(emulator: ModelScopeEmulator) -> ChatModelScope:
    return ChatModelScope(
        model="Qwen/Qwen2.5-72B-Instruct",
        api_key=emulator.token,
        base_url=emulator.base_url,
        max_retries=0,
    )


def _script_two_steps(emulator: ModelScopeEmulator) -> None:
    # The model decides step by step: first the weather, then (seeing 25) the conversion.
    emulator.queue_reply(
        ScriptedReply(tool_calls=[ScriptedToolCall("get_weather", {"city": "杭州"})])
    )
    emulator.queue_reply(
        ScriptedReply(tool_calls=[ScriptedToolCall("celsius_to_fahrenheit", {"celsius": 25})])
    )


def test_agent_runs_two_tools_in_sequence(modelscope_emulator: ModelScopeEmulator) -> None:
    CALLS.clear()
    _script_two_steps(modelscope_emulator)
    agent = create_agent(_model(modelscope_emulator), tools=[get_weather, celsius_to_fahrenheit])
    result = agent.invoke({"messages": [HumanMessage("How warm is Hangzhou, in Fahrenheit?")]})

    assert CALLS == ["get_weather(杭州)", "celsius_to_fahrenheit(25.0)"]
    messages = result["messages"]
    tool_results = [m.content for m in messages if isinstance(m, ToolMessage)]
    assert tool_results == ["25", "77.0"]
    final = messages[-1]
    assert isinstance(final, AIMessage)
    assert not final.tool_calls
    assert "77.0" in final.text  # the emulator answers from the last tool result
    # Three model calls; each later one carried the tool results back with their call ids.
    bodies = [r.body for r in modelscope_emulator.requests]
    assert len(bodies) == 3
    last_messages: list[dict[str, Any]] = bodies[-1]["messages"]
    assert [m["role"] for m in last_messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert last_messages[2]["tool_call_id"] == last_messages[1]["tool_calls"][0]["id"]
    assert {t["function"]["name"] for t in bodies[0]["tools"]} == {
        "get_weather",
        "celsius_to_fahrenheit",
    }


async def test_agent_async_with_structured_response(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    """The profile says no native structured output, so the agent uses a tool for it."""
    CALLS.clear()
    _script_two_steps(modelscope_emulator)
    modelscope_emulator.queue_reply(
        ScriptedReply(
            tool_calls=[ScriptedToolCall("WeatherReport", {"city": "杭州", "fahrenheit": 77.0})]
        )
    )
    agent = create_agent(
        _model(modelscope_emulator),
        tools=[get_weather, celsius_to_fahrenheit],
        response_format=WeatherReport,
    )
    result = await agent.ainvoke({"messages": [HumanMessage("Weather report for Hangzhou")]})

    assert result["structured_response"] == WeatherReport(city="杭州", fahrenheit=77.0)
    assert CALLS == ["get_weather(杭州)", "celsius_to_fahrenheit(25.0)"]
    bodies = [r.body for r in modelscope_emulator.requests]
    assert all("response_format" not in b for b in bodies)
    assert all(b.get("tool_choice") == "required" for b in bodies)
