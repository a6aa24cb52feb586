"""`/v1/embeddings`, `/v1/images/generations` with its `/v1/tasks/{id}` polls, `/v1/models`."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_modelscope.testing import _messages as msg
from langchain_modelscope.testing._accounts import admit_call, authenticate, success_headers
from langchain_modelscope.testing._catalogue import (
    CATALOGUE_CREATED,
    ModelInfo,
    base_model_id,
    image_size_limit,
)
from langchain_modelscope.testing._embeddings import embed, to_base64
from langchain_modelscope.testing._responder import count_tokens
from langchain_modelscope.testing._state import EmulatorState, Exchange, Task
from langchain_modelscope.testing._wire import Answer, json_answer

#: a 1x1 transparent PNG, served as every generated image
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


# --------------------------------------------------------------------------- embeddings


def _texts(raw_input: Any) -> list[str] | None:
    if isinstance(raw_input, str):
        return [raw_input]
    if isinstance(raw_input, list) and all(isinstance(t, str) for t in raw_input):
        return list(raw_input)
    return None


def _check_embedding_input(state: EmulatorState, ex: Exchange, info: ModelInfo) -> Answer | None:
    config = state.config
    body: dict[str, Any] = ex.body
    texts = _texts(body.get("input"))
    if texts is None:
        return state.bad_request(msg.CHOICE_BAD_INPUT, ex)
    if not texts or any(not t.strip() for t in texts):
        return state.bad_request(msg.CHOICE_EMPTY_INPUT, ex)
    batch = config.max_embedding_batch
    if batch is not None and len(texts) > batch:
        return state.bad_request(
            msg.CHOICE_BATCH_TOO_LARGE.format(count=len(texts), limit=batch), ex
        )
    for index, text in enumerate(texts):
        words = count_tokens(text)
        if words > config.max_embedding_words:
            limit = config.max_embedding_words
            return state.bad_request(
                msg.CHOICE_INPUT_TOO_LONG.format(index=index, words=words, limit=limit), ex
            )
    wanted = body.get("dimensions")
    if (
        config.honour_dimensions
        and wanted is not None
        and (
            not isinstance(wanted, int)
            or isinstance(wanted, bool)
            or not 1 <= wanted <= info.dimension
        )
    ):
        return state.bad_request(msg.CHOICE_BAD_DIMENSIONS.format(limit=info.dimension), ex)
    return None


def _embedding_checks(state: EmulatorState, ex: Exchange, info: ModelInfo) -> Answer | None:
    if not state.config.embeddings_enabled:
        return state.bad_request(msg.CHOICE_EMBEDDINGS_DISABLED, ex)
    if info.kind != "embedding":
        return state.bad_request(msg.CHOICE_NOT_EMBEDDING.format(model=ex.model), ex)
    encoding = ex.body.get("encoding_format")
    if encoding not in ("float", "base64"):
        shown = encoding if isinstance(encoding, str) else ""
        return state.bad_request(msg.SHEET_ENCODING_FORMAT.format(value=shown), ex)
    return _check_embedding_input(state, ex, info)


def embeddings(state: EmulatorState, ex: Exchange) -> Answer:
    """Answer one embeddings call."""
    admitted = admit_call(state, ex, _embedding_checks)
    if isinstance(admitted, Answer):
        return admitted
    body: dict[str, Any] = ex.body
    texts = _texts(body.get("input")) or []
    wanted = body.get("dimensions")
    dimension: int = admitted.info.dimension
    if state.config.honour_dimensions and isinstance(wanted, int):
        dimension = wanted
    base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        vector = embed(text, dimension)
        encoded: Any = to_base64(vector) if base64 else vector
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(max(count_tokens(t), 1) for t in texts)
    response = {
        "object": "list",
        "data": data,
        "model": state.echo_model(ex.model),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return json_answer(response, headers=success_headers(state, admitted.quota, False))


# --------------------------------------------------------------------------- images


_SEED_MAX = 2**31 - 1


def _image_checks(state: EmulatorState, ex: Exchange, info: ModelInfo) -> Answer | None:
    """§1: the async header, a prompt under 2,000 characters, a size and seed in range."""
    body: dict[str, Any] = ex.body
    if info.kind != "image":
        return state.bad_request(msg.CHOICE_NOT_IMAGE.format(model=ex.model), ex)
    if ex.header("x-modelscope-async-mode").lower() != "true":
        return state.bad_request(msg.CHOICE_ASYNC_REQUIRED, ex)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return state.bad_request(msg.CHOICE_NO_PROMPT, ex)
    if len(prompt) >= 2000:
        return state.bad_request(msg.CHOICE_PROMPT_TOO_LONG, ex)
    size = body.get("size")
    if size is not None:
        limit = image_size_limit(ex.model)
        parts = size.lower().split("x") if isinstance(size, str) else []
        sides = [int(p) for p in parts if p.isdigit()]
        if len(parts) != 2 or len(sides) != 2 or not all(64 <= s <= limit for s in sides):
            return state.bad_request(msg.CHOICE_BAD_SIZE.format(limit=limit), ex)
    seed = body.get("seed")
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= _SEED_MAX
    ):
        return state.bad_request(msg.CHOICE_BAD_SEED, ex)
    return None


def image_generation(state: EmulatorState, ex: Exchange) -> Answer:
    """Accept an image task: the first `SUCCEED` only means accepted (§1); one image is
    charged (`n` is ignored)."""
    admitted = admit_call(state, ex, _image_checks)
    if isinstance(admitted, Answer):
        return admitted
    body: dict[str, Any] = ex.body
    prompt: str = body["prompt"]
    seed = body.get("seed")
    task = Task(
        task_id=str(uuid.uuid4()),
        token=admitted.account.token,
        model=ex.model,
        prompt=prompt,
        created_at=state.clock.now(),
        fail=state.config.image_task_fail or msg.IMAGE_FAIL_TRIGGER.lower() in prompt.lower(),
        seed=seed if isinstance(seed, int) else _seed_for(prompt),
    )
    with state.lock:
        state.tasks[task.task_id] = task
    response = {"task_id": task.task_id, "request_id": ex.request_id, "task_status": "SUCCEED"}
    return json_answer(response, headers=success_headers(state, admitted.quota, False))


def _seed_for(prompt: str) -> int:
    """A stable seed when the request gave none."""
    return int.from_bytes(prompt.encode("utf-8")[:8].ljust(8, b"\0"), "little") % _SEED_MAX


def task(state: EmulatorState, ex: Exchange) -> Answer:
    """Answer one poll of an image task (errors in the plural envelope, as §1 shows)."""
    account = authenticate(state, ex)
    if isinstance(account, Answer):
        return account
    if ex.header("x-modelscope-task-type") != "image_generation":
        body = {"errors": dict(msg.SHEET_TASK_NOT_FOUND), "task_status": "FAILED"}
        return json_answer(body)
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
        if response["task_status"] == "PROCESSING":
            response["outputs"] = {}
    elif found.fail:
        response["task_status"] = "FAILED"
        response["errors"] = dict(msg.SHEET_TASK_FAILED)
    else:
        response["task_status"] = "SUCCEED"
        response["output_images"] = [f"{state.root_url}/_emulator/images/{task_id}.png"]
        response["seed"] = found.seed
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
    if info.retired_under(state.config.points):
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
