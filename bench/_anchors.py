"""The anchors of the quota benchmarks: what a user has without this package's ledger.

* ``with_fallbacks`` over ``ChatOpenAI`` candidates, the openai SDK's retries included (2 by
  default, on every 429). Retry sleeps, the SDK's and this package's own, are *recorded, not
  slept* (:func:`recorded_backoff`): they change how long a run takes, never how many requests
  reach the service, and sleeping them would turn a minute's benchmark into a quarter of an
  hour.
* :class:`CooldownRouter`, a small faithful model of LiteLLM's ``Router`` for one model group
  whose deployments are tried in their ``order``: a deployment that answers 429 is cooled down
  at once for ``cooldown_time`` (LiteLLM's ``DEFAULT_COOLDOWN_TIME_SECONDS`` = 5), as are 401
  and 404 (``_is_cooldown_required`` / ``_should_cooldown_deployment`` in
  ``litellm/router_utils/cooldown_handlers.py``: a 429 cools down a deployment of a group with
  alternatives immediately; other 4xx never). The router calls providers with ``max_retries=0``
  (it is the only retry loop). Cooldowns live in the router's in-memory cache, so each process
  has its own unless a Redis cache is configured (not modelled: it would divide the requests of
  the multi-process rows by the number of processes, and change nothing else). What LiteLLM
  does with 5xx (a per-minute failure rate) is not modelled: these runs never send one.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Final

#: LiteLLM's ``DEFAULT_COOLDOWN_TIME_SECONDS``.
LITELLM_COOLDOWN: Final = 5.0
#: Statuses after which LiteLLM cools a deployment down at once (one with alternatives).
_COOLDOWN_STATUSES: Final = frozenset({401, 404, 429})


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


class CooldownRouter:
    """LiteLLM-style cooldowns over ordered deployments (see the module docstring).

    ``clock`` is seconds (``time.monotonic`` by default); the throttle benchmark passes the
    emulator's clock so a 5 s cooldown is 5 s of the hour it simulates.
    """

    def __init__(
        self,
        deployments: Sequence[Any],
        *,
        cooldown_time: float = LITELLM_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._deployments = list(deployments)
        self._cooldown_time = cooldown_time
        self._clock = clock
        self._cooled_until = [-math.inf] * len(self._deployments)
        self.cooldowns = 0

    def invoke(self, prompt: Any) -> Any:
        """The first deployment not cooling down that answers; raises the last failure."""
        failure: BaseException | None = None
        for index, model in enumerate(self._deployments):
            if self._cooled_until[index] > self._clock():
                continue
            try:
                return model.invoke(prompt)
            except Exception as exc:  # what LiteLLM catches: any provider failure
                failure = exc
                if _status(exc) in _COOLDOWN_STATUSES:
                    self._cooled_until[index] = self._clock() + self._cooldown_time
                    self.cooldowns += 1
        if failure is None:
            raise RuntimeError("no deployment available: every one is cooling down")
        raise failure


@dataclass
class Backoff:
    """Retry sleeps asked for over a block: how many, and how long they would have been."""

    retries: int = 0
    seconds: float = 0.0

    def note(self, who: str) -> str:
        return (
            f"{who}: {self.retries} retry sleeps ({self.seconds:.0f} s in all) were recorded, "
            "not slept: they change how long the run takes, not how many requests it sends."
        )


@contextlib.contextmanager
def recorded_backoff() -> Iterator[Backoff]:
    """Record the retry sleeps of the openai SDK (sync client) and of tenacity (which this
    package's sync retries use) instead of sleeping them."""
    import tenacity.nap
    from openai._base_client import SyncAPIClient

    backoff = Backoff()

    def nap(seconds: float) -> None:
        backoff.retries += 1
        backoff.seconds += seconds

    def openai_sleep(
        self: Any, *, retries_taken: int, max_retries: int, options: Any, response: Any
    ) -> None:
        headers = response.headers if response is not None else None
        nap(self._calculate_retry_timeout(max_retries - retries_taken, options, headers))

    # tenacity's default sleep is ``tenacity.nap.sleep``, which calls ``time.sleep`` through
    # its module's ``time``: replacing that name stops tenacity's naps and nothing else.
    naps: Any = tenacity.nap
    original_sleep = SyncAPIClient._sleep_for_retry
    original_time = naps.time
    SyncAPIClient._sleep_for_retry = openai_sleep  # type: ignore[method-assign]
    naps.time = SimpleNamespace(sleep=nap)
    try:
        yield backoff
    finally:
        SyncAPIClient._sleep_for_retry = original_sleep  # type: ignore[method-assign]
        naps.time = original_time
