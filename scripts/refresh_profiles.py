"""Refresh langchain_modelscope/data/model_profiles.json from models.dev (`make profiles`).

Run:  python scripts/refresh_profiles.py              (downloads https://models.dev/api.json)
      python scripts/refresh_profiles.py --from api.json   (a file saved earlier)
      python scripts/refresh_profiles.py --check           (exit 1 if the table would change)

ModelScope publishes no token limits, so the table is what other clients use. models.dev is
the one source with a stable machine-readable form; its ``modelscope`` provider entries replace
the entries whose ``source`` is ``models.dev`` and add new ids. Entries from the other sources
(Dify's plugin, LobeChat, model cards) are edited by hand and kept as they are. Families and
the default are never touched by this script.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "langchain_modelscope" / "data" / "model_profiles.json"
MODELS_DEV = "https://models.dev/api.json"
PROVIDER = "modelscope"


def models_dev_limits(api: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{model id: {max_input_tokens, max_output_tokens, source}}`` from models.dev's api.json."""
    provider = api.get(PROVIDER) or {}
    found: dict[str, dict[str, Any]] = {}
    for model_id, model in (provider.get("models") or {}).items():
        limit = model.get("limit") or {}
        context, output = limit.get("input") or limit.get("context"), limit.get("output")
        if isinstance(context, int) and isinstance(output, int) and context > 0 and output > 0:
            found[model.get("id", model_id)] = {
                "max_input_tokens": context,
                "max_output_tokens": output,
                "source": "models.dev",
            }
    return found


def merge(table: dict[str, Any], fresh: dict[str, dict[str, Any]], today: str) -> dict[str, Any]:
    """The table with models.dev's entries refreshed and added; hand-kept entries stay."""
    models = dict(table["models"])
    for model_id, entry in fresh.items():
        kept = models.get(model_id)
        if kept is None or kept.get("source") == "models.dev":
            models[model_id] = entry
    merged = dict(table)
    merged["models"] = dict(sorted(models.items(), key=lambda item: item[0].lower()))
    if merged["models"] != table["models"]:
        merged["updated"] = today
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--from", dest="source", help="a saved models.dev api.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if the table is stale")
    args = parser.parse_args(argv)
    if args.source:
        api = json.loads(Path(args.source).read_text(encoding="utf-8"))
    else:
        with urllib.request.urlopen(MODELS_DEV, timeout=30) as response:
            api = json.load(response)
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    merged = merge(table, models_dev_limits(api), date.today().isoformat())
    if merged == table:
        print("model_profiles.json is up to date")
        return 0
    if args.check:
        print("model_profiles.json is stale: run python scripts/refresh_profiles.py")
        return 1
    TABLE.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {TABLE} ({len(merged['models'])} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
