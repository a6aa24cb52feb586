"""scripts/refresh_profiles.py merges models.dev's limits into the table (offline)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "refresh_profiles.py"


@pytest.fixture(scope="module")
def refresh() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refresh_profiles", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_models_dev_entries_are_refreshed_and_hand_kept_ones_stay(refresh: ModuleType) -> None:
    table = json.loads(refresh.TABLE.read_text(encoding="utf-8"))
    api = {
        "modelscope": {
            "models": {
                "Qwen/Qwen3-235B-A22B-Instruct-2507": {
                    "id": "Qwen/Qwen3-235B-A22B-Instruct-2507",
                    "limit": {"context": 1000, "output": 10},
                },
                "Qwen/Qwen3-32B": {"limit": {"context": 1, "output": 1}},  # hand-kept: stays
                "new/Model": {"limit": {"context": 2000, "output": 20}},
                "broken/Model": {"limit": {}},
            }
        }
    }
    merged = refresh.merge(table, refresh.models_dev_limits(api), "2030-01-01")
    models = merged["models"]
    assert models["Qwen/Qwen3-235B-A22B-Instruct-2507"]["max_input_tokens"] == 1000
    assert models["Qwen/Qwen3-32B"] == table["models"]["Qwen/Qwen3-32B"]
    assert models["new/Model"] == {
        "max_input_tokens": 2000,
        "max_output_tokens": 20,
        "source": "models.dev",
    }
    assert "broken/Model" not in models
    assert merged["updated"] == "2030-01-01"
    assert merged["families"] == table["families"]
    assert refresh.merge(table, {}, "2030-01-01") == table  # nothing new: unchanged
