"""Building a ChatModelScope: parameters, the token, unknown arguments, tracing params."""

from __future__ import annotations

import json
import logging
import warnings

import pytest
from langchain_core.load import dumpd, dumps

from langchain_modelscope.chat_models import DEFAULT_MODEL, ChatModelScope
from langchain_modelscope.errors import AuthenticationError, MissingAPIKeyError
from tests.chat.chat_wire import BASE_URL, TOKEN, Wire, completion
from tests.support import modelscope_facts as facts

pytestmark = pytest.mark.disable_socket


def test_defaults_and_aliases() -> None:
    llm = ChatModelScope(api_key=TOKEN)
    assert llm.model == DEFAULT_MODEL
    assert "/" in llm.model  # a ModelScope id, never an OpenAI name
    assert llm.base_url == "https://api-inference.modelscope.cn/v1"
    assert llm.stream_usage is True
    aliased = ChatModelScope(
        model_name="Qwen/Qwen2.5-72B-Instruct",
        api_base="http://127.0.0.1:9/v1/",
        stop_sequences=["END"],
        api_key=TOKEN,
    )
    assert aliased.model == aliased.model_name == "Qwen/Qwen2.5-72B-Instruct"
    assert aliased.base_url == "http://127.0.0.1:9/v1"
    assert aliased.stop == ["END"]


def test_missing_token_is_a_typed_error_before_any_call() -> None:
    with pytest.raises(MissingAPIKeyError, match="MODELSCOPE_API_KEY"):
        ChatModelScope()


def test_token_env_vars_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCOPE_ACCESS_TOKEN", "ms-fourth")
    assert ChatModelScope().api_key.get_secret_value() == "ms-fourth"  # type: ignore[union-attr]
    monkeypatch.setenv("MODELSCOPE_SDK_TOKEN", "ms-second")
    assert ChatModelScope().api_key.get_secret_value() == "ms-second"  # type: ignore[union-attr]
    monkeypatch.setenv("MODELSCOPE_API_KEY", "ms-first")
    assert ChatModelScope().api_key.get_secret_value() == "ms-first"  # type: ignore[union-attr]
    explicit = ChatModelScope(api_key="ms-explicit")
    assert explicit.api_key.get_secret_value() == "ms-explicit"  # type: ignore[union-attr]


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="http"):
        ChatModelScope(api_key=TOKEN, base_url="api-inference.modelscope.cn/v1")
    with pytest.raises(ValueError, match="max_retries"):
        ChatModelScope(api_key=TOKEN, max_retries=-1)
    with pytest.raises(ValueError, match="thinking_budget"):
        ChatModelScope(api_key=TOKEN, thinking_budget=0)


def test_unknown_kwargs_warn_and_go_to_the_body() -> None:
    wire = Wire().json(completion())
    with pytest.warns(UserWarning, match="repetition_penalty"):
        llm = wire.model(repetition_penalty=1.05)
    assert llm.model_kwargs == {"repetition_penalty": 1.05}
    llm.invoke("hi")
    assert wire.bodies[0]["repetition_penalty"] == 1.05


def test_kwargs_that_clash_are_errors() -> None:
    with pytest.raises(ValueError, match="temperature must be passed to ChatModelScope directly"):
        ChatModelScope(api_key=TOKEN, model_kwargs={"temperature": 0.1})
    with pytest.raises(ValueError, match="top_k was given both directly and in model_kwargs"):
        ChatModelScope(api_key=TOKEN, top_k=5, model_kwargs={"top_k": 3})


def test_known_kwargs_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ChatModelScope(
            api_key=TOKEN,
            model="Qwen/Qwen3-32B",
            temperature=0.2,
            top_p=0.9,
            max_tokens=64,
            stop=["x"],
            seed=1,
            presence_penalty=0.1,
            frequency_penalty=0.1,
            streaming=True,
            stream_usage=False,
            enable_thinking=False,
            thinking_budget=128,
            extra_body={"top_k": 20},
            timeout=30,
            max_retries=1,
            default_headers={"X-Trace": "1"},
            rate_limiter=None,
            output_version="v1",
        )


