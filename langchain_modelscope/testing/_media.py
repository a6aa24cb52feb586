"""`/v1/embeddings`, `/v1/images/generations` with its `/v1/tasks/{id}` polls, `/v1/models`."""

from __future__ import annotations

import time
import uuid
from typing import Any

from langchain_modelscope.testing import _messages as msg
from langchain_modelscope.testing._accounts import admit, authenticate, gate, success_headers
from langchain_modelscope.testing._catalogue import CATALOGUE_CREATED, ModelInfo, base_model_id
from langchain_modelscope.testing._embeddings import embed, to_base64
from langchain_modelscope.testing._responder import count_tokens
from langchain_modelscope.testing._state import EmulatorState, Exchange, Task
from langchain_modelscope.testing._wire import Answer, json_answer

#: a 1x1 transparent PNG, served as every generated image
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def _bad(state: EmulatorState, ex: Exchange, text: str) -> Answer:
    return state.error(400, text, ex, code="invalid_parameter_error")


# --------------------------------------------------------------------------- embeddings


def _texts(raw_input: Any) -> list[str] | None:
    if isinstance(raw_input, str):
        return [raw_input]
    if isinstance(raw_input, list) and all(isinstance(t, str) for t in raw_input):
        return list(raw_input)
    return None


def _check_embedding_input(
    state: EmulatorState, ex: Exchange, info: ModelInfo
) -> tuple[list[str], int] | Answer:
    config = state.config
    body: dict[str, Any] = ex.body
    texts = _texts(body.get("input"))
    if texts is None:
        return _bad(state, ex, msg.CHOICE_BAD_INPUT)
    if not texts or any(not t.strip() for t in texts):
        return _bad(state, ex, msg.CHOICE_EMPTY_INPUT)
    batch = config.max_embedding_batch
    if batch is not None and len(texts) > batch:
        return _bad(state, ex, msg.CHOICE_BATCH_TOO_LARGE.format(count=len(texts), limit=batch))
    for index, text in enumerate(texts):
        words = count_tokens(text)
        if words > config.max_embedding_words:
            limit = config.max_embedding_words
            return _bad(
                state, ex, msg.CHOICE_INPUT_TOO_LONG.format(index=index, words=words, limit=limit)
            )
    dimension = info.dimension
    wanted = body.get("dimensions")
    if config.honour_dimensions and wanted is not None:
        if (
            not isinstance(wanted, int)
            or isinstance(wanted, bool)
            or not 1 <= wanted <= info.dimension
        ):
            return _bad(state, ex, msg.CHOICE_BAD_DIMENSIONS.format(limit=info.dimension))
        dimension = wanted
    return texts, dimension


