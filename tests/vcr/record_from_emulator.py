"""Record the standard-suite cassettes from the offline emulator (no token, no network).

The live service cannot be reached from the build machines, so the first cassettes come from
`langchain_modelscope.testing.ModelScopeEmulator`: pytest runs ``test_chat_vcr.py`` with
``--record-mode=rewrite`` and this module's environment switch, each test talks to a fresh
emulator over loopback, and the scrubber rewrites its URL to the real base URL. Each cassette's
first line says ``# source: emulator``. ``make record`` (with MODELSCOPE_API_KEY set) replaces
them with live recordings. Afterwards the cassettes are replayed offline and scanned.

Usage, from the repository root::

    python -m tests.vcr.record_from_emulator            # every standard-suite cassette
    python -m tests.vcr.record_from_emulator -k invoke  # extra pytest arguments: only these
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from langchain_modelscope._client import API_KEY_ENV_VARS, BASE_URL_ENV_VAR
from tests.vcr.vcr_support import CASSETTES, SOURCE_ENV_VAR, VCR_DIR

ROOT = VCR_DIR.parent.parent
SUITE = VCR_DIR / "test_chat_vcr.py"
HYGIENE = VCR_DIR / "test_cassette_hygiene.py"


def _pytest(args: Sequence[str], env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "pytest", "-q", *args]
    print("+", " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def main(argv: Sequence[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    # No real token or base URL may reach this run, even by accident.
    env = {k: v for k, v in os.environ.items() if k not in {*API_KEY_ENV_VARS, BASE_URL_ENV_VAR}}
    if not extra:
        # A full run: drop the standard suite's cassettes first, so none outlives its test.
        for old in CASSETTES.glob("*.yaml"):
            old.unlink()
    recorded = _pytest(
        [str(SUITE), "--record-mode=rewrite", *extra], {**env, SOURCE_ENV_VAR: "emulator"}
    )
    if recorded != 0:
        return recorded
    return _pytest([str(SUITE), str(HYGIENE), *extra], env)


if __name__ == "__main__":
    raise SystemExit(main())
