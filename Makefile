# Two commands on a fresh machine with Python 3.10+ and make:
#   make demo   the main job: against ModelScope when a token is set, else the local emulator
#   make test   the whole offline test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint format bench record dist profiles clean help

help:
	@echo "make demo    run the main job (ModelScope with a token, else the emulator)"
	@echo "make test    run the offline test suite"
	@echo "make lint    ruff + mypy --strict"
	@echo "make bench   benchmarks, written to bench/results.md"
	@echo "make record  re-record VCR cassettes against ModelScope (needs MODELSCOPE_API_KEY)"
	@echo "make dist    build the wheel and the sdist into dist/ and check them with twine"
	@echo "make profiles  refresh the model profile table from its public sources (network)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed: make PYTHON=python3.x ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "could not create $(VENV): on Debian/Ubuntu install python3-venv (apt-get install python3-venv)"; exit 1; }
	@# pip >= 25.1 reads the PEP 735 dependency groups of pyproject.toml (--group).
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[redis,rag]' --group dev
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python cookbook/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

record: $(STAMP)
	@test -n "$$MODELSCOPE_API_KEY" || { echo "make record talks to the real ModelScope service: set MODELSCOPE_API_KEY first"; exit 2; }
	$(BIN)/python -m pytest -q tests/vcr/test_chat_vcr.py --record-mode=rewrite --force-enable-socket
	$(BIN)/python -m pytest -q tests/vcr/test_chat_vcr.py tests/vcr/test_cassette_hygiene.py

dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/twine check --strict dist/*

profiles: $(STAMP)
	$(BIN)/python scripts/refresh_profiles.py

clean:
	rm -rf $(VENV) dist .mypy_cache .ruff_cache
