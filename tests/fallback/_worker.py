"""What each process of the multi-process tests runs: calls through its own fallback model.

Every process builds its own FallbackChatModel and its own ledger client (a SQLite connection
or a Redis client): the only thing the processes share is the store behind the ledger. The
emulator runs in the test process and is reached over loopback.
"""

from __future__ import annotations

from typing import Any

from langchain_modelscope.fallback import FallbackChatModel
from langchain_modelscope.quota import QuotaLedger, QuotaStore, RedisQuotaStore, SQLiteQuotaStore

#: Imported by the forkserver before it forks the workers, so each worker starts in ms.
PRELOAD = ["langchain_modelscope.chat_models", "langchain_modelscope.fallback", __name__]


def run_calls(spec: dict[str, Any], results: Any, go: Any = None) -> None:
    """Send ``spec["calls"]`` calls; put ``("ok", [served model, ...])`` or an error on ``results``.

    ``go``: an event to wait for before the first call (the model and ledger are built first).
    """
    try:
        store: QuotaStore
        if spec.get("sqlite"):
            store = SQLiteQuotaStore(spec["sqlite"])
        else:
            store = RedisQuotaStore(spec["redis"], prefix=spec["prefix"])
        model = FallbackChatModel.from_modelscope(
            spec["models"],
            tokens=spec["tokens"],
            base_url=spec["base_url"],
            max_retries=0,
            ledger=QuotaLedger(store),
            **spec.get("settings", {}),
        )
        if go is not None and not go.wait(timeout=30):
            raise TimeoutError("the go event never came")
        served = []
        for index in range(spec["calls"]):
            answer = model.invoke(f"process call {index}")
            served.append(
                answer.response_metadata["fallback"]["served_by"][spec.get("by", "model")]
            )
        results.put(("ok", served))
    except BaseException as error:  # reported to the test, which fails with it
        results.put(("error", repr(error)))


class Worker:
    """One process running :func:`_worker.run_calls`."""

    def __init__(self, ctx: Any, spec: dict[str, Any], go: Any = None) -> None:
        self.results = ctx.Queue()
        self.process = ctx.Process(target=run_calls, args=(spec, self.results, go))
        self.process.start()

    def served(self) -> list[str]:
        status, value = self.results.get(timeout=60)
        self.process.join(timeout=30)
        assert status == "ok", value
        assert self.process.exitcode == 0
        return list(value)
