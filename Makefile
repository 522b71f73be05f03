# Two commands for a newcomer: `make run` (the whole local stack) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test suite test-faults lint format docs docs-check bench profile screenshots install clean

run: $(STAMP)
	$(BIN)/webhooks dev

# The lint runs beside the suite, which mostly waits (on retries, timers, a browser): it takes four
# processes, each with its own dev server, even on two cores (there, 4 min 16 s against 4 min 54 s
# with one process per core), tests handed to whichever process is free (worksteal: the long ones
# do not pile up at the end). The suite builds the docs with --strict (tests/test_docs.py).
test: $(STAMP)
	@$(MAKE) --no-print-directory -j 2 lint suite

suite: $(STAMP)
	$(BIN)/pytest -n 4 --dist worksteal --ignore=tests/faults

# The fault suite: real processes killed and restarted, a 5,000-event burst, an upgrade from the
# previous release with work in flight, pacing under faults (about 13 minutes).
test-faults: $(STAMP)
	$(BIN)/pytest tests/faults

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The manual (docs/, mkdocs.yml) on http://127.0.0.1:8001, rebuilt as a page changes.
# NO_MKDOCS_2_WARNING: mkdocs-material's notice about MkDocs 2.0, printed on every run.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve -a 127.0.0.1:8001

# Built with --strict into .data/site, as tests/test_docs.py does in `make test`. Quiet unless it fails.
docs-check: $(STAMP)
	@out=$$(NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict 2>&1) || { echo "$$out"; exit 1; }

bench: $(STAMP)
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.console
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.history
	$(BIN)/python -m bench.eager
	$(BIN)/python -m bench.pacing

# The manual's screenshots (docs/screenshots/): the web console, taken by its browser tests, and the Temporal UI.
screenshots: $(STAMP)
	WEBHOOKS_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/test_console.py tests/test_console_phone.py
	$(BIN)/python docs/screenshots/temporal_ui.py

# Where the CPU goes at one and at a hundred webhooks per event (py-spy on the worker).
profile: $(STAMP)
	$(BIN)/python -m bench.profile --fan-out 1 --events 400
	$(BIN)/python -m bench.profile --fan-out 100 --events 20

install: $(STAMP)

# Reinstalled when the project's dependencies change.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache
