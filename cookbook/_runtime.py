"""What every cookbook script shares: where to send calls, and which model ids to use.

`setup()` decides once per process. With a ModelScope token in the environment the scripts talk
to the real service; without one they start the package's offline emulator
(`langchain_modelscope.testing.ModelScopeEmulator`) in the background, so every script runs on
a fresh clone with no account. A one-line banner says which it is. The emulator plays the
service as it is now (the points regime, modelscope-api.md §2a) unless a script asks for the
older daily counters (`setup(regime="daily")`, as 07 does to show a reset).

`choose_target(env)` is the decision alone: a pure function of the environment, so a test can
check it without starting anything or calling the service.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from langchain_modelscope._client import API_KEY_ENV_VARS, BASE_URL_ENV_VAR, DEFAULT_BASE_URL

if TYPE_CHECKING:
    from langchain_modelscope.testing import EmulatorRemote, ModelScopeEmulator

#: The emulator's regimes: "points" (the service since 2026-08) or "daily" (2025 to mid-2026).
Regime = Literal["points", "daily"]

# Model ids of ModelScope API-Inference, all seen served in late 2026. They churn: models are
# added and retired without notice (a retired id answers 400 "Model id ... has no provider
# supported" or 429 "insufficient balance (1008)"). If one of these is gone, pick a current id
# on https://modelscope.cn (filter: API-Inference) and set the environment variable next to
# it; nothing in the scripts depends on a particular id. The emulator serves all of them.
CHAT_MODEL = os.environ.get("COOKBOOK_CHAT_MODEL", "Qwen/Qwen3-235B-A22B-Instruct-2507")
SECOND_MODEL = os.environ.get("COOKBOOK_SECOND_MODEL", "deepseek-ai/DeepSeek-V4-Flash")
THINKING_MODEL = os.environ.get("COOKBOOK_THINKING_MODEL", "Qwen/Qwen3-235B-A22B-Thinking-2507")
#: a Qwen3 hybrid: thinks unless enable_thinking=False
HYBRID_MODEL = os.environ.get("COOKBOOK_HYBRID_MODEL", "Qwen/Qwen3-32B")
EMBEDDING_MODEL = os.environ.get("COOKBOOK_EMBEDDING_MODEL", "Qwen/Qwen3-Embedding-8B")

#: Set to 1 to use the emulator even when a token is set (no quota spent).
FORCE_EMULATOR_ENV_VAR = "COOKBOOK_OFFLINE"
#: An optional second ModelScope token (another account) for the fallback examples.
BACKUP_TOKEN_ENV_VAR = "MODELSCOPE_BACKUP_API_KEY"

BANNER_PREFIX = "[cookbook]"


@dataclass(frozen=True)
class Target:
    """Where the scripts will send their calls, decided from the environment alone."""

    offline: bool
    #: the real service's base URL; None offline (the emulator's port is only known once started)
    base_url: str | None
    #: name of the env var the token came from (never the token); None offline
    token_source: str | None
    #: why the emulator is used, for the banner; None online
    reason: str | None = None


def choose_target(env: Mapping[str, str] | None = None) -> Target:
    """The real service when a token is set, else the emulator. Starts nothing, calls nothing.

    Follows `langchain_modelscope._client.resolve_api_key`: the four token variables in the
    same order (MODELSCOPE_API_KEY, MODELSCOPE_SDK_TOKEN, MODELSCOPE_API_TOKEN,
    MODELSCOPE_ACCESS_TOKEN), blank values skipped; the base URL from MODELSCOPE_BASE_URL, else
    the public endpoint.
    """
    env = os.environ if env is None else env
    if env.get(FORCE_EMULATOR_ENV_VAR, "").strip() not in ("", "0"):
        return Target(True, None, None, f"{FORCE_EMULATOR_ENV_VAR} is set")
    for name in API_KEY_ENV_VARS:
        if env.get(name, "").strip():
            base_url = (env.get(BASE_URL_ENV_VAR) or DEFAULT_BASE_URL).strip().rstrip("/")
            return Target(False, base_url, name)
    return Target(True, None, None, "no ModelScope token found")


@dataclass(frozen=True)
class Runtime:
    """What the scripts need: the endpoint and token to use, and the emulator when offline."""

    offline: bool
    base_url: str
    api_key: SecretStr
    #: the env var the token came from, or "emulator"
    token_source: str
    #: the emulator this script started (None online, or when MODELSCOPE_BASE_URL points to one)
    emulator: ModelScopeEmulator | None
    #: an emulator started elsewhere (`python -m langchain_modelscope.testing`) that the
    #: exported MODELSCOPE_BASE_URL points to; steered through its admin API
    remote: EmulatorRemote | None = None

    @property
    def steerable(self) -> ModelScopeEmulator | EmulatorRemote | None:
        """The emulator to steer (spend quotas, add accounts), wherever it runs."""
        return self.emulator if self.emulator is not None else self.remote

    @property
    def connection(self) -> dict[str, Any]:
        """Keyword arguments for ChatModelScope / ModelScopeEmbeddings.

        In your own code, with MODELSCOPE_API_KEY set, you leave both out:
        ``ChatModelScope(model=...)`` reads the token and uses the public endpoint.
        """
        return {"base_url": self.base_url, "api_key": self.api_key}


_runtime: Runtime | None = None


def setup(regime: Regime = "points") -> Runtime:
    """Decide the target (once per process), print the banner, start the emulator if needed.

    ``regime`` is the one a started emulator plays; the real service is what it is.
    """
    global _runtime
    if _runtime is not None:
        return _runtime
    target = choose_target()
    if target.base_url is not None and target.token_source is not None:
        token = SecretStr(os.environ[target.token_source].strip())
        remote = running_emulator(target.base_url)
        _runtime = Runtime(
            remote is not None, target.base_url, token, target.token_source, None, remote
        )
        if remote is not None:  # the variables the emulator's CLI prints were exported
            banner = (
                f"the local ModelScope emulator at {target.base_url} ({BASE_URL_ENV_VAR} "
                f"points to it; token from {target.token_source})"
            )
        else:
            banner = f"ModelScope (token from {target.token_source}) at {target.base_url}"
    else:
        # Imported here: online runs never load the emulator.
        from langchain_modelscope.testing import ModelScopeEmulator

        emulator = ModelScopeEmulator(regime=regime).start()
        atexit.register(emulator.stop)
        token = SecretStr(emulator.token)
        _runtime = Runtime(True, emulator.base_url, token, "emulator", emulator)
        banner = (
            f"the local ModelScope emulator at {emulator.base_url} ({target.reason}); "
            f"export MODELSCOPE_API_KEY=ms-... to use the real service"
        )
    print(f"{BANNER_PREFIX} target: {banner}", flush=True)
    return _runtime


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def running_emulator(base_url: str) -> EmulatorRemote | None:
    """The emulator serving `base_url`, if one does: only loopback URLs are asked (its free
    admin health check), so the real service never gets an extra request."""
    if urlsplit(base_url).hostname not in _LOOPBACK:
        return None
    from langchain_modelscope.testing import EmulatorRemote, EmulatorRemoteError

    remote = EmulatorRemote(base_url, timeout=2.0)
    try:
        remote.health()
    except (EmulatorRemoteError, OSError, ValueError):  # not an emulator, or not up
        return None
    return remote


def backup_token(rt: Runtime) -> SecretStr | None:
    """A second account's token for the fallback examples.

    Offline, a new account on the emulator; online, MODELSCOPE_BACKUP_API_KEY if set.
    """
    if rt.steerable is not None:
        return SecretStr(rt.steerable.add_account())
    value = os.environ.get(BACKUP_TOKEN_ENV_VAR, "").strip()
    return SecretStr(value) if value else None


def show_fallback_logs() -> None:
    """FallbackChatModel logs one WARNING per switch: print those in the script's output."""
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="  log: %(message)s")


def section(title: str) -> None:
    """A visible heading in a script's output."""
    print(f"\n== {title}", flush=True)


def one_line(text: object, limit: int = 300) -> str:
    """Text on one line, shortened: answers can be long and span lines."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def final(text: object) -> None:
    """The script's last line, which the cookbook tests check."""
    print(f"FINAL: {one_line(text, 1000)}", flush=True)
    sys.stdout.flush()
