"""Build the hand-made cassettes in ``tests/vcr/cassettes/verbatim/`` from the facts sheet.

No network and no emulator: each case's calls run through `ChatModelScope` over an in-memory
`httpx.MockTransport` that answers with the verbatim body, and every request is written as
vcrpy would record it (scrubbed by the same hooks; the body is the client's own compact,
non-ASCII-keeping JSON, byte for byte). Rerun it when the client's request bodies change;
``test_verbatim_cassettes.py`` says so when they have.

Usage, from the repository root::

    python -m tests.vcr.build_verbatim_cassettes
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from vcr.request import Request
from vcr.serialize import serialize

from langchain_modelscope._chat_families import LEARNED_STREAMING
from langchain_modelscope.errors import ModelScopeError
from tests.vcr.vcr_support import VERBATIM, ProvenanceSerializer, Scrubber, known_secrets
from tests.vcr.verbatim_cases import ALL_CASES, Case, exercise

_SCRUBBER = Scrubber(secrets=known_secrets())


def capture(case: Case) -> tuple[list[Request], list[dict[str, object]]]:
    """The case's requests (scrubbed, as vcrpy stores them) and the verbatim answers."""
    requests: list[Request] = []
    responses: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        content = request.read()
        reply = case.answer(json.loads(content))
        recorded = Request(request.method, str(request.url), content, dict(request.headers))
        requests.append(_SCRUBBER.request(recorded))
        responses.append(reply.as_vcr())
        return httpx.Response(reply.status, content=reply.body, headers=dict(reply.headers))

    LEARNED_STREAMING.forget_all()  # each cassette starts from the family rules alone
    transport = httpx.MockTransport(handle)
    with httpx.Client(transport=transport) as client:
        model = case.model(http_client=client)
        exercise(case, model, swallow=lambda error: isinstance(error, ModelScopeError))
    return requests, responses


def render(case: Case) -> str:
    """The cassette's text, provenance comment first."""
    requests, responses = capture(case)
    serializer = ProvenanceSerializer("facts-sheet", note=case.note)
    return str(serialize({"requests": requests, "responses": responses}, serializer))


def path_of(case: Case) -> Path:
    return VERBATIM / f"{case.name}.yaml"


def main() -> int:
    VERBATIM.mkdir(parents=True, exist_ok=True)
    wanted = {path_of(case) for case in ALL_CASES}
    for stale in set(VERBATIM.glob("*.yaml")) - wanted:
        stale.unlink()
        print(f"removed {stale.name}")
    for case in ALL_CASES:
        path_of(case).write_text(render(case), encoding="utf-8")
    print(f"wrote {len(ALL_CASES)} cassettes to {VERBATIM}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
