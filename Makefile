# The commands the README names. Each target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint format setup clean bench

$(BIN)/fieldsync-server: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

setup: $(BIN)/fieldsync-server

## Set up, initialise the embedded SQLite database, publish the bundled forms, and serve.
run: setup
	$(BIN)/fieldsync-server init
	$(BIN)/fieldsync-server run --host $(HOST) --port $(PORT)

## Set up and run the test suite (FIELDSYNC_TEST_DATABASE_URL picks PostgreSQL).
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check server sync_client tests bench migrations
	$(BIN)/ruff format --check server sync_client tests bench migrations
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format server sync_client tests bench migrations
	$(BIN)/ruff check --fix server sync_client tests bench migrations

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
