# The commands the README names. Each target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint format setup clean bench mutation

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

## Mutation testing of the merge core (docs/mutation.md; 20 to 35 minutes on 2 cores, not part of
## CI): mutate server/entities/merge*.py and policies.py, run their tests on every mutant, print
## the score per file. A full run starts from a fresh mutants/ so that no result is stale;
## `make mutation MUTANTS="name ..."` re-checks only the named mutants of the last run.
MUTMUT := $(BIN)/mutmut
MUTANTS ?=

$(MUTMUT): $(BIN)/fieldsync-server
	$(BIN)/pip install --quiet 'mutmut==3.8.*'
	@touch $@

mutation: setup $(MUTMUT)
	$(if $(MUTANTS),,rm -rf mutants)
	$(MUTMUT) run $(MUTANTS)
	@$(MUTMUT) results --all true | awk -F': ' '\
		NF == 2 { m = $$1; sub(/^ +/, "", m); sub(/\.x[^.]*$$/, "", m); \
		          total[m]++; count[m, $$2]++ } \
		END { for (m in total) { caught = count[m, "killed"] + count[m, "timeout"] + count[m, "segfault"]; \
		        printf "%s: %d killed / %d mutants (%.1f %%), %d survived, %d timed out or crashed (killed), %d not covered\n", \
		          m, caught, total[m], 100 * caught / total[m], count[m, "survived"], \
		          count[m, "timeout"] + count[m, "segfault"], count[m, "no tests"] } }' | sort
	@echo "Survivors: $(MUTMUT) results; one mutant: $(MUTMUT) show NAME"

lint: setup
	$(BIN)/ruff check server sync_client tests bench migrations
	$(BIN)/ruff format --check server sync_client tests bench migrations
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format server sync_client tests bench migrations
	$(BIN)/ruff check --fix server sync_client tests bench migrations

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
