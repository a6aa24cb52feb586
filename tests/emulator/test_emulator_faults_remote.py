"""Faults, the admin endpoints through `EmulatorRemote`, and the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_modelscope.testing import (
    EmulatorConfig,
    EmulatorRemote,
    EmulatorRemoteError,
    Fault,
    ModelScopeEmulator,
    RecordedRequest,
    ScriptedReply,
    ScriptedToolCall,
)
from tests.emulator.plain_http import hello_body, one_off_post

MODEL = "Qwen/Qwen2.5-72B-Instruct"


def body(model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return hello_body(model, **extra)


def chat(client: httpx.Client, model: str = MODEL, **extra: Any) -> httpx.Response:
    return client.post("/chat/completions", json=body(model, **extra))


def read_stream(client: httpx.Client, **extra: Any) -> list[str]:
    with client.stream("POST", "/chat/completions", json=body(stream=True, **extra)) as r:
        return list(r.iter_lines())


# ----------------------------------------------------------------- faults


def test_server_errors(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.queue_fault(Fault.server_error(), times=2)
    emu.queue_fault(Fault.server_error(502, body="<html>bad gateway</html>"))
    emu.queue_fault(Fault.server_error(503, body={"errors": {"message": "busy"}}))
    first, second = chat(client), chat(client)
    assert first.status_code == second.status_code == 500
    assert first.json()["errors"]["request_id"] == first.headers["x-request-id"]
    gateway = chat(client)
    assert gateway.status_code == 502
    assert gateway.text == "<html>bad gateway</html>"
    assert gateway.headers["content-type"].startswith("text/plain")
    assert chat(client).json() == {"errors": {"message": "busy"}}
    assert chat(client).status_code == 200
    assert emu.usage(emu.token) == 1  # faults are not counted
    assert [r.fault for r in emu.requests] == ["status"] * 4 + [None]


def test_raw_status_bodies(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    verbatim = {
        "errors": {
            "message": "You have exceeded today's quota for model Qwen/Qwen3-32B,  please try "
            "again tomorrow",
            "request_id": "r-1",
        }
    }
    emu.queue_fault(Fault.status(429, verbatim))
    emu.queue_fault(Fault.status(429, None, headers={"Retry-After": "7"}))
    emu.queue_fault(Fault.status(401, '{"error": {"message": "x"}}', {"Content-Type": "a/b"}))
    quota = chat(client)
    assert quota.status_code == 429
    assert quota.json() == verbatim
    empty = chat(client)
    assert empty.status_code == 429
    assert empty.content == b""
    assert empty.headers["retry-after"] == "7"
    raw = chat(client)
    assert raw.status_code == 401
    assert raw.headers["content-type"] == "a/b"
    assert raw.json() == {"error": {"message": "x"}}


def test_fault_matching(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.queue_fault(Fault.server_error(503), model="ZhipuAI/GLM-4.6")
    emu.queue_fault(Fault.server_error(500), path="/v1/embeddings")
    assert chat(client).status_code == 200
    assert chat(client, "ZhipuAI/GLM-4.6:SomeProvider").status_code == 503
    assert chat(client, "ZhipuAI/GLM-4.6").status_code == 200
    embedding = client.post(
        "/embeddings",
        json={"model": "Qwen/Qwen3-Embedding-0.6B", "input": "x", "encoding_format": "float"},
    )
    assert embedding.status_code == 500
    with pytest.raises(ValueError, match="times"):
        emu.queue_fault(Fault.server_error(), times=0)
    # a fault answers before auth
    emu.queue_fault(Fault.server_error(503))
    with httpx.Client(base_url=emu.base_url, verify=False) as anonymous:
        assert chat(anonymous).status_code == 503


def test_connection_reset(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.queue_fault(Fault.connection_reset())
    with pytest.raises(httpx.TransportError):
        chat(client)
    assert chat(client).status_code == 200
    assert emu.requests[0].fault == "connection_reset"


def test_slow_first_byte(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.queue_fault(Fault.slow_first_byte(0.3))
    started = time.monotonic()
    assert chat(client).status_code == 200
    assert time.monotonic() - started >= 0.3
    emu.queue_fault(Fault.slow_first_byte(1.0))
    with pytest.raises(httpx.ReadTimeout):
        client.post("/chat/completions", json=body(), timeout=0.2)


def test_malformed_json(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.queue_fault(Fault.malformed_json())
    response = chat(client)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_stream_cut(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.queue_fault(Fault.stream_cut(after_chunks=2))
    assert chat(client).status_code == 200  # stream faults wait for a stream
    received: list[str] = []

    def consume() -> None:
        with client.stream("POST", "/chat/completions", json=body(stream=True)) as response:
            received.extend(response.iter_lines())

    with pytest.raises(httpx.RemoteProtocolError):
        consume()
    assert len([line for line in received if line.startswith("data: ")]) == 2
    assert "data: [DONE]" not in received
    assert "data: [DONE]" in read_stream(client)


def test_stream_error_event(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.queue_fault(Fault.stream_error_event("model overloaded", after_chunks=1))
    lines = [line for line in read_stream(client) if line.startswith("data: ")]
    assert len(lines) == 2
    error = json.loads(lines[-1][6:])
    assert error["error"]["message"] == "model overloaded"
    assert "data: [DONE]" not in lines
    emu.queue_fault(Fault.stream_error_event("at once"))
    lines = [line for line in read_stream(client) if line.startswith("data: ")]
    assert len(lines) == 1
    assert json.loads(lines[0][6:])["error"]["message"] == "at once"


# ----------------------------------------------------------------- remote control


def test_remote(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    remote = EmulatorRemote(emu.base_url)
    assert remote.root_url == EmulatorRemote(emu.root_url + "/").root_url
    assert remote.base_url == emu.base_url
    assert remote.token == emu.token
    remote.queue_reply(
        ScriptedReply(content="remote", tool_calls=[ScriptedToolCall("f", {"x": 1}, id="c1")]),
        model=MODEL,
    )
    message = chat(client).json()["choices"][0]["message"]
    assert message["content"] == "remote"
    assert message["tool_calls"][0]["id"] == "c1"
    remote.queue_fault(Fault.server_error(503), path="/chat/completions", times=1)
    remote.queue_fault(Fault.status(429, None, {"Retry-After": "1"}))
    assert chat(client).status_code == 503
    assert chat(client).headers["retry-after"] == "1"
    token = remote.add_account(state="valid", model_daily_limit=1)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/chat/completions", json=body(), headers=headers).status_code == 200
    assert client.post("/chat/completions", json=body(), headers=headers).status_code == 429
    remote.set_usage(token, MODEL, 0)
    assert client.post("/chat/completions", json=body(), headers=headers).status_code == 200
    moment = datetime(2025, 5, 5, 15, 59, tzinfo=timezone.utc)
    assert remote.set_clock(moment) == moment
    assert remote.set_clock(advance=timedelta(minutes=1)) == moment + timedelta(minutes=1)
    assert remote.now() == moment + timedelta(minutes=1)
    config = remote.configure(error_envelope="error", image_task_states=["PENDING"])
    assert isinstance(config, EmulatorConfig)
    assert emu.config.error_envelope == "error"
    assert emu.config.image_task_states == ("PENDING",)
    assert remote.config().error_envelope == "error"
    with pytest.raises(EmulatorRemoteError, match="no_such_switch"):
        remote.configure(no_such_switch=True)
    records = remote.requests(token=token)
    assert all(isinstance(r, RecordedRequest) for r in records)
    assert [r.status for r in records] == [200, 429, 200]
    assert records[0].headers["authorization"] == f"Bearer {token}"
    assert remote.max_in_flight(MODEL) == 1
    remote.add_model("acme/remote-chat")
    assert chat(client, "acme/remote-chat").status_code == 200
    remote.retire_model("acme/remote-chat")
    assert chat(client, "acme/remote-chat").status_code == 400
    remote.clear_log()
    assert remote.requests() == []
    remote.reset()
    assert emu.config.to_dict()["error_envelope"] is None
    assert emu.config.resolved_envelope == "errors"
    assert not emu.clock.frozen
    with pytest.raises(EmulatorRemoteError):
        remote._call("POST", "nope", {})


def test_admin_calls_are_not_logged(emu: ModelScopeEmulator) -> None:
    with httpx.Client(base_url=emu.root_url) as admin:
        assert admin.get("/_emulator/health").json()["ok"] is True
        assert admin.post("/_emulator/clock", content=b"[1]").status_code == 400
        assert admin.get("/_emulator/images/none.png").status_code == 404
        assert admin.get("/_emulator/usage", params={"token": emu.token}).json() == {"used": 0}
        assert admin.post("/_emulator/clock", json={"real": True}).status_code == 200
        assert admin.post("/_emulator/models/remove", json={"id": MODEL}).status_code == 200
    assert emu.requests == []


# ----------------------------------------------------------------- command line


def test_cli_ready_file_and_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready.txt"
    config = json.dumps({"account_daily_limit": 3, "error_envelope": "error"})
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "langchain_modelscope.testing",
            "--token",
            "ms-cli-token",
            "--config-json",
            config,
            "--ready-file",
            str(ready),
            "--regime",
            "daily",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not ready.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.05)
        base_url = ready.read_text().strip()
        assert base_url.startswith("http://127.0.0.1:")
        response = one_off_post(
            base_url + "/chat/completions",
            json=body(),
            headers={"Authorization": "Bearer ms-cli-token"},
        )
        assert response.status_code == 200
        assert response.headers["modelscope-ratelimit-requests-limit"] == "3"
        remote = EmulatorRemote(base_url)
        assert remote.token == "ms-cli-token"
        assert len(remote.requests()) == 1
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert out.strip() == f"MODELSCOPE_BASE_URL={base_url} MODELSCOPE_API_KEY=ms-cli-token"


def test_cli_sigint_and_bad_config(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [sys.executable, "-m", "langchain_modelscope.testing", "--ready-file", str(ready)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists()
        os.kill(process.pid, signal.SIGINT)
        process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    bad = subprocess.run(
        [sys.executable, "-m", "langchain_modelscope.testing", "--config-json", '{"nope": 1}'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "nope" in bad.stderr
