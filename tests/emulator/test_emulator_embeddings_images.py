"""Embeddings and asynchronous image generation of the emulator."""

from __future__ import annotations

import base64
import math
import struct
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from langchain_modelscope.testing import ModelScopeEmulator

EMBED = "Qwen/Qwen3-Embedding-0.6B"
IMAGE = "Qwen/Qwen-Image"


def embed(client: httpx.Client, **body: Any) -> httpx.Response:
    body.setdefault("model", EMBED)
    body.setdefault("encoding_format", "float")
    return client.post("/embeddings", json=body)


def vectors(response: httpx.Response) -> list[list[float]]:
    assert response.status_code == 200, response.text
    return [item["embedding"] for item in response.json()["data"]]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def message(response: httpx.Response) -> str:
    return str(response.json()["errors"]["message"])


# ----------------------------------------------------------------- embeddings


@pytest.mark.parametrize(
    ("model", "dimension"),
    [
        ("Qwen/Qwen3-Embedding-0.6B", 1024),
        ("Qwen/Qwen3-Embedding-4B", 2560),
        ("Qwen/Qwen3-Embedding-8B", 4096),
        ("BAAI/bge-large-zh-v1.5", 1024),
    ],
)
def test_dimensions_per_model(client: httpx.Client, model: str, dimension: int) -> None:
    response = embed(client, model=model, input="hello world")
    [vector] = vectors(response)
    assert len(vector) == dimension
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-9)


def test_shape_and_usage(client: httpx.Client) -> None:
    response = embed(client, input=["a cat sat", "on the mat"])
    body = response.json()
    assert body["object"] == "list"
    assert body["model"] == EMBED
    assert [item["index"] for item in body["data"]] == [0, 1]
    assert all(item["object"] == "embedding" for item in body["data"])
    assert body["usage"] == {"prompt_tokens": 6, "total_tokens": 6}
    assert response.headers["modelscope-ratelimit-model-requests-remaining"] == "499"


def test_lexical_similarity_and_determinism(client: httpx.Client) -> None:
    cat, kitten, stock = vectors(
        embed(
            client,
            input=[
                "the cat sleeps on the warm sofa",
                "a cat sleeping on a sofa",
                "quarterly stock market report",
            ],
        )
    )
    assert cosine(cat, kitten) > cosine(cat, stock) + 0.2
    assert vectors(embed(client, input="the cat sleeps on the warm sofa"))[0] == cat
    chinese = vectors(embed(client, input=["今天 天气 很好", "今天 天气 不错", "股票 市场"]))
    assert cosine(chinese[0], chinese[1]) > cosine(chinese[0], chinese[2])


def test_base64(client: httpx.Client) -> None:
    floats = vectors(embed(client, input="hello base64"))[0]
    response = embed(client, input="hello base64", encoding_format="base64")
    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert len(decoded) == 1024
    assert all(
        math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(decoded, floats, strict=True)
    )


def test_encoding_format_required(client: httpx.Client) -> None:
    response = client.post("/embeddings", json={"model": EMBED, "input": "hi"})
    assert response.status_code == 400
    assert message(response) == "encoding_format must be 'float' or 'base64', got ''"
    other = embed(client, input="hi", encoding_format="int8")
    assert message(other) == "encoding_format must be 'float' or 'base64', got 'int8'"


