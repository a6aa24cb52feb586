"""What the VCR tests, their conftest and their scripts share.

One place says where cassettes live, which base URL and placeholder token replay uses, how a
request or response is scrubbed before it is written (and before it is matched: vcrpy runs the
same hook on live requests), and how each cassette states where it came from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal

from vcr.request import Request
from vcr.serializers import yamlserializer

from langchain_modelscope._client import API_KEY_ENV_VARS, DEFAULT_BASE_URL
from langchain_modelscope.testing import DEFAULT_TOKEN

VCR_DIR: Final = Path(__file__).resolve().parent
CASSETTES: Final = VCR_DIR / "cassettes"
#: Hand-built cassettes (facts-sheet bodies); the standard suite's live directly in CASSETTES.
VERBATIM: Final = CASSETTES / "verbatim"

#: Every cassette names the real service, however it was made, so replay and live agree.
REAL_BASE_URL: Final = DEFAULT_BASE_URL
REAL_HOST: Final = REAL_BASE_URL.split("/")[2]
#: The token models are built with on replay: not a secret, and never written to a cassette.
PLACEHOLDER_TOKEN: Final = "vcr-replay-placeholder"
#: Set to "emulator" by ``record_from_emulator.py`` so a recording run talks to the emulator.
SOURCE_ENV_VAR: Final = "LANGCHAIN_MODELSCOPE_VCR_SOURCE"

Source = Literal["replay", "live", "emulator"]
Provenance = Literal["live", "emulator", "facts-sheet"]

_UUID: Final = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
#: ``ms-`` tokens (the current format).
MS_TOKEN_RE: Final = re.compile(rf"(?<![0-9A-Za-z])ms-{_UUID}(?![0-9A-Za-z])")
#: Bare UUIDs: the older token format, and indistinguishable from one.
UUID_RE: Final = re.compile(rf"(?<![0-9A-Za-z]){_UUID}(?![0-9A-Za-z])")
#: ``Bearer <credential>`` wherever it shows (a header echoed into a body, an error message).
BEARER_RE: Final = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
#: Other services' secret formats: not ModelScope's, but nothing like them belongs in a cassette.
OTHER_SECRET_RES: Final = (
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style keys
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)

#: Replaces a token, a Bearer credential or a known secret.
REDACTED: Final = "REDACTED"
#: Replaces a bare UUID: a constant, so requests carrying random ids still match on replay.
REDACTED_UUID: Final = "REDACTED-UUID"
#: A loopback emulator's ``/v1`` base, rewritten to the real one when recording from it.
_LOOPBACK_BASE: Final = re.compile(r"^http://(?:127\.0\.0\.1|localhost|\[::1\]):\d+/v1(?=[/?#]|$)")
_LOOPBACK_HOST: Final = re.compile(r"^(?:127\.0\.0\.1|localhost|\[::1\]):\d+$")

#: Request headers that carry credentials: removed outright (not replaced by a placeholder).
SENSITIVE_REQUEST_HEADERS: Final = (
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
)
#: Response headers that carry or set credentials.
SENSITIVE_RESPONSE_HEADERS: Final = (
    "set-cookie",
    "set-cookie2",
    "cookie",
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
)
#: Which ``--record-mode`` values may reach a server (pytest-recording's "none" never does).
RECORDING_MODES: Final = frozenset({"once", "new_episodes", "all", "rewrite"})


def environment_tokens() -> tuple[str, ...]:
    """Tokens set in this process's environment (present only when recording live)."""
    return tuple(v for v in (os.environ.get(n, "").strip() for n in API_KEY_ENV_VARS) if v)


def known_secrets() -> tuple[str, ...]:
    """Literal values to scrub wherever they appear: the emulator's token and any real one."""
    return tuple(dict.fromkeys((DEFAULT_TOKEN, *environment_tokens())))


def source_for(record_mode: str | None) -> Source:
    """Replay unless a recording mode was asked for; then the emulator if the script said so."""
    if record_mode not in RECORDING_MODES:
        return "replay"
    return "emulator" if os.environ.get(SOURCE_ENV_VAR) == "emulator" else "live"


