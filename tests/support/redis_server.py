"""A real, throwaway ``redis-server`` for tests.

Tests of the Redis quota store run against the real server rather than a fake, so that the Lua
script, key expiry and two-connection behaviour are what production sees. Each session starts
its own server on a free loopback port, with persistence off, in a temporary directory, and
stops it afterwards; a system Redis service, if any, is never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = [
    "RedisServerUnavailableError",
    "redis_package_or_skip",
    "redis_server",
    "redis_server_binary_or_skip",
]


class RedisServerUnavailableError(RuntimeError):
    """The ``redis-server`` binary is missing or would not start."""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def redis_server_binary_or_skip() -> str:
    """The path of ``redis-server``; skips the test without it, or fails it on CI."""
    binary = shutil.which("redis-server")
    if binary is not None:
        return binary
    if _in_ci():
        pytest.fail(
            "redis-server is not installed, but CI is set: .ci/run must install redis-server "
            "(e.g. apt-get install -y redis-server) so that the Redis quota store is tested",
            pytrace=False,
        )
    pytest.skip("redis-server is not installed: apt-get install redis-server to run these tests")


def redis_package_or_skip() -> None:
    """Skips the test without the ``redis`` package, or fails it on CI."""
    try:
        import redis  # noqa: F401
    except ImportError:
        message = 'the redis package is missing: pip install "langchain-modelscope-api[redis]"'
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def redis_server(
    binary: str | None = None, *, startup_timeout: float = 10.0, attempts: int = 3
) -> Iterator[str]:
    """Run ``redis-server`` on a free 127.0.0.1 port; yield its URL; stop it on exit.

    The port is picked by binding to port 0 and released before the server binds it, so another
    process can take it in between: a server that dies at start-up is retried on a new port.
    """
    binary = binary or shutil.which("redis-server")
    if binary is None:
        raise RedisServerUnavailableError(
            "redis-server is not installed (apt-get install redis-server)"
        )
    with tempfile.TemporaryDirectory(prefix="lcms-redis-") as workdir:
        log_path = Path(workdir) / "redis.log"
        for _ in range(attempts):
            port = _free_port()
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    [
                        binary,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        workdir,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                )
            try:
                deadline = time.monotonic() + startup_timeout
                while process.poll() is None and time.monotonic() < deadline:
                    if _answers_ping(port):
                        break
                    time.sleep(0.02)
                else:
                    continue  # died (port taken?) or never answered: try another port
                yield f"redis://127.0.0.1:{port}/0"
                return
            finally:
                _stop(process)
        output = log_path.read_text(errors="replace")[-2000:]
        raise RedisServerUnavailableError(
            f"redis-server did not start after {attempts} attempts; its output:\n{output}"
        )
