# The README's two commands: `make run` (demo) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_DB := var/demo.db
# axe-core, the accessibility checker the browser tests inject into pages (from npm, pinned by
# tests/e2e/package-lock.json; node_modules stays out of git). The file is its own stamp.
AXE := tests/e2e/node_modules/axe-core/axe.min.js
export SURVEIL_DATABASE_URL ?= sqlite:///$(DEMO_DB)

.PHONY: run test bench lint venv install install-dev clean

# Stamp files: pip runs again only when pyproject.toml (the dependencies) changed since the last
# install, so a second `make run` starts in seconds. The install is editable: code changes need no
# reinstall. `make clean` (or deleting .venv) starts over.
INSTALLED     := $(VENV)/.installed
INSTALLED_DEV := $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The dev install includes the plain one, so it stamps both.
$(INSTALLED_DEV): pyproject.toml $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(INSTALLED)

install: $(INSTALLED)

install-dev: $(INSTALLED_DEV)

## make run: set up, migrate, load demo patients when empty, start web worklist and daemon
run: install
	$(BIN)/surveil init
	$(BIN)/surveil demo --patients 200 --seed 7 --if-empty
	$(BIN)/surveil run-demo

$(AXE): tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund
	touch $@

## make test: install dev dependencies and axe-core, then the whole suite (SQLite and PostgreSQL)
test: install-dev $(AXE)
	$(BIN)/ruff check surveil tests scripts
	$(BIN)/ruff format --check surveil tests scripts
	$(BIN)/mypy surveil
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --durations=15

## make bench: the 100k-patient benchmarks (slow; not part of make test)
bench: install-dev
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) var build dist .pytest_cache .mypy_cache .ruff_cache