@dataclass(frozen=True)
class Scrubber:
    """vcrpy's ``before_record_request`` / ``before_record_response`` hooks.

    Deterministic and idempotent: vcrpy applies the request hook to stored requests when a
    cassette loads and to every live request before matching, so both sides are compared in
    their scrubbed form. Bare UUIDs are scrubbed from requests only; in response bodies they
    are ids the client sends back (tool calls), and collapsing them would merge parallel calls.
    """

    secrets: tuple[str, ...] = ()
    map_loopback: bool = False

    def text(self, text: str, *, uuids: bool) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        text = BEARER_RE.sub(REDACTED, text)
        text = MS_TOKEN_RE.sub(REDACTED, text)
        if uuids:
            text = UUID_RE.sub(REDACTED_UUID, text)
        return text

    def _bytes(self, data: Any, *, uuids: bool) -> Any:
        if isinstance(data, str):
            return self.text(data, uuids=uuids)
        if isinstance(data, bytes):
            try:
                decoded = data.decode("utf-8")
            except UnicodeDecodeError:
                return data  # binary: no text token can hide in it
            return self.text(decoded, uuids=uuids).encode("utf-8")
        return data

    def request(self, request: Request) -> Request:
        uri = request.uri
        if self.map_loopback:
            uri = _LOOPBACK_BASE.sub(REAL_BASE_URL, uri)
        request.uri = self.text(uri, uuids=True)
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            if name.lower() in SENSITIVE_REQUEST_HEADERS:
                continue
            if self.map_loopback and name.lower() == "host" and _LOOPBACK_HOST.match(value):
                value = REAL_HOST
            headers[name] = self.text(str(value), uuids=True)
        request.headers = headers
        request.body = self._bytes(request.body, uuids=True)
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        headers: Mapping[str, Iterable[str]] = response.get("headers") or {}
        response["headers"] = {
            name: [self.text(str(v), uuids=True) for v in values]
            for name, values in headers.items()
            if name.lower() not in SENSITIVE_RESPONSE_HEADERS
        }
        body = response.get("body")
        if isinstance(body, dict) and "string" in body:
            body["string"] = self._bytes(body["string"], uuids=False)
        return response


@dataclass(frozen=True)
class Upstream:
    """Where models built in a VCR test send their requests, as ChatModelScope arguments."""

    source: Source
    params: dict[str, Any] = field(default_factory=dict)


def replay_params() -> dict[str, Any]:
    """Replay: the real base URL (what cassettes hold) and a placeholder token."""
    return {"api_key": PLACEHOLDER_TOKEN, "base_url": REAL_BASE_URL}


# --- provenance -----------------------------------------------------------------------------

PROVENANCE_RE: Final = re.compile(r"\A# source: (live|emulator|facts-sheet)\n")


def provenance_header(provenance: Provenance, note: str | None = None) -> str:
    """The comment every cassette starts with; vcrpy's YAML loader ignores it."""
    if provenance == "live":
        lines = [
            f"Recorded from the live service ({REAL_BASE_URL}) by `make record` on "
            f"{date.today().isoformat()}.",
        ]
    elif provenance == "emulator":
        lines = [
            "Recorded from the offline emulator (langchain_modelscope.testing), NOT the live",
            "service, by `python -m tests.vcr.record_from_emulator`; its loopback URL was",
            f"rewritten to {REAL_BASE_URL}. `make record` with MODELSCOPE_API_KEY set",
            "re-records it against the live service.",
        ]
    else:
        lines = [
            "Hand-built by `python -m tests.vcr.build_verbatim_cassettes` from the verbatim",
            "bodies of ../shared/modelscope-api.md section 3 (tests/support/modelscope_facts.py).",
            "Not recorded, and never re-recorded: rebuild it with that script.",
        ]
    if note:
        lines.append(note)
    return f"# source: {provenance}\n" + "".join(f"# {line}\n" for line in lines)


class ProvenanceSerializer:
    """vcrpy's own YAML serializer, with the provenance comment on top."""

    def __init__(self, provenance: Provenance, note: str | None = None) -> None:
        self.provenance: Provenance = provenance
        self.note = note

    def serialize(self, cassette_dict: dict[str, Any]) -> str:
        header = provenance_header(self.provenance, self.note)
        return header + str(yamlserializer.serialize(cassette_dict))

    @staticmethod
    def deserialize(cassette_string: str) -> Any:
        return yamlserializer.deserialize(cassette_string)