def test_token_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wire = Wire().json(facts.errors_envelope(facts.AUTH_FAILED), status=401)
    llm = wire.model()
    shown = [repr(llm), str(llm), dumps(llm), json.dumps(dumpd(llm)), llm.model_dump_json()]
    shown.append(str(llm._identifying_params))
    shown.append(str(llm._get_invocation_params()))
    with pytest.raises(AuthenticationError) as info:
        llm.invoke("hi")
    shown += [str(info.value), repr(info.value), caplog.text]
    for text in shown:
        assert TOKEN not in text
    # ... while the request did carry it.
    assert wire.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_serialisation_flags() -> None:
    llm = ChatModelScope(api_key=TOKEN)
    assert ChatModelScope.is_lc_serializable() is True  # issue 15: dumpd/loads round trip
    assert llm.lc_secrets == {"api_key": "MODELSCOPE_API_KEY"}
    assert llm._llm_type == "chat-modelscope"


def test_langsmith_params_and_model_override() -> None:
    llm = ChatModelScope(api_key=TOKEN, temperature=0.3, max_tokens=50, stop=["END"])
    params = llm._get_ls_params()
    assert params == {
        "ls_provider": "modelscope",
        "ls_model_name": DEFAULT_MODEL,
        "ls_model_type": "chat",
        "ls_temperature": 0.3,
        "ls_max_tokens": 50,
        "ls_stop": ["END"],
    }
    assert llm._get_ls_params(model="Qwen/QwQ-32B")["ls_model_name"] == "Qwen/QwQ-32B"


def test_identifying_params_name_the_model_and_settings() -> None:
    llm = ChatModelScope(api_key=TOKEN, base_url=BASE_URL, temperature=0, enable_thinking=False)
    assert llm._identifying_params == {
        "model": DEFAULT_MODEL,
        "base_url": BASE_URL,
        "temperature": 0,
        "enable_thinking": False,
    }


def test_profile_never_claims_native_structured_output() -> None:
    """create_agent would pick json_schema, which ModelScope answers with `choices: null`."""
    plain = ChatModelScope(api_key=TOKEN)
    thinker = ChatModelScope(api_key=TOKEN, model="Qwen/Qwen3-235B-A22B-Thinking-2507")
    vision = ChatModelScope(api_key=TOKEN, model="Qwen/Qwen2.5-VL-72B-Instruct")
    for llm in (plain, thinker, vision):
        assert llm.profile is not None
        assert llm.profile["structured_output"] is False
        assert llm.profile["tool_calling"] is True
    assert (thinker.profile or {}).get("reasoning_output") is True
    assert (plain.profile or {}).get("reasoning_output") is False
    assert (vision.profile or {}).get("image_inputs") is True


def test_construction_is_cheap_and_offline() -> None:
    """No request, no client built until the first call."""
    wire = Wire()
    llm = wire.model()
    assert llm._core is None
    assert wire.requests == []


def test_a_single_stop_string_is_accepted() -> None:
    assert ChatModelScope(api_key=TOKEN, stop="END").stop == ["END"]


def test_bad_model_and_timeout_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="model"):
        ChatModelScope(api_key=TOKEN, model="")
    with pytest.raises(ValueError, match="timeout"):
        ChatModelScope(api_key=TOKEN, timeout=-1)
    assert ChatModelScope(api_key=TOKEN, timeout=5).timeout == 5


def test_profile_is_per_instance_and_user_profiles_are_checked() -> None:
    first = ChatModelScope(api_key=TOKEN)
    assert first.profile is not None
    first.profile["max_input_tokens"] = 1
    assert (ChatModelScope(api_key=TOKEN).profile or {})["max_input_tokens"] > 1
    with pytest.warns(UserWarning, match="bogus"):
        ChatModelScope(api_key=TOKEN, profile={"bogus": True})
    custom = ChatModelScope(api_key=TOKEN, profile={"structured_output": True})
    assert custom.profile == {"structured_output": True}
