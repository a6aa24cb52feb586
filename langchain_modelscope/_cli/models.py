"""``models``: the live ``/v1/models`` list, with what the package knows of each model."""

from __future__ import annotations

import argparse
import re
from typing import Any, Final

import httpx

from langchain_modelscope._cli._common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Command,
    add_base_url,
    add_json_flag,
    cli_error,
    print_json,
    print_table,
    say,
)
from langchain_modelscope._client import (
    DEFAULT_TIMEOUT,
    USER_AGENT,
    resolve_api_key,
    resolve_base_url,
)
from langchain_modelscope._pools import shared_sync_client
from langchain_modelscope._profiles import is_retired, profile_for
from langchain_modelscope.errors import APIConnectionError, MissingAPIKeyError, error_from_response

_EMBEDDING: Final = re.compile(r"embedding|(^|/)bge-", re.IGNORECASE)
_IMAGE: Final = re.compile(
    r"flux|(^|[/-])(qwen-image|z-image|stable-diffusion|sd\w*)", re.IGNORECASE
)
COLUMNS: Final = (
    "id",
    "kind",
    "owned_by",
    "context",
    "output",
    "tools",
    "vision",
    "reasoning",
    "retired",
)


def _live(base_url: str) -> list[dict[str, Any]]:
    """``GET /v1/models``; it answers without a token, so one is sent only when set."""
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    try:
        secret, _ = resolve_api_key(None)
        headers["Authorization"] = f"Bearer {secret.get_secret_value()}"
    except MissingAPIKeyError:
        pass
    url = f"{base_url}/models"
    try:
        response = shared_sync_client(DEFAULT_TIMEOUT).get(url, headers=headers, timeout=30.0)
    except httpx.TransportError as exc:
        raise cli_error(
            APIConnectionError(f"could not reach {httpx.URL(url).host}: {exc!r}")
        ) from None
    if response.status_code >= 400:
        raise cli_error(error_from_response(response.status_code, response.content))
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        data = None
    if not isinstance(data, list):
        raise CliError(f"{url} did not answer an OpenAI model list: {response.text[:200]!r}")
    return [item for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]


def kind_of(model_id: str) -> str:
    """``chat``, ``embedding`` or ``image``, from the id (the list does not say)."""
    if _EMBEDDING.search(model_id):
        return "embedding"
    if _IMAGE.search(model_id):
        return "image"
    return "chat"


def describe(model_id: str, owned_by: Any = None) -> dict[str, Any]:
    """One row: the live id merged with the chat model's profile (chat models only)."""
    kind = kind_of(model_id)
    profile: dict[str, Any] = dict(profile_for(model_id)) if kind == "chat" else {}
    return {
        "id": model_id,
        "kind": kind,
        "owned_by": owned_by,
        "context": profile.get("max_input_tokens"),
        "output": profile.get("max_output_tokens"),
        "tools": bool(profile.get("tool_calling")),
        "vision": bool(profile.get("image_inputs")),
        "reasoning": bool(profile.get("reasoning_output")),
        "retired": is_retired(model_id),
    }


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    add_base_url(parser)
    add_json_flag(parser)


def _run(args: argparse.Namespace) -> int:
    try:
        base_url = resolve_base_url(args.base_url)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    rows = [describe(item["id"], item.get("owned_by")) for item in _live(base_url)]
    rows.sort(key=lambda row: row["id"].lower())
    if args.json:
        print_json({"base_url": base_url, "models": rows})
    else:
        print_table(rows, COLUMNS)
        say(f"\n{len(rows)} models served at {base_url}; ids churn, the list is curated.")
    return EXIT_OK


COMMAND = Command("models", "list the served models with their profiles", _add_arguments, _run)
