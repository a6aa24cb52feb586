"""Issue 12.1: a distinctive token, looked for on every surface the package shows: zero hits.

Surfaces: log records at DEBUG (httpx, httpcore, the package); str, repr, ``__cause__``,
``__context__``, the formatted traceback and the pickle of every error kind (auth, quota,
connection reset, read timeout, cut stream, a 5xx echoing the token); repr, ``model_dump``,
``model_dump_json``, ``dumpd`` and pickle of the models; callback payloads and
``astream_events``; the fallback trace and its all-failed error; the SQLite file and the Redis
keys and values. Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps

from langchain_modelscope import FallbackChatModel
from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.embeddings import ModelScopeEmbeddings
from langchain_modelscope.errors import (
    AllCandidatesFailedError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    QuotaExceededError,
    ServerError,
    StreamInterruptedError,
)
from langchain_modelscope.images import ModelScopeImageGenerator
from langchain_modelscope.quota import QuotaLedger, RedisQuotaStore, SQLiteQuotaStore
from langchain_modelscope.testing import Fault, ModelScopeEmulator

TOKEN = "ms-5ec7e700-dead-4bee-8f00-5ecre7scan042"
MODEL = "Qwen/Qwen3-32B"
OTHER = "Qwen/Qwen3-235B-A22B-Instruct-2507"


class Scan:
    """Every text looked at, by surface; the hits."""

    def __init__(self) -> None:
        self.surfaces: dict[str, int] = {}
        self.hits: list[str] = []

    def look(self, surface: str, value: Any) -> None:
        text = value if isinstance(value, (str, bytes)) else repr(value)
        needle: Any = TOKEN.encode() if isinstance(text, bytes) else TOKEN
        self.surfaces[surface] = self.surfaces.get(surface, 0) + 1
        if needle in text:
            self.hits.append(surface)

    def error(self, kind: str, error: BaseException) -> None:
        self.look(f"error {kind}: str", str(error))
        self.look(f"error {kind}: repr", repr(error))
        self.look(f"error {kind}: traceback", "".join(traceback.format_exception(error)))
        self.look(f"error {kind}: pickle", pickle.dumps(error))
        link: BaseException | None = error
        while link is not None:
            for name in ("__cause__", "__context__"):
                chained = getattr(link, name)
                self.look(f"error {kind}: {name}", repr(chained))
                request = getattr(chained, "_request", None)
                if request is not None:
                    self.look(f"error {kind}: {name}.request.headers", dict(request.headers))
            link = link.__cause__ or link.__context__


class Recorder(BaseCallbackHandler):
    """Every callback's arguments."""

    def __init__(self) -> None:
        self.payloads: list[Any] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_"):
            payloads = object.__getattribute__(self, "payloads")
            return lambda *args, **kwargs: payloads.append((name, args, kwargs))
        return object.__getattribute__(self, name)


@pytest.fixture
def emu(modelscope_emulator: ModelScopeEmulator) -> ModelScopeEmulator:
    modelscope_emulator.add_account(TOKEN)
    return modelscope_emulator


def _chat(emu: ModelScopeEmulator, **kwargs: Any) -> ChatModelScope:
    settings: dict[str, Any] = {"api_key": TOKEN, "base_url": emu.base_url, "max_retries": 1}
    return ChatModelScope(model=MODEL, **{**settings, **kwargs})


async def _events(model: ChatModelScope, recorder: Recorder) -> list[Any]:
    async for _ in model.astream("hi", config={"callbacks": [recorder]}):
        pass
    return [event async for event in model.astream_events("hi", version="v2")]


def _raised(call: Any) -> BaseException:
    try:
        call()
    except Exception as error:
        return error
    raise AssertionError("no error")


