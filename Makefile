# The commands the README names. Each target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint format setup clean bench mutation translations vendor chromium

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
test: setup chromium
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

## The web UI's translations: extract its strings, merge them into the Lao, Khmer and Vietnamese
## catalogues (server/ui/translations), and compile the catalogues the server reads.
translations: setup
	$(BIN)/pybabel extract -F server/ui/babel.cfg -k _ -k gettext -k ngettext --no-location \
		--project=fieldsync -o server/ui/translations/messages.pot .
	$(BIN)/pybabel update -i server/ui/translations/messages.pot -d server/ui/translations \
		--no-fuzzy-matching
	$(BIN)/pybabel compile -d server/ui/translations --statistics

## Fetch htmx and Leaflet from the npm registry again and copy their minified files and
## licences into server/ui/static/vendor (and axe-core into tests/ui/vendor); see VENDOR.md there.
VENDOR_TMP ?= /tmp/fieldsync-vendor
vendor:
	mkdir -p $(VENDOR_TMP) && cd $(VENDOR_TMP) && npm init -y >/dev/null && \
		npm install --no-audit --no-fund htmx.org@2.0.11 leaflet@1.9.4 axe-core@4.14.1
	cp $(VENDOR_TMP)/node_modules/htmx.org/dist/htmx.min.js $(VENDOR_TMP)/node_modules/htmx.org/LICENSE server/ui/static/vendor/htmx/
	cp $(VENDOR_TMP)/node_modules/leaflet/dist/leaflet.js $(VENDOR_TMP)/node_modules/leaflet/dist/leaflet.css $(VENDOR_TMP)/node_modules/leaflet/LICENSE server/ui/static/vendor/leaflet/
	cp $(VENDOR_TMP)/node_modules/leaflet/dist/images/* server/ui/static/vendor/leaflet/images/
	cp $(VENDOR_TMP)/node_modules/axe-core/axe.min.js $(VENDOR_TMP)/node_modules/axe-core/LICENSE tests/ui/vendor/

## The browser the web UI's tests drive (Debian's chromium), installed when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) || \
		echo "chromium could not be installed: the browser tests will be skipped"
