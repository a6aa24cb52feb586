"""LangChain conventions: serialization round trip, approximate token counting, profiles."""

from __future__ import annotations

import json

import pytest
from langchain_core.load import dumpd, dumps, loads
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, trim_messages

from langchain_modelscope import ChatModelScope, ModelScopeEndpoint
from langchain_modelscope._profiles import limits_for

TOKEN = "ms-11111111-2222-4333-8444-555555555555"
pytestmark = [
    pytest.mark.disable_socket,
    pytest.mark.filterwarnings("ignore::langchain_core._api.LangChainBetaWarning"),
]


def test_dumpd_loads_round_trip_keeps_settings_and_leaves_out_the_token() -> None:
    llm = ChatModelScope(
        model="Qwen/Qwen3-32B", api_key=TOKEN, temperature=0.2, max_tokens=99, enable_thinking=False
    )
    payload = dumps(llm)
    assert TOKEN not in payload
    assert json.loads(payload)["kwargs"]["api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["MODELSCOPE_API_KEY"],
    }
    revived = loads(
        payload,
        valid_namespaces=["langchain_modelscope"],
        allowed_objects=[ChatModelScope],
        secrets_map={"MODELSCOPE_API_KEY": TOKEN},
    )
    assert isinstance(revived, ChatModelScope)
    assert (revived.model, revived.temperature, revived.max_tokens, revived.enable_thinking) == (
        "Qwen/Qwen3-32B",
        0.2,
        99,
        False,
    )
    assert revived.api_key is not None
    assert revived.api_key.get_secret_value() == TOKEN
    assert dumpd(revived) == dumpd(llm)


def test_loads_reads_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = dumps(ChatModelScope(api_key=TOKEN))
    monkeypatch.setenv("MODELSCOPE_API_KEY", "ms-from-env")
    revived = loads(
        payload,
        valid_namespaces=["langchain_modelscope"],
        allowed_objects=[ChatModelScope],
        secrets_from_env=True,
    )
    assert revived.api_key.get_secret_value() == "ms-from-env"


def test_the_text_endpoint_serializes_too() -> None:
    with pytest.warns(DeprecationWarning, match="ModelScopeEndpoint"):
        llm = ModelScopeEndpoint(api_key=TOKEN, model="Qwen/Qwen3-32B")
    payload = dumps(llm)
    assert TOKEN not in payload
    revived = loads(
        payload,
        valid_namespaces=["langchain_modelscope"],
        allowed_objects=[ModelScopeEndpoint],
        secrets_map={"MODELSCOPE_API_KEY": TOKEN},
    )
    assert revived.chat_model.model == "Qwen/Qwen3-32B"


def test_trim_messages_with_the_model_as_token_counter() -> None:
    """No tokenizer (transformers) is needed: counting is approximate, about 4 chars a token."""
    llm = ChatModelScope(api_key=TOKEN)
    history = [SystemMessage("You are terse.")]
    for i in range(20):
        history += [HumanMessage(f"question {i} " * 20), AIMessage(f"answer {i} " * 20)]
    trimmed = trim_messages(
        history, max_tokens=300, token_counter=llm, strategy="last", include_system=True
    )
    assert trimmed[0] == history[0]
    assert 1 < len(trimmed) < len(history)
    assert llm.get_num_tokens_from_messages(trimmed) <= 300
    assert llm.get_num_tokens("a" * 400) == 100


def test_tools_count_and_a_custom_tokenizer_wins() -> None:
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return "sunny"

    llm = ChatModelScope(api_key=TOKEN)
    messages = [HumanMessage("weather?")]
    assert llm.get_num_tokens_from_messages(messages, tools=[get_weather]) > (
        llm.get_num_tokens_from_messages(messages)
    )
    exact = ChatModelScope(api_key=TOKEN, custom_get_token_ids=lambda text: [0] * len(text))
    assert exact.get_num_tokens("hello") == 5


@pytest.mark.parametrize(
    ("model", "max_input", "max_output"),
    [
        ("Qwen/Qwen3-235B-A22B-Instruct-2507", 262144, 32768),
        ("Qwen/Qwen3-32B", 131072, 16384),
        ("ZhipuAI/GLM-4.6", 202752, 98304),
    ],
)
def test_profiles_of_current_ids(model: str, max_input: int, max_output: int) -> None:
    profile = ChatModelScope(api_key=TOKEN, model=model).profile
    assert profile is not None
    assert (profile["max_input_tokens"], profile["max_output_tokens"]) == (max_input, max_output)
    assert profile["structured_output"] is False  # json_schema answers `choices: null`
    assert profile["tool_calling"] is True


def test_unknown_ids_get_their_family_else_a_conservative_default() -> None:
    assert limits_for("deepseek-ai/DeepSeek-V4-Flash") == {
        "max_input_tokens": 131072,
        "max_output_tokens": 8192,
    }
    assert limits_for("Qwen/Qwen3.8-Flash-Next")["max_input_tokens"] == 262144
    assert limits_for("qwen/qwen3-32b:DashScope") == limits_for("Qwen/Qwen3-32B")
    assert limits_for("someone/brand-new-model") == {
        "max_input_tokens": 32768,
        "max_output_tokens": 8192,
    }
