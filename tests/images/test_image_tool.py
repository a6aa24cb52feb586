"""`ModelScopeImageTool`: a content-and-artifact tool an agent made by `create_agent` can call."""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import ToolMessage

from langchain_modelscope import ChatModelScope, ModelScopeImageGenerator, ModelScopeImageTool
from langchain_modelscope.images import GeneratedImages
from langchain_modelscope.quota import QuotaLedger
from langchain_modelscope.testing import ModelScopeEmulator

FAST: dict[str, Any] = {"poll_interval": 0.01, "poll_interval_max": 0.02}


def tool_on(emu: ModelScopeEmulator) -> ModelScopeImageTool:
    generator = ModelScopeImageGenerator(
        base_url=emu.base_url, api_key=emu.token, ledger=QuotaLedger(), **FAST
    )
    return ModelScopeImageTool(generator=generator)


def test_the_schema_an_agent_fills() -> None:
    schema = ModelScopeImageTool.model_fields["args_schema"].default.model_json_schema()
    assert set(schema["properties"]) == {"prompt", "negative_prompt", "size"}
    assert schema["required"] == ["prompt"]


def test_invoke_returns_urls_as_text_and_the_result_as_artifact(emu: ModelScopeEmulator) -> None:
    call = {"name": "generate_image", "args": {"prompt": "a fox"}, "id": "c1", "type": "tool_call"}
    message = tool_on(emu).invoke(call)
    assert isinstance(message, ToolMessage)
    assert isinstance(message.artifact, GeneratedImages)
    assert message.artifact.urls[0] in message.content


def test_a_refusal_is_told_not_raised(emu: ModelScopeEmulator) -> None:
    text = tool_on(emu).invoke({"prompt": "FAIL_TASK a fox"})
    assert "could not be generated" in text or "refused" in text


def test_the_tool_inside_create_agent(emu: ModelScopeEmulator) -> None:
    model = ChatModelScope(
        model="Qwen/Qwen3-235B-A22B-Instruct-2507", base_url=emu.base_url, api_key=emu.token
    )
    agent = create_agent(model, tools=[tool_on(emu)])
    state = agent.invoke({"messages": [("user", 'Draw "a red panda eating bamboo" for me.')]})
    (tool_message,) = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert isinstance(tool_message.artifact, GeneratedImages)
    url = tool_message.artifact.urls[0]
    assert url in tool_message.content
    assert url in state["messages"][-1].text
    (submit,) = [r for r in emu.requests if r.path == "/v1/images/generations"]
    assert submit.body["prompt"] == "a red panda eating bamboo"