def test_the_token_shows_nowhere(
    emu: ModelScopeEmulator,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    redis_url: str,
) -> None:
    scan = Scan()
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "langchain_modelscope"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    model = _chat(emu)

    # a good call first, so the model's core (with its Authorization header) is cached
    recorder = Recorder()
    answer = model.invoke("hi", config={"callbacks": [recorder]})
    scan.look("answer message", answer)
    scan.look("astream_events", asyncio.run(_events(model, recorder)))
    scan.look("callback payloads", recorder.payloads)

    # every error kind
    kinds: list[tuple[str, Fault | None, type[BaseException], dict[str, Any]]] = [
        ("quota", Fault.sheet("quota_daily"), QuotaExceededError, {}),
        ("connection reset", Fault.connection_reset(), APIConnectionError, {}),
        ("read timeout", Fault.slow_first_byte(2.0), APIConnectionError, {"timeout": 0.3}),
        ("5xx echoing the token", Fault.server_error(
            502, body=f"<html><title>debug</title>Authorization: Bearer {TOKEN}</html>"
        ), ServerError, {}),
        ("5xx json echoing the token", Fault.server_error(
            500, body={"error": {"message": f"bad header Bearer {TOKEN}", "token": TOKEN}}
        ), ServerError, {}),
    ]  # fmt: skip
    for kind, fault, expected, settings in kinds:
        emu.queue_fault(fault, times=1 if kind == "quota" else 2)  # the others are retried
        error = _raised(lambda settings=settings: _chat(emu, **settings).invoke("hi"))
        assert isinstance(error, expected), (kind, error)
        scan.error(kind, error)
    emu.queue_fault(Fault.stream_cut(1))
    error = _raised(lambda: list(_chat(emu).stream("hi")))
    assert isinstance(error, StreamInterruptedError)
    scan.error("cut stream", error)
    emu.queue_fault(Fault.stream_error_event(f"upstream saw {TOKEN}"))
    error = _raised(lambda: list(_chat(emu).stream("hi")))
    assert isinstance(error, APIError)
    scan.error("stream error event echoing the token", error)
    unbound = "ms-5ec7e700-dead-4bee-8f00-5ecre7unbnd1"
    emu.add_account(unbound, state="unbound")
    error = _raised(lambda: _chat(emu, api_key=unbound).invoke("hi"))
    assert isinstance(error, AuthenticationError)
    scan.error("auth", error)

    # the models themselves
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        owners = [
            model,
            ModelScopeEmbeddings(api_key=TOKEN, base_url=emu.base_url),
            ModelScopeImageGenerator(api_key=TOKEN, base_url=emu.base_url),
        ]
    for owner in owners:
        kind = type(owner).__name__
        scan.look(f"{kind} repr", repr(owner))
        scan.look(f"{kind} str", str(owner))
        scan.look(f"{kind} model_dump", owner.model_dump())
        scan.look(f"{kind} model_dump_json", owner.model_dump_json())
        scan.look(f"{kind} pickle", pickle.dumps(owner))
    scan.look("dumpd", dumpd(model))
    scan.look("dumps", dumps(model))

    # the fallback over a SQLite ledger, then over a Redis one
    stores = {
        "sqlite": SQLiteQuotaStore(tmp_path / "ledger.sqlite"),
        "redis": RedisQuotaStore(redis_url, prefix="hardening-scan:"),
    }
    for name, store in stores.items():
        fallback = FallbackChatModel.from_modelscope(
            [MODEL, OTHER], tokens=[TOKEN], base_url=emu.base_url, ledger=QuotaLedger(store)
        )
        emu.queue_fault(Fault.sheet("quota_daily"), model=MODEL)
        answer = fallback.invoke("hi")
        scan.look(f"fallback trace ({name})", answer.response_metadata)
        scan.look(f"fallback repr ({name})", repr(fallback))
        emu.queue_fault(Fault.sheet("insufficient_quota"), model=OTHER)
        error = _raised(lambda fallback=fallback: fallback.invoke("hi"))
        assert isinstance(error, AllCandidatesFailedError), error
        scan.error(f"all candidates failed ({name})", error)
    for path in tmp_path.iterdir():
        scan.look(f"sqlite file {path.name}", path.read_bytes())
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = client.keys("hardening-scan:*")
    assert keys
    for key in keys:
        scan.look("redis key", key)
        kind = client.type(key)
        value = client.hgetall(key) if kind == b"hash" else client.get(key)
        scan.look("redis value", repr(value))

    # every log record, last: all of the above logged at DEBUG
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    for record in caplog.records:
        scan.look(f"log {record.name.split('.')[0]}", record.getMessage())
        if record.exc_info:
            scan.look("log traceback", "".join(traceback.format_exception(*record.exc_info)))

    texts = sum(scan.surfaces.values())
    print(f"\nsecrecy scan: {len(scan.surfaces)} surfaces, {texts} texts scanned, "
          f"{len(scan.hits)} hits {sorted(set(scan.hits))}")  # fmt: skip
    assert scan.hits == []
