"""A TCP server on 127.0.0.1 that accepts every connection and never answers.

It stands in for a sick Redis (or any store behind a socket): connecting works, every read
waits forever. Shared by the quota tests and ``bench/bench_ledger.py``.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class HangingServer:
    """Accepts connections and reads from them forever; ``url`` is a redis:// URL to it."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0
        self._open: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="hanging-server", daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(connection)
            threading.Thread(target=self._swallow, args=(connection,), daemon=True).start()

    @staticmethod
    def _swallow(connection: socket.socket) -> None:
        try:
            while connection.recv(65536):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for connection in self._open:
            connection.close()

    def __enter__(self) -> HangingServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
