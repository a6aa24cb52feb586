"""What a candidate's run is told about callbacks: the tracers, nested under the fallback's run.

The fallback's own run reports every token, the usage and the end of the call; a candidate
that got the same handlers would report them again. So each candidate call (chat or
structured output) runs with the tracers only, tagged ``fallback:<index>``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForChainRun,
    AsyncCallbackManagerForLLMRun,
    BaseCallbackHandler,
    CallbackManager,
    CallbackManagerForChainRun,
)
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import patch_config
from langchain_core.tracers.base import AsyncBaseTracer, BaseTracer

from langchain_modelscope._fallback_candidates import Slot


def _is_streaming_handler(handler: Any) -> bool:
    """LangChain's streaming handlers (``astream_events``, an agent streaming "messages"),
    known by name: their classes are private."""
    names = {cls.__name__ for cls in type(handler).__mro__}
    return bool(names & {"_StreamingCallbackHandler", "_V2StreamingCallbackHandler"})


def candidate_config(run_manager: Any, index: int) -> RunnableConfig:
    """Config for one candidate call: traced under this run, but nothing else.

    The fallback's own run already reports every token, the usage and the end of the call;
    handing the candidates the same streaming or usage handlers would report them twice (an
    agent streaming "messages" would show each token twice). Tracers (LangSmith) do get the
    candidates, nested under this run, so a trace shows which candidate failed and why.
    ``callbacks=[]`` rather than None: None would let the caller's context config back in.
    A fresh dict per call, since ``invoke`` pops ``run_id`` from the config it is given.
    """
    if run_manager is None:
        return {"callbacks": []}
    tracers: list[BaseCallbackHandler] = [
        handler
        for handler in run_manager.inheritable_handlers
        if isinstance(handler, BaseTracer | AsyncBaseTracer) and not _is_streaming_handler(handler)
    ]
    if not tracers:
        return {"callbacks": []}
    manager_class = (
        AsyncCallbackManager
        if isinstance(run_manager, AsyncCallbackManagerForLLMRun)
        else CallbackManager
    )
    child = manager_class(
        handlers=tracers,
        inheritable_handlers=tracers,
        parent_run_id=run_manager.run_id,
        tags=[*run_manager.inheritable_tags, f"fallback:{index}"],
        inheritable_tags=list(run_manager.inheritable_tags),
        metadata=dict(run_manager.inheritable_metadata),
        inheritable_metadata=dict(run_manager.inheritable_metadata),
    )
    return {"callbacks": child}


def chain_candidate_config(
    config: RunnableConfig,
    run_manager: CallbackManagerForChainRun | AsyncCallbackManagerForChainRun,
    slot: Slot,
) -> RunnableConfig:
    """A structured candidate's config: nested under this chain run, tagged with its index."""
    return patch_config(config, callbacks=run_manager.get_child(f"fallback:{slot.info.index}"))
