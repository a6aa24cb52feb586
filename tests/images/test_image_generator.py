"""`ModelScopeImageGenerator` against the emulator and against answers of the facts sheet (§1)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_modelscope import ModelScopeImageGenerator
from langchain_modelscope.errors import AuthenticationError, QuotaExceededError
from langchain_modelscope.images import (
    ContentRefusedError,
    GeneratedImages,
    ImageTaskCancelledError,
    ImageTaskFailedError,
    ImageTaskTimeoutError,
    InvalidImageRequestError,
    build_request,
    max_image_side,
)
from langchain_modelscope.quota import QuotaKey, QuotaLedger
from langchain_modelscope.testing import Fault, ModelScopeEmulator
from tests.balance.scripted_server import Scripted, ScriptedServer, scripted_server

MODEL = "Tongyi-MAI/Z-Image-Turbo"
SUBMIT = "/v1/images/generations"
FAST = {"poll_interval": 0.01, "poll_interval_max": 0.02}


def generator(emu: ModelScopeEmulator, **kwargs: Any) -> ModelScopeImageGenerator:
    settings: dict[str, Any] = {"model": MODEL, "ledger": QuotaLedger(), **FAST, **kwargs}
    return ModelScopeImageGenerator(base_url=emu.base_url, api_key=emu.token, **settings)


def submits(emu: ModelScopeEmulator) -> list[Any]:
    return [r for r in emu.requests if r.path == SUBMIT]


def polls(emu: ModelScopeEmulator) -> list[Any]:
    return [r for r in emu.requests if r.path.startswith("/v1/tasks/")]


# --- success ----------------------------------------------------------------------------------


def test_generate_submits_async_polls_with_the_task_header_and_returns_urls(
    emu: ModelScopeEmulator,
) -> None:
    result = generator(emu).generate("a red panda", size="1024x1024", seed=42, steps=9)
    assert isinstance(result, GeneratedImages)
    assert result.urls
    assert all(url.startswith("http") for url in result.urls)
    assert result.seed == 42
    assert result.model == MODEL
    assert result.polls >= 1
    assert result.elapsed >= 0
    (submit,) = submits(emu)
    assert submit.headers["x-modelscope-async-mode"] == "true"
    assert submit.body == {
        "model": MODEL,
        "prompt": "a red panda",
        "seed": 42,
        "size": "1024x1024",
        "steps": 9,
    }
    assert polls(emu)
    for poll in polls(emu):
        assert poll.path == f"/v1/tasks/{result.task_id}"
        assert poll.headers["x-modelscope-task-type"] == "image_generation"


def test_a_seed_is_drawn_when_none_is_given_and_reported(emu: ModelScopeEmulator) -> None:
    result = generator(emu).generate("a red panda")
    assert isinstance(result.seed, int)
    assert 0 <= result.seed < 2**31
    assert submits(emu)[0].body["seed"] == result.seed


async def test_agenerate_and_downloads_to_memory_and_to_files(
    emu: ModelScopeEmulator, tmp_path: Path
) -> None:
    gen = generator(emu)
    in_memory = await gen.agenerate("a cat", download=True)
    assert in_memory.images
    assert in_memory.images[0].startswith(b"\x89PNG")
    on_disk = gen.generate("a dog", download=tmp_path / "out")
    (path,) = on_disk.paths
    assert path.parent == tmp_path / "out"
    assert on_disk.task_id in path.name
    assert path.read_bytes().startswith(b"\x89PNG")
    # the image URLs are fetched without the token
    downloads = [r for r in emu.requests if r.path.startswith("/_emulator/images/")]
    assert all("authorization" not in r.headers for r in downloads)


# --- answers of the facts sheet, scripted -----------------------------------------------------


@pytest.fixture
def service() -> Iterator[ScriptedServer]:
    with scripted_server() as server:
        server.script(
            SUBMIT, Scripted(body={"task_id": "t-1", "request_id": "r-1", "task_status": "SUCCEED"})
        )
        yield server


def scripted(service: ScriptedServer, **kwargs: Any) -> ModelScopeImageGenerator:
    return ModelScopeImageGenerator(
        model=MODEL,
        base_url=f"{service.url}/v1",
        api_key="ms-test",
        ledger=QuotaLedger(),
        **FAST,
        **kwargs,
    )


def test_the_first_succeed_on_submit_only_means_accepted(service: ScriptedServer) -> None:
    service.script(
        "/v1/tasks/t-1",
        Scripted(body={"task_status": "PENDING"}),
        Scripted(body={"task_status": "PROCESSING", "outputs": {}}),
        Scripted(body={"task_status": "SUCCEED", "output_images": ["https://x.test/1.png"]}),
    )
    result = scripted(service).generate("a fox")
    assert result.urls == ("https://x.test/1.png",)
    assert result.task_id == "t-1"
    assert result.polls == 3


def test_failed_422_reads_as_a_content_refusal(service: ScriptedServer) -> None:
    body = {
        "errors": {"code": 422, "message": "Output data may contain inappropriate content."},
        "task_status": "FAILED",
        "request_id": "r-2",
    }
    service.script("/v1/tasks/t-1", Scripted(body=body))
    with pytest.raises(ContentRefusedError) as caught:
        scripted(service).generate("something")
    error = caught.value
    assert (error.code, error.task_id) == (422, "t-1")
    assert "inappropriate content" in error.message
    assert not isinstance(error, ImageTaskTimeoutError)


def test_other_failures_keep_their_code(service: ScriptedServer) -> None:
    body = {"errors": {"code": 500, "message": "task not found"}, "task_status": "FAILED"}
    service.script("/v1/tasks/t-1", Scripted(body=body))
    with pytest.raises(ImageTaskFailedError) as caught:
        scripted(service).generate("something")
    assert not isinstance(caught.value, ContentRefusedError)
    assert caught.value.code == 500


def test_a_spent_balance_is_not_asked_again(emu: ModelScopeEmulator) -> None:
    """A 429 "insufficient balance" (§3) marks the account in the ledger: no second request."""
    ledger = QuotaLedger()
    emu.queue_fault(Fault.status(429, {"error": {"message": "insufficient balance"}}), path=SUBMIT)
    gen = generator(emu, ledger=ledger)
    with pytest.raises(QuotaExceededError) as first:
        gen.generate("a cat")
    assert first.value.scope == "account"
    assert len(submits(emu)) == 1
    with pytest.raises(QuotaExceededError) as second:
        gen.generate("a cat")
    assert "not sent" in str(second.value)
    assert len(submits(emu)) == 1
    # another model of the same account is skipped too; a cleared mark lets calls through
    with pytest.raises(QuotaExceededError):
        generator(emu, ledger=ledger, model="Qwen/Qwen-Image").generate("a cat")
    ledger.clear(QuotaKey.for_token(emu.token))
    assert gen.generate("a cat").urls
    assert len(submits(emu)) == 2


def test_a_spent_balance_in_the_points_regime(emu: ModelScopeEmulator) -> None:
    emu.set_balance(emu.token, 0)
    gen = generator(emu)
    with pytest.raises(QuotaExceededError):
        gen.generate("a cat")
    with pytest.raises(QuotaExceededError):
        gen.generate("a cat")
    assert len(submits(emu)) == 1


def test_points_are_charged_per_image(emu: ModelScopeEmulator) -> None:
    emu.set_balance(emu.token, 100)
    generator(emu).generate("a cat")
    assert emu.points(emu.token) < 100


# --- FAILED, timeout, resume, cancellation on the emulator ------------------------------------


def test_emulator_failed_task(emu: ModelScopeEmulator) -> None:
    with pytest.raises(ImageTaskFailedError) as caught:
        generator(emu).generate("FAIL_TASK a cat")
    assert caught.value.task_id
    assert caught.value.code == 422  # §1: the FAILED body carries 422 "inappropriate content"
    assert isinstance(caught.value, ContentRefusedError)


def test_a_timeout_keeps_the_task_id_and_result_resumes(emu: ModelScopeEmulator) -> None:
    emu.config.image_task_polls = 10**6
    gen = generator(emu, task_timeout=0.05)
    with pytest.raises(ImageTaskTimeoutError) as caught:
        gen.generate("a slow cat")
    task_id = caught.value.task_id
    assert task_id
    assert caught.value.last_status in ("PENDING", "RUNNING", "PROCESSING")
    assert "result(task_id)" in str(caught.value)
    emu.config.image_task_polls = 0
    resumed = gen.result(task_id)
    assert resumed.task_id == task_id
    assert resumed.urls
    assert len(submits(emu)) == 1  # resuming submits nothing


async def test_aresult_resumes_too(emu: ModelScopeEmulator) -> None:
    emu.config.image_task_polls = 10**6
    gen = generator(emu, task_timeout=0.05)
    with pytest.raises(ImageTaskTimeoutError) as caught:
        await gen.agenerate("a slow cat")
    emu.config.image_task_polls = 0
    assert (await gen.aresult(caught.value.task_id)).urls


async def test_cancelling_agenerate_stops_polling(emu: ModelScopeEmulator) -> None:
    emu.config.image_task_polls = 10**6
    task = asyncio.create_task(generator(emu).agenerate("a cat"))
    for _ in range(500):
        if len(polls(emu)) >= 2:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    seen = len(polls(emu))
    await asyncio.sleep(0.2)  # ten poll intervals
    assert len(polls(emu)) == seen


def test_the_cancel_event_stops_polling(emu: ModelScopeEmulator) -> None:
    emu.config.image_task_polls = 10**6
    cancel = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            generator(emu).generate("a cat", cancel=cancel)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    for _ in range(500):
        if len(polls(emu)) >= 2:
            break
        threading.Event().wait(0.01)
    cancel.set()
    thread.join(10)
    assert not thread.is_alive()
    (error,) = errors
    assert isinstance(error, ImageTaskCancelledError)
    assert error.task_id


def test_an_unknown_task_is_a_task_error_not_a_model_error(emu: ModelScopeEmulator) -> None:
    with pytest.raises(ImageTaskFailedError) as caught:
        generator(emu).result("no-such-task")
    assert caught.value.code == 404


# --- parameters refused before any request ----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "kwargs", "parameter"),
    [
        (MODEL, {"prompt": ""}, "prompt"),
        (MODEL, {"prompt": "   "}, "prompt"),
        (MODEL, {"prompt": "x" * 2000}, "prompt"),
        (MODEL, {"prompt": 3}, "prompt"),
        (MODEL, {"negative_prompt": 5}, "negative_prompt"),
        ("black-forest-labs/FLUX.1-Krea-dev", {"size": "1280x1024"}, "size"),
        ("Qwen/Qwen-Image", {"size": "1700x1024"}, "size"),
        (MODEL, {"size": "4096x4096"}, "size"),
        (MODEL, {"size": "big"}, "size"),
        (MODEL, {"size": "0x512"}, "size"),
        (MODEL, {"seed": -1}, "seed"),
        (MODEL, {"seed": 2**31}, "seed"),
        (MODEL, {"seed": 1.5}, "seed"),
        (MODEL, {"steps": 0}, "steps"),
        (MODEL, {"guidance": "high"}, "guidance"),
        (MODEL, {"download": 3}, "download"),
    ],
)
def test_bad_parameters_are_refused_before_any_request(
    emu: ModelScopeEmulator, model: str, kwargs: dict[str, Any], parameter: str
) -> None:
    arguments = {"prompt": "a cat", **kwargs}
    with pytest.raises(InvalidImageRequestError) as caught:
        generator(emu, model=model).generate(**arguments)
    assert caught.value.parameter == parameter
    assert isinstance(caught.value, ValueError)
    assert emu.requests == []


@pytest.mark.parametrize(
    ("model", "side"),
    [
        ("black-forest-labs/FLUX.1-Krea-dev", 1024),
        ("Qwen/Qwen-Image", 1664),
        ("Qwen/Qwen-Image-2512", 1664),
        ("Tongyi-MAI/Z-Image-Turbo", 2048),
    ],
)
def test_each_family_accepts_its_whole_range(model: str, side: int) -> None:
    assert max_image_side(model) == side
    body = build_request(model, "a cat", size=f"{side}x{side}", seed=0)
    assert body["size"] == f"{side}x{side}"
    assert build_request(model, "a cat", size=(side, 512), seed=2**31 - 1)["seed"] == 2**31 - 1


def test_the_token_is_in_no_repr_or_error(emu: ModelScopeEmulator) -> None:
    gen = generator(emu)
    assert emu.token not in repr(gen)
    assert emu.token not in str(gen)
    emu.queue_fault(
        Fault.status(401, {"errors": {"message": "Authentication failed"}}), path=SUBMIT
    )
    with pytest.raises(AuthenticationError) as caught:
        gen.generate("a cat")
    assert emu.token not in str(caught.value)
    assert emu.token not in repr(caught.value)