def test_dimensions_parameter(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    assert len(vectors(embed(client, input="hi", dimensions=256))[0]) == 256
    assert embed(client, input="hi", dimensions=5000).status_code == 400
    assert embed(client, input="hi", dimensions=0).status_code == 400
    emu.config.honour_dimensions = False
    assert len(vectors(embed(client, input="hi", dimensions=256))[0]) == 1024


def test_input_validation(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    assert embed(client, input="").status_code == 400
    assert embed(client, input=["ok", "  "]).status_code == 400
    assert embed(client, input=[]).status_code == 400
    assert embed(client, input=[1, 2, 3]).status_code == 400
    too_long = embed(client, input="word " * 8193)
    assert too_long.status_code == 400
    assert "too long" in message(too_long)
    emu.config.max_embedding_batch = 2
    assert embed(client, input=["a", "b", "c"]).status_code == 400
    assert embed(client, input=["a", "b"]).status_code == 200
    assert embed(client, model="Qwen/Qwen2.5-72B-Instruct", input="hi").status_code == 400
    assert embed(client, model="nobody/none", input="hi").status_code == 400
    assert embed(client, input="hi", token="x").status_code == 200  # extra fields ignored
    emu.config.embeddings_enabled = False
    assert embed(client, input="hi").status_code == 400
    assert emu.usage(emu.token, EMBED) == 2


# ----------------------------------------------------------------- images


def generate(client: httpx.Client, prompt: str = "a cat", asynchronous: bool = True) -> Any:
    headers = {"X-ModelScope-Async-Mode": "true"} if asynchronous else {}
    return client.post(
        "/images/generations",
        json={"model": IMAGE, "prompt": prompt, "size": "1024x1024"},
        headers=headers,
    )


def poll(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.get(
        f"/tasks/{task_id}", headers={"X-ModelScope-Task-Type": "image_generation"}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_image_task_success(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    created = generate(client)
    assert created.status_code == 200
    body = created.json()
    assert body["task_status"] == "SUCCEED"  # §1: the first SUCCEED only means accepted
    assert body["request_id"]
    first = poll(client, body["task_id"])
    assert first["task_status"] == "RUNNING"
    done = poll(client, body["task_id"])
    assert done["task_status"] == "SUCCEED"
    [url] = done["output_images"]
    image = client.get(url)
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert emu.usage(emu.token, IMAGE) == 1  # polls are not counted


def test_image_task_states_and_failures(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.config.image_task_polls = 3
    emu.config.image_task_states = ("PENDING", "RUNNING", "PROCESSING")
    task_id = generate(client).json()["task_id"]
    states = [poll(client, task_id)["task_status"] for _ in range(4)]
    assert states == ["PENDING", "RUNNING", "PROCESSING", "SUCCEED"]
    emu.config.image_task_polls = 0
    failed = poll(client, generate(client, "please FAIL_TASK now").json()["task_id"])
    assert failed["task_status"] == "FAILED"
    assert failed["errors"] == {
        "code": 422,
        "message": "Output data may contain inappropriate content.",
    }
    emu.config.image_task_fail = True
    assert poll(client, generate(client).json()["task_id"])["task_status"] == "FAILED"


def test_image_errors(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    assert generate(client, asynchronous=False).status_code == 400
    assert generate(client, prompt="").status_code == 400
    wrong_model = client.post(
        "/images/generations",
        json={"model": "Qwen/Qwen2.5-72B-Instruct", "prompt": "x"},
        headers={"X-ModelScope-Async-Mode": "true"},
    )
    assert wrong_model.status_code == 400
    task_id = generate(client).json()["task_id"]
    headerless = client.get(f"/tasks/{task_id}")  # task type header missing (§1, reported)
    assert headerless.json() == {
        "errors": {"code": 500, "message": "task not found"},
        "task_status": "FAILED",
    }
    missing = client.get("/tasks/nope", headers={"X-ModelScope-Task-Type": "image_generation"})
    assert missing.status_code == 404
    assert "errors" in missing.json()
    other = emu.add_account()
    foreign = client.get(
        f"/tasks/{task_id}",
        headers={"X-ModelScope-Task-Type": "image_generation", "Authorization": f"Bearer {other}"},
    )
    assert foreign.status_code == 404
    emu.config.error_envelope = "error"
    unauthenticated = client.get(
        f"/tasks/{task_id}",
        headers={"X-ModelScope-Task-Type": "image_generation", "Authorization": "Bearer bad"},
    )
    assert unauthenticated.status_code == 401
    assert "errors" in unauthenticated.json()  # the tasks endpoint keeps the plural envelope


def test_image_task_by_clock(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.clock.set(datetime(2025, 1, 1, tzinfo=timezone.utc))
    emu.config.image_task_seconds = 10
    task_id = generate(client).json()["task_id"]
    assert poll(client, task_id)["task_status"] == "RUNNING"
    assert poll(client, task_id)["task_status"] == "RUNNING"
    emu.clock.advance(10)
    assert poll(client, task_id)["task_status"] == "SUCCEED"
