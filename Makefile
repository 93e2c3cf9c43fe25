# The BMW backend. Needs only Python >= 3.11 and make: everything else is installed from PyPI
# into .tools (uv) and .venv (the workspace, from uv.lock).

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
RUN := $(UV) run --frozen --all-packages
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install dev test soak test-unit lint format bench schemas clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml gateway/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

install: $(VENV)/.synced ## Install the workspace (uv from PyPI, then every package from uv.lock)

dev: install ## Run the whole stack locally: embedded PostgreSQL and broker, four services, gateway, demo data
	$(RUN) bmw dev up

TEST_WORKERS ?= 2

test: install ## Run every test against the real embedded PostgreSQL and broker (TEST_WORKERS=2 processes)
	$(RUN) pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

soak: install ## The whole fault suite (tests/faults), every phase 20 times longer
	BMW_FAULT_SCALE=$${BMW_FAULT_SCALE:-20} $(RUN) pytest tests/faults -q -ra $(PYTEST_ARGS)

test-unit: install ## Only the tests that need no infrastructure
	$(RUN) pytest -m "not integration and not e2e" $(PYTEST_ARGS)

lint: install ## ruff (lint, format check), mypy (strict), import-linter contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy -p bmw.contracts -p bmw.servicekit -p bmw.devstack -p bmw.intake -p bmw.scheduling -p bmw.billing -p bmw.signals -p bmw.gateway
	$(RUN) lint-imports

format: install ## Apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

schemas: install ## Regenerate the committed contracts: event JSON Schemas, OpenAPI, AsyncAPI, GraphQL schema
	$(RUN) python -m bmw.contracts.schemas
	$(RUN) bmw contracts export
	$(RUN) python -m bmw.gateway.export_schema

bench: install ## Run the benchmarks (bench/README.md): billing, signals, messaging, gateway, pipeline + footprint; detection quality
	$(RUN) python -m bench
	$(RUN) python bench/signals_quality.py --seeds 200

clean: ## Remove the environments and local state
	rm -rf $(TOOLS) $(VENV) .bmw .pytest_cache .mypy_cache .ruff_cache
