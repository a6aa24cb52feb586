"""``with_structured_output`` of a fallback: the same walk over structured candidates.

A separate runnable, not a chat model: each candidate's own ``with_structured_output`` is what
is walked, so every provider formats its schema its own way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_modelscope._fallback_callbacks import chain_candidate_config
from langchain_modelscope._fallback_candidates import Slot
from langchain_modelscope._fallback_step import message_ratelimit
from langchain_modelscope._fallback_trace import with_report
from langchain_modelscope._fallback_walk import Walk


def _raw_ratelimits(_: Slot, output: Any) -> tuple[Any]:
    raw = output.get("raw") if isinstance(output, Mapping) else None
    return (message_ratelimit(raw),)


class StructuredFallback(Runnable[LanguageModelInput, Any]):
    """``with_structured_output`` of a fallback: the same walk over structured candidates.

    Every candidate runs with ``include_raw=True`` so that its rate-limit headers are read and
    the report attached; the user's ``include_raw`` decides what is returned.
    """

    def __init__(
        self,
        *,
        walk: Callable[[Sequence[Slot]], Walk],
        slots: tuple[Slot, ...],
        include_raw: bool,
    ) -> None:
        #: the fallback's own walk factory (its ledger and rules), here over ``slots``
        self.walk = walk
        self.slots = slots
        self.include_raw = include_raw

    @property
    def InputType(self) -> Any:  # noqa: N802 - Runnable's API
        return LanguageModelInput

    def _finish(self, output: Any, walk: Walk, slot: Slot) -> Any:
        if not isinstance(output, Mapping) or "raw" not in output:
            return output
        raw = output.get("raw")
        if isinstance(raw, BaseMessage):
            with_report(raw, walk.trace.report(slot))
        if self.include_raw:
            return dict(output)
        error = output.get("parsing_error")
        if isinstance(error, BaseException):
            raise error
        return output.get("parsed")

    def _call(
        self,
        value: LanguageModelInput,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Any:
        def call(slot: Slot) -> Any:
            return slot.target.invoke(value, chain_candidate_config(config, run_manager, slot))

        walk = self.walk(self.slots)
        output, slot = walk.run(call, _raw_ratelimits)
        return self._finish(output, walk, slot)

    async def _acall(
        self,
        value: LanguageModelInput,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Any:
        def call(slot: Slot) -> Awaitable[Any]:
            return cast(
                Awaitable[Any],
                slot.target.ainvoke(value, chain_candidate_config(config, run_manager, slot)),
            )

        walk = self.walk(self.slots)
        output, slot = await walk.arun(call, _raw_ratelimits)
        return self._finish(output, walk, slot)

    def invoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        return self._call_with_config(self._call, input, config, run_type="chain")

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        return await self._acall_with_config(self._acall, input, config, run_type="chain")
