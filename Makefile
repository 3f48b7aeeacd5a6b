# Strongroom: `make run` starts a dev server, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean oidc-provider

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/strongroom dev

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

# Two workers, each taking whole test files (module fixtures stay shared): most tests wait
# on servers and subprocesses, so this halves the wall time on two cores.
unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile

test: lint typecheck unit

bench: $(STAMP)
	bash bench/run.sh

# The real OpenID provider the identity tests start (tests install it too when missing).
oidc-provider:
	cd tests/identity/oidc_provider && { [ -d node_modules/oidc-provider ] || npm ci --no-audit --no-fund; }

clean:
	rm -rf $(VENV) .strongroom .pytest_cache .mypy_cache .ruff_cache
