"""Cassettes are committed: none may carry a credential, and each must load and name its source.

Scans every cassette under ``tests/vcr/cassettes`` (recorded and hand-built) and checks the
scrubbing hooks themselves, so a cassette recorded live by `make record` is held to the same
rule before it is committed. Failure messages name what was found, never the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.testing import DEFAULT_TOKEN
from tests.vcr import test_chat_vcr as chat_suite  # a module, so its classes are not re-collected
from tests.vcr.vcr_support import (
    BEARER_RE,
    CASSETTES,
    MS_TOKEN_RE,
    OTHER_SECRET_RES,
    PLACEHOLDER_TOKEN,
    PROVENANCE_RE,
    REAL_BASE_URL,
    REDACTED,
    REDACTED_UUID,
    SENSITIVE_REQUEST_HEADERS,
    SENSITIVE_RESPONSE_HEADERS,
    UUID_RE,
    VERBATIM,
    Scrubber,
    environment_tokens,
    replay_params,
)

#: Read at import, before the root conftest clears the environment: after `make record`, the
#: real token is known here and looked for literally.
_ENV_TOKENS = environment_tokens()
CASSETTE_FILES = sorted(CASSETTES.rglob("*.yaml"))


def _id(path: Path) -> str:
    return str(path.relative_to(CASSETTES))


def _token_like(value: str) -> list[str]:
    found = []
    if MS_TOKEN_RE.search(value):
        found.append("an ms-<uuid> token")
    if BEARER_RE.search(value):
        found.append("a Bearer credential")
    if UUID_RE.search(value):
        found.append("a bare UUID (the older token format)")
    return found


def problems_in(text: str, requests: list[Request], responses: list[dict[str, Any]]) -> list[str]:
    """Everything credential-like in one cassette, described without its value."""
    problems: list[str] = []
    literals = {
        "the emulator's token": DEFAULT_TOKEN,
        "the replay placeholder token (an Authorization header leaked)": PLACEHOLDER_TOKEN,
        **{f"the token from the environment (#{i + 1})": t for i, t in enumerate(_ENV_TOKENS)},
    }
    problems += [f"contains {name}" for name, value in literals.items() if value in text]
    if MS_TOKEN_RE.search(text):
        problems.append("contains an ms-<uuid> token")
    if BEARER_RE.search(text):
        problems.append("contains a Bearer credential")
    problems += [f"matches {p.pattern!r}" for p in OTHER_SECRET_RES if p.search(text)]
    for index, request in enumerate(requests):
        where = f"request {index}"
        for name, value in request.headers.items():
            if name.lower() in SENSITIVE_REQUEST_HEADERS:
                problems.append(f"{where} has a {name!r} header")
            problems += [f"{where} header {name!r} holds {t}" for t in _token_like(str(value))]
        problems += [f"{where} URI holds {t}" for t in _token_like(request.uri)]
        if not request.uri.startswith(REAL_BASE_URL + "/"):
            problems.append(f"{where} URI is not under {REAL_BASE_URL}")
        body = request.body.decode("utf-8", "replace") if request.body else ""
        problems += [f"{where} body holds {t}" for t in _token_like(body)]
    for index, response in enumerate(responses):
        for name, values in (response.get("headers") or {}).items():
            if name.lower() in SENSITIVE_RESPONSE_HEADERS:
                problems.append(f"response {index} has a {name!r} header")
            for value in values:
                problems += [
                    f"response {index} header {name!r} holds {t}" for t in _token_like(value)
                ]
    return problems


def test_there_are_cassettes_of_both_kinds() -> None:
    assert any(path.parent == CASSETTES for path in CASSETTE_FILES), "no standard-suite cassette"
    assert any(path.parent == VERBATIM for path in CASSETTE_FILES), "no hand-built cassette"
    others = {p.name for p in CASSETTES.rglob("*") if p.is_file() and p.suffix != ".yaml"}
    assert others <= {"README.md"}, f"unexpected files among the cassettes: {sorted(others)}"


def test_every_standard_cassette_belongs_to_a_test() -> None:
    """A cassette whose test was renamed or removed would linger unnoticed (rewrite deletes
    only the cassettes of tests that run)."""
    orphans = []
    for path in CASSETTE_FILES:
        if path.parent != CASSETTES:
            continue
        class_name, _, test = path.stem.partition(".")
        test_class = getattr(chat_suite, class_name, None)
        if test_class is None or not hasattr(test_class, test.split("[", 1)[0]):
            orphans.append(path.name)
    assert not orphans, f"cassettes without a test in test_chat_vcr.py: {orphans}"


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=[_id(p) for p in CASSETTE_FILES])
def test_cassette_loads_names_its_source_and_holds_no_credential(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    source = PROVENANCE_RE.match(text)
    assert source is not None, f"{_id(path)} does not start with '# source: ...'"
    expected = {"facts-sheet"} if path.parent == VERBATIM else {"live", "emulator"}
    assert source.group(1) in expected
    requests, responses = deserialize(text, yamlserializer)
    assert requests, f"{_id(path)} holds no interaction"
    assert len(requests) == len(responses)
    problems = problems_in(text, requests, responses)
    assert not problems, f"{_id(path)}: " + "; ".join(problems)


# --- the hooks that keep them clean ---------------------------------------------------------

_TOKEN = "ms-3f2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
_OLD_TOKEN = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9"


def _dirty_request(uri: str, body: str) -> Request:
    headers = {
        "Authorization": f"Bearer {_TOKEN}",
        "X-Api-Key": _OLD_TOKEN,
        "api-key": _OLD_TOKEN,
        "Cookie": "session=abc",
        "Proxy-Authorization": "Basic Zm9vOmJhcg==",
        "X-Trace": f"Bearer {_OLD_TOKEN}",
        "host": "127.0.0.1:43121",
        "content-type": "application/json",
    }
    return Request("POST", uri, body.encode(), headers)


def test_the_scan_finds_what_an_unscrubbed_request_leaks() -> None:
    dirty = _dirty_request(f"{REAL_BASE_URL}/chat/completions?t={_OLD_TOKEN}", f'"{_TOKEN}"')
    text = f"{dirty.uri} {dict(dirty.headers)} {dirty.body!r}"
    found = " | ".join(problems_in(text, [dirty], []))
    for expected in ("'Authorization' header", "'X-Api-Key' header", "'Cookie' header"):
        assert expected in found
    assert "ms-<uuid> token" in found
    assert "Bearer credential" in found
    assert "URI holds a bare UUID" in found
    assert _TOKEN not in found  # described, never quoted
    assert _OLD_TOKEN not in found


def test_request_hook_removes_credentials_and_maps_the_emulator_url() -> None:
    scrubber = Scrubber(secrets=("hunter2-secret",), map_loopback=True)
    body = f'{{"note":"{_TOKEN} {_OLD_TOKEN} hunter2-secret Bearer abc.def-ghi"}}'
    request = scrubber.request(
        _dirty_request(f"http://127.0.0.1:43121/v1/chat/completions?t={_OLD_TOKEN}", body)
    )
    text = f"{request.uri} {dict(request.headers)} {request.body!r}"
    assert {name.lower() for name in request.headers} == {"x-trace", "host", "content-type"}
    assert request.headers["host"] == "api-inference.modelscope.cn"
    assert request.uri == f"{REAL_BASE_URL}/chat/completions?t={REDACTED_UUID}"
    for secret in (_TOKEN, _OLD_TOKEN, "hunter2-secret", "abc.def-ghi", "Basic", "session"):
        assert secret not in text
    assert not problems_in(text, [request], [])
    assert (
        scrubber.request(request).body == request.body
    )  # idempotent: replay matching relies on it


def test_request_hook_leaves_other_loopback_urls_alone_unless_told() -> None:
    request = Scrubber().request(_dirty_request("http://127.0.0.1:43121/v1/models", "{}"))
    assert request.uri == "http://127.0.0.1:43121/v1/models"


def test_random_uuids_in_request_bodies_match_after_scrubbing() -> None:
    """Why test_structured_few_shot_examples replays: its tool-call ids are random UUIDs."""
    scrubber = Scrubber()
    first = scrubber.request(_dirty_request(REAL_BASE_URL, f'{{"id":"{_OLD_TOKEN}"}}'))
    second = scrubber.request(
        _dirty_request(REAL_BASE_URL, '{"id":"00000000-1111-4222-8333-444444444444"}')
    )
    assert first.body == second.body == f'{{"id":"{REDACTED_UUID}"}}'.encode()


def test_response_hook_drops_cookies_and_tokens_but_keeps_body_ids() -> None:
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {
            "Set-Cookie": ["acw_tc=abc; path=/"],
            "x-request-id": [_OLD_TOKEN],
            "content-type": ["application/json"],
        },
        "body": {"string": f'{{"id":"call_{_OLD_TOKEN}","echo":"{_TOKEN}"}}'.encode()},
    }
    scrubbed = Scrubber().response(response)
    assert set(scrubbed["headers"]) == {"x-request-id", "content-type"}
    assert scrubbed["headers"]["x-request-id"] == [REDACTED_UUID]
    body = scrubbed["body"]["string"].decode()
    assert _TOKEN not in body
    assert REDACTED in body
    assert f"call_{_OLD_TOKEN}" in body  # ids the client sends back stay distinct


def test_vcr_config_replays_only_and_filters_credentials(vcr_config: dict[str, Any]) -> None:
    assert vcr_config["record_mode"] == "none"
    assert vcr_config["match_on"] == ["method", "uri", "body"]
    assert {"authorization", "x-api-key", "api-key", "cookie"} <= set(vcr_config["filter_headers"])
    assert Path(vcr_config["cassette_library_dir"]) == CASSETTES
    assert CASSETTES.is_absolute()


@pytest.mark.vcr(record_mode="none")
@pytest.mark.default_cassette("absent/never-recorded")
def test_a_missing_cassette_fails_loudly_instead_of_calling_out() -> None:
    model = ChatModelScope(model="Qwen/Qwen3-VL-8B-Instruct", max_retries=0, **replay_params())
    with pytest.raises(CannotOverwriteExistingCassetteException):
        model.invoke("hello")
    assert not (CASSETTES / "absent").exists()
