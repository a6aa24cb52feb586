"""Chat completions of the emulator: shapes, streaming, thinking, tools, JSON, stop, vision."""

from __future__ import annotations

import json
from typing import Any

import httpx

from langchain_modelscope.testing import (
    ModelScopeEmulator,
    ScriptedReply,
    ScriptedToolCall,
)

PLAIN = "Qwen/Qwen2.5-72B-Instruct"
HYBRID = "Qwen/Qwen3-8B"
THINKING_ONLY = "Qwen/QwQ-32B"
R1 = "deepseek-ai/DeepSeek-R1-0528"
VISION = "Qwen/Qwen3-VL-8B-Instruct"

MAGIC = {
    "type": "function",
    "function": {
        "name": "magic_function",
        "description": "Apply a magic function to an input.",
        "parameters": {
            "type": "object",
            "properties": {
                "input": {"type": "integer", "exclusiveMinimum": -1000, "exclusiveMaximum": 1000}
            },
            "required": ["input"],
        },
    },
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather at a location.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


def arith(name: str, description: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
            },
        },
    }


MULTIPLY = arith("multiply", "Multiply two integers.")
ADD = arith("add", "Add two integers.")


def user(text: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def post(client: httpx.Client, **body: Any) -> httpx.Response:
    body.setdefault("model", PLAIN)
    return client.post("/chat/completions", json=body)


def complete(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = post(client, **body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def stream_lines(client: httpx.Client, **body: Any) -> list[str]:
    body.setdefault("model", PLAIN)
    body["stream"] = True
    with client.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["transfer-encoding"] == "chunked"
        return list(response.iter_lines())


def chunks(lines: list[str]) -> list[dict[str, Any]]:
    return [
        json.loads(line[6:])
        for line in lines
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


def deltas(lines: list[str]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks(lines) if c.get("choices")]


def joined(lines: list[str], key: str) -> str:
    return "".join(d.get(key) or "" for d in deltas(lines))


# ----------------------------------------------------------------- plain completions


def test_non_streamed_shape(client: httpx.Client) -> None:
    body = complete(client, messages=user("Hello"))
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == PLAIN
    choice = body["choices"][0]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant"
    assert message["content"]
    assert "reasoning_content" not in message
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0


def test_answers_are_deterministic_and_natural(client: httpx.Client) -> None:
    hello = complete(client, messages=user("Hello"))["choices"][0]["message"]["content"]
    assert hello == complete(client, messages=user("Hello"))["choices"][0]["message"]["content"]
    assert "Hello" in hello
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello", "name": "example_user"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "how are you"},
    ]
    text = complete(client, messages=conversation)["choices"][0]["message"]["content"]
    assert "well" in text
    unicode_text = complete(client, messages=user("请介绍一下你自己：你好，世界 🌏"))
    assert "你好，世界 🌏" in unicode_text["choices"][0]["message"]["content"]


def test_stop_and_max_tokens(client: httpx.Client) -> None:
    full = complete(client, messages=user("hi"))["choices"][0]["message"]["content"]
    assert "you" in full
    cut = complete(client, messages=user("hi"), stop=["you"])["choices"][0]
    assert cut["finish_reason"] == "stop"
    assert cut["message"]["content"] == full[: full.index("you")]
    assert (
        complete(client, messages=user("hi"), stop="How")["choices"][0]["message"]["content"]
        == full[: full.index("How")]
    )
    short = complete(client, messages=user("Write me 2 haikus."), max_tokens=3)["choices"][0]
    assert short["finish_reason"] == "length"
    assert len(short["message"]["content"].split()) == 3
    lines = stream_lines(client, messages=user("Write me 2 haikus."), max_tokens=3)
    assert len(joined(lines, "content").split()) == 3
    assert chunks(lines)[-1]["choices"][0]["finish_reason"] == "length"


# ----------------------------------------------------------------- streaming


def test_stream_format(client: httpx.Client) -> None:
    lines = stream_lines(
        client, messages=user("Hello there friend"), stream_options={"include_usage": True}
    )
    non_empty = [line for line in lines if line]
    assert non_empty[0] == ": keep-alive"
    assert non_empty[-1] == "data: [DONE]"
    parsed = chunks(lines)
    assert all(c["object"] == "chat.completion.chunk" for c in parsed)
    assert len({c["id"] for c in parsed}) == 1
    first = parsed[0]["choices"][0]["delta"]
    assert first["role"] == "assistant"
    assert "reasoning_content" not in first
    finish = [c for c in parsed if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1
    assert finish[0]["choices"][0]["finish_reason"] == "stop"
    usage_chunk = parsed[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["total_tokens"] > 0
    text = joined(lines, "content")
    assert (
        text
        == complete(client, messages=user("Hello there friend"))["choices"][0]["message"]["content"]
    )
    assert len(deltas(lines)) > 3  # word by word


def test_stream_usage_switches(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    assert all("usage" not in c for c in chunks(stream_lines(client, messages=user("hi"))))
    emu.config.stream_usage_always = True
    assert "usage" in chunks(stream_lines(client, messages=user("hi")))[-1]
    emu.config.stream_usage_always = False
    emu.config.usage_chunk_empty_choices = False
    last = chunks(
        stream_lines(client, messages=user("hi"), stream_options={"include_usage": True})
    )[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"]["prompt_tokens"] > 0
    emu.config.include_usage_in_stream = False
    lines = stream_lines(client, messages=user("hi"), stream_options={"include_usage": True})
    assert all("usage" not in c for c in chunks(lines))
    emu.config.stream_keepalive_comment = False
    assert not stream_lines(client, messages=user("hi"))[0].startswith(":")


def test_stream_reasoning_before_content(client: httpx.Client) -> None:
    lines = stream_lines(client, model=HYBRID, messages=user("Why is the sky blue?"))
    ds = deltas(lines)
    assert ds[0]["role"] == "assistant"
    assert ds[0]["reasoning_content"] == ""
    kinds = []
    for d in ds[1:]:
        if d.get("reasoning_content"):
            assert d["content"] == ""
            kinds.append("r")
        elif d.get("content"):
            assert d["reasoning_content"] == ""
            kinds.append("c")
    assert kinds[0] == "r"
    assert "c" in kinds
    assert kinds == sorted(kinds, key=lambda k: k == "c")  # all reasoning first
    assert joined(lines, "reasoning_content")
    assert joined(lines, "content")


def test_reasoning_field_and_unused_style(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.config.reasoning_field = "reasoning"
    emu.config.unused_delta_field = "null"
    ds = deltas(stream_lines(client, model=THINKING_ONLY, messages=user("Think.")))
    assert any(d.get("reasoning") for d in ds)
    assert all("reasoning_content" not in d for d in ds)
    assert any(d.get("content") and d["reasoning"] is None for d in ds)
    emu.config.unused_delta_field = "omit"
    ds = deltas(stream_lines(client, model=THINKING_ONLY, messages=user("Think.")))
    assert any(d.get("content") and "reasoning" not in d for d in ds)


def test_thinking_budget_and_switch(client: httpx.Client) -> None:
    lines = stream_lines(client, model=HYBRID, messages=user("Explain gravity"), thinking_budget=4)
    assert len(joined(lines, "reasoning_content").split()) == 4
    off = stream_lines(
        client, model=HYBRID, messages=user("Explain gravity"), enable_thinking=False
    )
    assert joined(off, "reasoning_content") == ""
    assert joined(off, "content")


def test_thinking_400s(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    hybrid = post(client, model=HYBRID, messages=user("hi"))
    assert hybrid.status_code == 400
    assert hybrid.json()["errors"]["message"] == (
        "parameter.enable_thinking must be set to false for non-streaming calls"
    )
    assert hybrid.json()["errors"]["code"] == "invalid_parameter_error"
    assert post(client, model=HYBRID, messages=user("hi"), enable_thinking=True).status_code == 400
    ok = complete(client, model=HYBRID, messages=user("hi"), enable_thinking=False)
    assert ok["choices"][0]["message"]["content"]
    assert ok["choices"][0]["message"]["reasoning_content"] == ""
    for model in (THINKING_ONLY, "Qwen/Qwen3-235B-A22B-Thinking-2507"):
        only = post(client, model=model, messages=user("hi"), enable_thinking=False)
        assert only.status_code == 400
        assert only.json()["errors"]["message"] == (
            "enable thinking can not be support when `stream=False`."
        )
    emu.config.error_envelope = "error"
    body = post(client, model=THINKING_ONLY, messages=user("hi")).json()
    assert body["error"]["code"] == "invalid_parameter_error"
    r1 = complete(client, model=R1, messages=user("hi"))["choices"][0]["message"]
    assert r1["reasoning_content"]
    assert r1["content"]
    assert complete(client, model=HYBRID + ":DashScope", messages=user("hi"), enable_thinking=False)


# ----------------------------------------------------------------- tools


def calls_of(body: dict[str, Any]) -> list[tuple[str, Any]]:
    message = body["choices"][0]["message"]
    return [
        (c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in message.get("tool_calls") or []
    ]


def test_magic_function(client: httpx.Client) -> None:
    question = user("What is the value of magic_function(3)? Use the tool.")
    for choice in ("required", "auto", None):
        extra = {"tool_choice": choice} if choice else {}
        body = complete(client, messages=question, tools=[MAGIC], **extra)
        assert calls_of(body) == [("magic_function", {"input": 3})]
        assert body["choices"][0]["finish_reason"] == "tool_calls"
        call = body["choices"][0]["message"]["tool_calls"][0]
        assert call["type"] == "function"
        assert call["id"]


def test_tool_choice_variants(client: httpx.Client) -> None:
    tools = [MAGIC, WEATHER]
    assert calls_of(complete(client, messages=user("Hello!"), tools=tools)) == []
    forced = calls_of(
        complete(client, messages=user("Hello!"), tools=tools, tool_choice="required")
    )
    assert len(forced) == 1
    named = {"type": "function", "function": {"name": "get_weather"}}
    assert (
        calls_of(complete(client, messages=user("Hello!"), tools=tools, tool_choice=named))[0][0]
        == "get_weather"
    )
    none = complete(
        client, messages=user("magic_function(3) please"), tools=tools, tool_choice="none"
    )
    assert calls_of(none) == []
    assert none["choices"][0]["message"]["content"]


def test_argument_generation(client: httpx.Client) -> None:
    weather = calls_of(
        complete(
            client, messages=user("What is the weather in San Francisco, CA?"), tools=[WEATHER]
        )
    )
    assert weather == [("get_weather", {"location": "San Francisco CA"})]
    schema_tool = {
        "type": "function",
        "function": {
            "name": "book_trip",
            "description": "Book a trip.",
            "parameters": {
                "type": "object",
                "$defs": {
                    "Traveller": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                    }
                },
                "properties": {
                    "city": {"type": "string"},
                    "nights": {"type": "integer", "minimum": 1},
                    "price": {"type": "number"},
                    "refundable": {"type": "boolean"},
                    "cabin": {"enum": ["economy", "business"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "traveller": {"$ref": "#/$defs/Traveller"},
                    "note": {"anyOf": [{"type": "null"}, {"type": "string"}]},
                    "when": {"type": "string", "format": "date"},
                },
                "required": ["city", "nights"],
            },
        },
    }
    args = calls_of(
        complete(
            client,
            messages=user("Book a trip to \"Hangzhou\" for 3 nights at 99.5 for 'Li Lei' aged 30"),
            tools=[schema_tool],
            tool_choice="required",
        )
    )[0][1]
    assert args["city"] == "Hangzhou"
    assert args["nights"] == 3
    assert args["price"] == 99.5
    assert args["refundable"] is False
    assert args["cabin"] == "economy"
    assert args["tags"] == ["Li Lei"]
    assert args["traveller"]["age"] == 30
    assert isinstance(args["traveller"]["name"], str)
    assert isinstance(args["note"], str)
    assert args["when"] == "2025-01-01"
    unicode_tool = {
        "type": "function",
        "function": {
            "name": "unicode_customer",
            "description": "Tool for creating a customer with Unicode name.",
            "parameters": {
                "type": "object",
                "properties": {
                    "customer_name": {"type": "string"},
                    "description": {"type": "string"},
                },
                "required": ["customer_name", "description"],
            },
        },
    }
    response = post(
        client,
        messages=user("Create a customer named '你好啊集团' (Hello Group) - a Chinese company"),
        tools=[unicode_tool],
        tool_choice="required",
    )
    assert "你好啊集团" in response.text  # not \\u-escaped on the wire
    assert calls_of(response.json())[0][1]["customer_name"] == "你好啊集团"


def test_parallel_tool_calls(client: httpx.Client) -> None:
    question = user("multiply 2 and 3, and add 4 and 5")
    body = complete(client, messages=question, tools=[MULTIPLY, ADD])
    assert calls_of(body) == [("multiply", {"a": 2, "b": 3}), ("add", {"a": 4, "b": 5})]
    ids = [c["id"] for c in body["choices"][0]["message"]["tool_calls"]]
    assert len(set(ids)) == 2
    same = complete(
        client, messages=user("multiply 2 and 3, then multiply 4 and 5"), tools=[MULTIPLY]
    )
    assert calls_of(same) == [("multiply", {"a": 2, "b": 3}), ("multiply", {"a": 4, "b": 5})]
    single = complete(client, messages=question, tools=[MULTIPLY, ADD], parallel_tool_calls=False)
    assert len(calls_of(single)) == 1


def test_streamed_tool_calls(client: httpx.Client) -> None:
    lines = stream_lines(
        client, messages=user("multiply 2 and 3, and add 4 and 5"), tools=[MULTIPLY, ADD]
    )
    tool_deltas = [tc for d in deltas(lines) for tc in d.get("tool_calls") or []]
    by_index: dict[int, list[dict[str, Any]]] = {}
    for tc in tool_deltas:
        by_index.setdefault(tc["index"], []).append(tc)
    assert sorted(by_index) == [0, 1]
    for index, parts in by_index.items():
        head, rest = parts[0], parts[1:]
        assert head["id"]
        assert head["type"] == "function"
        assert head["function"]["arguments"] == ""
        assert head["function"]["name"] == ("multiply" if index == 0 else "add")
        for part in rest:
            assert set(part) == {"index", "function"}
            assert set(part["function"]) == {"arguments"}
        args = json.loads("".join(p["function"]["arguments"] for p in rest))
        assert args == ({"a": 2, "b": 3} if index == 0 else {"a": 4, "b": 5})
    finish = [c for c in chunks(lines) if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finish[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_results_answer(client: httpx.Client) -> None:
    adder = arith("my_adder_tool", "Tool that adds two integers.")
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "What is 1 + 2"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "abc123",
                    "type": "function",
                    "function": {"name": "my_adder_tool", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "abc123", "name": "my_adder_tool", "content": "3"},
    ]
    body = complete(client, messages=history, tools=[adder])
    assert calls_of(body) == []
    assert "3" in body["choices"][0]["message"]["content"]
    history[-1]["content"] = [{"type": "text", "text": '{"result": 3}'}]
    history[1]["content"] = [{"type": "text", "text": "some text"}]
    text = complete(client, messages=history, tools=[adder])["choices"][0]["message"]["content"]
    assert '{"result": 3}' in text
    history[-1]["content"] = "Error: Missing required argument 'b'."
    text = complete(client, messages=history, tools=[adder])["choices"][0]["message"]["content"]
    assert "Missing required argument" in text
    few_shot = [*history[:-1], {"role": "tool", "tool_call_id": "abc123", "content": "3"}]
    few_shot += [
        {"role": "assistant", "content": "3"},
        {"role": "user", "content": "What is 3 + 4"},
    ]
    assert calls_of(complete(client, messages=few_shot, tools=[adder], tool_choice="required")) == [
        ("my_adder_tool", {"a": 3, "b": 4})
    ]


def test_agent_loop(client: httpx.Client) -> None:
    question = user("What is the weather in San Francisco, CA?")
    first = complete(client, messages=question, tools=[WEATHER])
    call = first["choices"][0]["message"]["tool_calls"][0]
    history = [
        *question,
        first["choices"][0]["message"],
        {"role": "tool", "tool_call_id": call["id"], "content": "It's sunny."},
    ]
    final = complete(client, messages=history, tools=[WEATHER])
    assert "It's sunny." in final["choices"][0]["message"]["content"]


# ----------------------------------------------------------------- structured output


def test_json_object(client: httpx.Client) -> None:
    prompt = (
        "Tell me a joke about cats. Return the result as a JSON with 'setup' and "
        "'punchline' keys. Return nothing other than JSON."
    )
    body = complete(client, messages=user(prompt), response_format={"type": "json_object"})
    assert set(json.loads(body["choices"][0]["message"]["content"])) == {"setup", "punchline"}
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "n": {"type": "integer"}},
    }
    pasted = [
        {
            "role": "system",
            "content": f"Answer with JSON matching this schema: {json.dumps(schema)}",
        },
        {"role": "user", "content": "Pick a city and 7."},
    ]
    value = json.loads(
        complete(client, messages=pasted, response_format={"type": "json_object"})["choices"][0][
            "message"
        ]["content"]
    )
    assert set(value) == {"city", "n"}
    assert value["n"] == 7
    plain = complete(
        client, messages=user("Say something"), response_format={"type": "json_object"}
    )
    assert "answer" in json.loads(plain["choices"][0]["message"]["content"])
    lines = stream_lines(client, messages=user(prompt), response_format={"type": "json_object"})
    assert set(json.loads(joined(lines, "content"))) == {"setup", "punchline"}


def test_json_schema_quirk(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {
            "name": "Joke",
            "schema": {
                "type": "object",
                "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
                "required": ["setup", "punchline"],
            },
        },
    }
    body = complete(client, messages=user("Tell me a joke"), response_format=response_format)
    assert body["choices"] is None
    assert body["object"] == ""
    assert body["created"] == 0
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    streamed = chunks(
        stream_lines(client, messages=user("Tell me a joke"), response_format=response_format)
    )
    assert streamed[0]["choices"] is None
    emu.config.json_schema_quirk = False
    fixed = complete(client, messages=user("Tell me a joke"), response_format=response_format)
    value = json.loads(fixed["choices"][0]["message"]["content"])
    assert set(value) == {"setup", "punchline"}
    assert all(isinstance(v, str) and v for v in value.values())


def test_structured_output_tool(client: httpx.Client) -> None:
    joke_tool = {
        "type": "function",
        "function": {
            "name": "Joke",
            "description": "Joke to tell user.",
            "parameters": {
                "type": "object",
                "properties": {
                    "setup": {"type": "string", "description": "question to set up a joke"},
                    "punchline": {
                        "anyOf": [{"type": "string"}, {"type": "null"}],
                        "default": None,
                    },
                },
                "required": ["setup"],
            },
        },
    }
    named = {"type": "function", "function": {"name": "Joke"}}
    args = calls_of(
        complete(
            client,
            messages=user("Tell me a joke about cats."),
            tools=[joke_tool],
            tool_choice=named,
        )
    )[0][1]
    assert isinstance(args["setup"], str)
    assert isinstance(args["punchline"], str)


# ----------------------------------------------------------------- vision

PNG_DATA_URL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChw"
    "GA60e6kgAAAABJRU5ErkJggg=="
)


def image_message(url: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Give a concise description of this image."},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


def test_vision(client: httpx.Client) -> None:
    for model in (VISION, "Qwen/Qwen2.5-VL-72B-Instruct"):
        text = complete(client, model=model, messages=image_message(PNG_DATA_URL))["choices"][0][
            "message"
        ]["content"]
        assert "image/png" in text
    url_text = complete(
        client, model=VISION, messages=image_message("https://example.com/cat.jpg")
    )["choices"][0]["message"]["content"]
    assert "image/jpeg" in url_text
    with_tools = complete(
        client,
        model=VISION,
        messages=user("What is the value of magic_function(3)?"),
        tools=[MAGIC],
    )
    assert calls_of(with_tools) == [("magic_function", {"input": 3})]
    refused = post(client, model=PLAIN, messages=image_message(PNG_DATA_URL))
    assert refused.status_code == 400
    tool_image = [
        *user("get a random image"),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "1", "type": "function", "function": {"name": "img", "arguments": "{}"}}
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "1",
            "content": [{"type": "image_url", "image_url": {"url": PNG_DATA_URL}}],
        },
    ]
    assert (
        "image"
        in complete(client, model=VISION, messages=tool_image)["choices"][0]["message"]["content"]
    )


def test_bad_requests(client: httpx.Client) -> None:
    assert post(client, messages=[]).status_code == 400
    assert post(client, model="Qwen/Qwen3-Embedding-8B", messages=user("hi")).status_code == 400
    assert client.post("/chat/completions", json=["not", "an", "object"]).status_code == 400
    weird = [
        {"role": "user", "content": [{"type": "mystery", "x": 1}, "plain string part"]},
        {"role": "assistant", "content": None},
        {"role": "developer", "content": "ignored"},
        {"role": "user", "content": None},
    ]
    assert complete(client, messages=weird)["choices"][0]["message"]["content"]


# ----------------------------------------------------------------- scripted replies


def test_scripted_replies(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.queue_reply(ScriptedReply(content="first"))
    emu.queue_reply(ScriptedReply(content="for glm"), model="ZhipuAI/GLM-4.6")
    emu.queue_reply(ScriptedReply(content="second"))
    assert complete(client, messages=user("x"))["choices"][0]["message"]["content"] == "first"
    assert complete(client, messages=user("x"))["choices"][0]["message"]["content"] == "second"
    glm = complete(client, model="ZhipuAI/GLM-4.6", messages=user("x"))
    assert glm["choices"][0]["message"]["content"] == "for glm"
    assert complete(client, messages=user("Hello"))["choices"][0]["message"]["content"] != "first"


def test_scripted_tool_calls_and_usage(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.queue_reply(
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall("broken", '{"a": 1', id="call_x"),
                ScriptedToolCall("fine", {"b": "é"}),
            ],
            usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        )
    )
    body = complete(client, messages=user("x"))
    calls = body["choices"][0]["message"]["tool_calls"]
    assert calls[0] == {
        "id": "call_x",
        "type": "function",
        "function": {"name": "broken", "arguments": '{"a": 1'},
    }
    assert json.loads(calls[1]["function"]["arguments"]) == {"b": "é"}
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    emu.queue_reply(ScriptedReply(content="", finish_reason="stop"))
    empty = complete(client, messages=user("x"))["choices"][0]
    assert empty["message"]["content"] == ""
    assert empty["finish_reason"] == "stop"


def test_scripted_stream(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.queue_reply(
        ScriptedReply(
            content="abcdefghij", reasoning="think hard", chunk_size=3, finish_reason="length"
        )
    )
    lines = stream_lines(client, messages=user("x"))
    contents = [d["content"] for d in deltas(lines) if d.get("content")]
    assert contents == ["abc", "def", "ghi", "j"]
    assert joined(lines, "reasoning_content") == "think hard"
    assert chunks(lines)[-1]["choices"][0]["finish_reason"] == "length"
