# Second Brain developer tasks. `make help` lists them. Every target can be run again safely.
#
# Variables: HOST / PORT (api bind, `make run`), PYTEST_ARGS (extra pytest arguments),
# PYTHON (interpreter used to bootstrap uv when it is not on PATH).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

VENV := .venv
PY := $(VENV)/bin/python
SYNCED := $(VENV)/.synced

# uv from PATH, else a private copy in .tools/ installed with pip.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
UV_DEP := $(UV)
endif

# `stop` must work even after .venv is gone (devservices.py needs only the stdlib to stop).
STOP_PY = $(if $(wildcard $(PY)),$(PY),$(PYTHON))

.PHONY: help venv run worker services stop test lint bench clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

.tools/bin/uv:
	@echo "uv not on PATH: installing it into .tools/"
	$(PYTHON) -m venv .tools || { echo "error: '$(PYTHON) -m venv' failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(SYNCED): uv.lock pyproject.toml | $(UV_DEP)
	$(UV) sync --frozen
	@touch $@

venv: $(SYNCED) ## create or update .venv from uv.lock (dev group included)

services: $(SYNCED) ## start the dev database and Redis (or reuse them) and print their URLs
	$(PY) -m scripts.devservices start
	@$(PY) -m scripts.devservices env

run: $(SYNCED) ## dev services + SAQ worker (background) + api on HOST:PORT, 127.0.0.1:8000 (foreground)
	$(PY) -m scripts.run_dev --host $(HOST) --port $(PORT)

worker: $(SYNCED) ## dev services + the SAQ worker alone (foreground)
	$(PY) -m scripts.run_dev --worker-only

stop: ## stop the dev database and Redis
	$(STOP_PY) scripts/devservices.py stop

test: $(SYNCED) ## run the tests (they start their own services); extra args: PYTEST_ARGS=...
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(SYNCED) ## ruff check + mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy server auth realtime agents

bench: $(SYNCED) ## run every scripts/bench_*.py that has a __main__ block
	@shopt -s nullglob; benches=(scripts/bench_*.py); \
	if [ $${#benches[@]} -eq 0 ]; then echo "no scripts/bench_*.py yet"; exit 0; fi; \
	failed=(); \
	for file in "$${benches[@]}"; do \
		module=$${file%.py}; module=$${module//\//.}; \
		if ! grep -q '__main__' "$$file"; then echo "=== $$module: helper module (no __main__), skipped"; continue; fi; \
		echo "=== $$module"; \
		$(PY) -m "$$module" || failed+=("$$module"); \
	done; \
	if [ $${#failed[@]} -gt 0 ]; then echo "failed: $${failed[*]}" >&2; exit 1; fi

clean: stop ## stop the services; remove .data, .venv, .tools and caches
	rm -rf .data $(VENV) .tools .pytest_cache .ruff_cache .mypy_cache build dist *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