def embeddings(state: EmulatorState, ex: Exchange) -> Answer:
    """Answer one embeddings call."""
    gated = gate(state, ex)
    if isinstance(gated, Answer):
        return gated
    account, info = gated
    model = ex.model
    if not state.config.embeddings_enabled:
        return state.error(400, msg.CHOICE_EMBEDDINGS_DISABLED, ex, code="invalid_model")
    if info.kind != "embedding":
        return state.error(
            400, msg.CHOICE_NOT_EMBEDDING.format(model=model), ex, code="invalid_model"
        )
    encoding = ex.body.get("encoding_format")
    if encoding not in ("float", "base64"):
        shown = encoding if isinstance(encoding, str) else ""
        return _bad(state, ex, msg.SHEET_ENCODING_FORMAT.format(value=shown))
    checked = _check_embedding_input(state, ex, info)
    if isinstance(checked, Answer):
        return checked
    texts, dimension = checked
    admitted = admit(state, account, ex)
    if isinstance(admitted, Answer):
        return admitted
    if state.config.response_delay > 0:
        time.sleep(state.config.response_delay)
    data = []
    for index, text in enumerate(texts):
        vector = embed(text, dimension)
        encoded: Any = to_base64(vector) if encoding == "base64" else vector
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(max(count_tokens(t), 1) for t in texts)
    response = {
        "object": "list",
        "data": data,
        "model": state.echo_model(model),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return json_answer(response, headers=success_headers(state, admitted, False))


# --------------------------------------------------------------------------- images


def image_generation(state: EmulatorState, ex: Exchange) -> Answer:
    """Accept an image task."""
    gated = gate(state, ex)
    if isinstance(gated, Answer):
        return gated
    account, info = gated
    body: dict[str, Any] = ex.body
    if info.kind != "image":
        return state.error(
            400, msg.CHOICE_NOT_IMAGE.format(model=ex.model), ex, code="invalid_model"
        )
    if ex.header("x-modelscope-async-mode").lower() != "true":
        return _bad(state, ex, msg.CHOICE_ASYNC_REQUIRED)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return _bad(state, ex, msg.CHOICE_NO_PROMPT)
    admitted = admit(state, account, ex)
    if isinstance(admitted, Answer):
        return admitted
    task = Task(
        task_id=str(uuid.uuid4()),
        token=account.token,
        model=ex.model,
        prompt=prompt,
        created_at=state.clock.now(),
        fail=state.config.image_task_fail or msg.IMAGE_FAIL_TRIGGER.lower() in prompt.lower(),
    )
    with state.lock:
        state.tasks[task.task_id] = task
    response = {"task_id": task.task_id, "request_id": ex.request_id, "task_status": "PENDING"}
    return json_answer(response, headers=success_headers(state, admitted, False))


def task(state: EmulatorState, ex: Exchange) -> Answer:
    """Answer one poll of an image task."""
    account = authenticate(state, ex)
    if isinstance(account, Answer):
        return account
    if ex.header("x-modelscope-task-type") != "image_generation":
        return _bad(state, ex, msg.CHOICE_TASK_TYPE)
    task_id = ex.record.path[len("/v1/tasks/") :]
    with state.lock:
        found = state.tasks.get(task_id)
        if found is None or found.token != account.token:
            return state.error(404, msg.CHOICE_TASK_NOT_FOUND.format(task_id=task_id), ex)
        found.polls += 1
        polls = found.polls
    config = state.config
    response: dict[str, Any] = {"task_id": task_id, "request_id": ex.request_id}
    states = config.image_task_states or ("RUNNING",)
    if config.image_task_seconds is not None:
        elapsed = (state.clock.now() - found.created_at).total_seconds()
        pending = elapsed < config.image_task_seconds
    else:
        pending = polls <= config.image_task_polls
    if pending:
        response["task_status"] = states[(polls - 1) % len(states)]
    elif found.fail:
        response["task_status"] = "FAILED"
        response["errors"] = {"code": "GenerationFailed", "message": msg.CHOICE_TASK_FAILED}
    else:
        response["task_status"] = "SUCCEED"
        response["output_images"] = [f"{state.root_url}/_emulator/images/{task_id}.png"]
    return json_answer(response)


def image_bytes(state: EmulatorState, task_id: str) -> bytes | None:
    """The PNG behind a task's image URL."""
    with state.lock:
        return PNG if task_id in state.tasks else None


# --------------------------------------------------------------------------- catalogue


def _entry(info: ModelInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "object": "model",
        "created": CATALOGUE_CREATED,
        "owned_by": info.owned_by,
    }


def _listed(state: EmulatorState, info: ModelInfo) -> bool:
    if info.retired:
        return False
    if info.kind == "image":
        return state.config.list_image_models
    if info.kind == "embedding":
        return state.config.list_embedding_models
    return True


def list_models(state: EmulatorState, ex: Exchange) -> Answer:
    """`GET /v1/models`: no token needed, as observed."""
    with state.lock:
        data = [_entry(m) for m in state.models.values() if _listed(state, m)]
    return json_answer({"object": "list", "data": data})


def get_model(state: EmulatorState, ex: Exchange) -> Answer:
    """`GET /v1/models/{id}`."""
    model_id = ex.record.path[len("/v1/models/") :]
    with state.lock:
        info = state.models.get(base_model_id(model_id))
    if info is None or not _listed(state, info):
        return state.error(404, msg.SHEET_INVALID_MODEL.format(model=model_id), ex)
    return json_answer(_entry(info))
