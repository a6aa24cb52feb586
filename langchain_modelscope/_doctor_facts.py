"""The facts `doctor` checks: one entry per fact the package relies on, and what was seen.

Each expected value is read from the package's one home for that fact (the thinking 400 texts
from `_wording`, the header names from `_answers.RATELIMIT_HEADERS`, the default model from
`chat_models`, the balance fields from `_balance`), so a drift the doctor reports is a drift the
package would suffer, and a fact changed in the package changes what the doctor expects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from langchain_modelscope import _wording
from langchain_modelscope._answers import RATELIMIT_HEADERS
from langchain_modelscope._balance import BALANCE_FIELDS, BALANCE_PATH

#: ``as_expected``: seen as the package expects; ``different``: a drift; ``not_checked``: the
#: check did not run (the reason says why); ``info``: seen, and handled by the package, but
#: worth telling (the older daily regime, an unlisted profile id).
Status = Literal["as_expected", "different", "not_checked", "info"]

#: Points one call may cost: 0.5, 1 or 2 by the model's tier, which only the model's web page
#: shows (modelscope-api.md §2a). The package has no other use for the number, so it lives here.
MAX_POINTS_PER_CALL: Final = 2.0


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact the package is built on, and the section of the facts sheet it comes from."""

    id: str
    title: str
    section: str
    expected: str


@dataclass(frozen=True, slots=True)
class Finding:
    """What one check saw of one fact; ``observed`` is verbatim, shortened and redacted."""

    status: Status
    observed: str | None = None
    note: str | None = None


def _quoted(phrases: Iterable[str]) -> str:
    return " + ".join(repr(p) for p in phrases)


def default_model() -> str:
    """The chat model's default id (imported late: `chat_models` loads langchain-core)."""
    from langchain_modelscope.chat_models import DEFAULT_MODEL

    return DEFAULT_MODEL


def facts() -> tuple[Fact, ...]:
    """Every fact, in the order the report lists them."""
    headers = ", ".join(RATELIMIT_HEADERS.values())
    fields = ", ".join(BALANCE_FIELDS.values())
    return (
        Fact(
            "models_list",
            "GET /v1/models",
            "§1",
            "200 with an OpenAI model list ({object: list, data: [{id, ...}]}), with no token",
        ),
        Fact(
            "default_model",
            "the default chat model is served",
            "§5",
            f"{default_model()} is listed by /v1/models and answers",
        ),
        Fact(
            "profile_models",
            "the models of the package's profiles are listed",
            "§5",
            "listed (the list is curated: an unlisted id may still answer)",
        ),
        Fact(
            "token",
            "the token is accepted",
            "§1",
            "accepted by the free balance endpoint (/v1/models answers any token)",
        ),
        Fact(
            "balance",
            "the points balance endpoint",
            "§2a",
            f"GET {BALANCE_PATH} on the site: success: true, data with {fields}",
        ),
        Fact(
            "regime",
            "the quota regime",
            "§2",
            "points: a call lowers the balance and sends no rate-limit header "
            "(the daily-counter regime of §2b is handled too)",
        ),
        Fact(
            "ratelimit_headers",
            "rate-limit headers on a chat answer",
            "§2a, §2b",
            f"none in the points regime; in the daily-counter regime: {headers}",
        ),
        Fact(
            "served_model_name",
            "the model name in the answer",
            "§4",
            "the id asked for (a lower-cased echo was seen once; quotas use the id asked for)",
        ),
        Fact(
            "usage",
            "usage of a non-streamed answer",
            "§4",
            "usage with prompt_tokens, completion_tokens and total_tokens",
        ),
        Fact(
            "stream_usage",
            "usage of a streamed answer",
            "§4",
            "with stream_options.include_usage: a last chunk with choices: [] and the usage",
        ),
        Fact(
            "stream_delta_usage",
            "usage on streamed deltas",
            "§4",
            "a zero placeholder (or none) on deltas, never the answer's usage",
        ),
        Fact(
            "hybrid_thinking_400",
            "a hybrid thinking model called without streaming",
            "§3, §4",
            f"400 read as ThinkingModeError, with {_quoted(_wording.HYBRID_THINKING_PHRASES)}",
        ),
        Fact(
            "thinking_only_400",
            "a thinking-only model called without streaming",
            "§3, §4",
            f"400 read as ThinkingModeError, with {_quoted(_wording.THINKING_ONLY_PARTS)}",
        ),
        Fact(
            "json_schema",
            "response_format json_schema",
            "§3, §4",
            "200 with choices: null (the package raises EmptyResponseError)",
        ),
        Fact(
            "tool_call_deltas",
            "streamed tool-call deltas",
            "§4",
            "OpenAI tool_calls deltas that the package's stream reader assembles into calls "
            "with a name and JSON arguments",
        ),
    )


# --- redaction ------------------------------------------------------------------------------

_UUID: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
_HEX_ID: Final = re.compile(r"\b[0-9a-f]{32}\b", re.IGNORECASE)
#: the longest verbatim text a finding shows
MAX_OBSERVED: Final = 240


class Redactor:
    """Takes the token and request ids out of a text, and shortens it."""

    def __init__(self, token: str | None) -> None:
        self._token = token.strip() if token else None
        self._ids: set[str] = set()

    def request_id(self, value: object) -> None:
        """Remember a request id the service sent, to take it out of every later text."""
        if isinstance(value, str) and value.strip():
            self._ids.add(value.strip())

    def __call__(self, text: object) -> str:
        out = str(text)
        if self._token:
            out = out.replace(self._token, "<token>")
        for value in sorted(self._ids, key=len, reverse=True):
            out = out.replace(value, "<request-id>")
        out = _HEX_ID.sub("<id>", _UUID.sub("<id>", out))
        out = " ".join(out.split())
        return out if len(out) <= MAX_OBSERVED else out[: MAX_OBSERVED - 1] + "…"
