"""The wheel and the sdist, as users and packagers get them: built, checked, installed into
fresh virtual environments (no editable install, no dev venv), and run.

- wheel + ``[rag]``: the README's quickstart and RAG examples run against the emulator, from a
  directory that holds no source, so only the installed files can serve the import;
- sdist: unpacked, installed with ``[redis,rag]`` and its own ``test`` dependency group, and a
  subset of its own tests run from it: the cookbook (missing from earlier sdists), the README,
  the compatibility names and the public API.

Slow (a few pip installs; pip's cache and the package index are used, nothing else), so it has
its own marker, ``packaging``; it runs in ``make test``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest

from langchain_modelscope.testing import ModelScopeEmulator
from tests.core.test_readme import sections

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
#: The sdist's tests that run here (the whole suite runs in the dev venv already).
SDIST_TESTS = [
    "tests/cookbook",
    "tests/core/test_readme.py",
    "tests/compat",
    "tests/core/test_public_api.py",
]


def sh(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


def fresh_venv(path: Path) -> Path:
    """A new venv with a pip that reads dependency groups (>= 25.1); returns its python."""
    venv.create(path, with_pip=True, clear=True)
    python = path / "bin" / "python"
    sh(python, "-m", "pip", "install", "-q", "--upgrade", "pip>=25.1")
    return python


def clean_env(**extra: str) -> dict[str, str]:
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "MODELSCOPE_API_KEY", "MODELSCOPE_BASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("build", reason="the 'packaging' dependency group is not installed")
    out = tmp_path_factory.mktemp("dist")
    sh(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    sh(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
    return {"wheel": wheel, "sdist": sdist}


def test_names_follow_the_distribution(dist: dict[str, Path]) -> None:
    assert dist["wheel"].name.startswith("langchain_modelscope_api-")
    assert dist["sdist"].name.startswith("langchain_modelscope_api-")
    with tarfile.open(dist["sdist"]) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for needed in (
        "LICENSE",
        "cookbook/demo.py",
        "cookbook/data/quotas.txt",
        "scripts/refresh_profiles.py",
        "langchain_modelscope/data/model_profiles.json",
    ):
        assert needed in names, needed


def test_wheel_runs_the_readme_quickstart_and_rag(
    dist: dict[str, Path], tmp_path: Path, modelscope_emulator: ModelScopeEmulator
) -> None:
    python = fresh_venv(tmp_path / "venv")
    sh(python, "-m", "pip", "install", "-q", f"{dist['wheel']}[rag]")
    sh(python, "-m", "pip", "check")
    env = clean_env(
        MODELSCOPE_API_KEY=modelscope_emulator.token,
        MODELSCOPE_BASE_URL=modelscope_emulator.base_url,
    )
    where = sh(
        python, "-c", "import langchain_modelscope as m; print(m.__file__)", cwd=tmp_path, env=env
    )
    assert "site-packages" in where  # the installed files, not this checkout
    for heading in ("Quickstart", "RAG"):
        (code,) = sections()[heading]
        script = tmp_path / f"{heading.lower()}.py"
        script.write_text(code, encoding="utf-8")
        sh(python, script, cwd=tmp_path, env=env)
    paths = {r.path for r in modelscope_emulator.requests}
    assert any(p.endswith("/chat/completions") for p in paths), paths
    assert any(p.endswith("/embeddings") for p in paths), paths


def test_sdist_installs_and_runs_its_own_tests(dist: dict[str, Path], tmp_path: Path) -> None:
    with tarfile.open(dist["sdist"]) as archive:
        archive.extractall(tmp_path, filter="data")
    (unpacked,) = (p for p in tmp_path.iterdir() if p.is_dir())
    python = fresh_venv(tmp_path / "venv")
    sh(python, "-m", "pip", "install", "-q", f"{dist['sdist']}[redis,rag]")
    sh(python, "-m", "pip", "install", "-q", "--group", f"{unpacked / 'pyproject.toml'}:test")
    out = sh(python, "-m", "pytest", "-q", "-x", *SDIST_TESTS, cwd=unpacked, env=clean_env())
    assert re.search(r"\d+ passed", out), out
    assert not re.search(r"\d+ (failed|errors?)\b", out), out
