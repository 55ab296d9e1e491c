# The two commands a school's IT person needs: `make run` and `make test`.
# Both create the virtual environment and install everything on first use.
# Every other command is `./alumnibot ...` (a wrapper that does the same), in a second terminal.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run run-webhook migrate setup test test-sqlite test-postgres lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run the bot. Without ALUMNIBOT_TELEGRAM_TOKEN: the offline sandbox at http://127.0.0.1:8080
run: install
	$(BIN)/alumnibot run

run-webhook: install
	$(BIN)/alumnibot run --webhook

migrate: install
	$(BIN)/alumnibot db upgrade

## First-run setup: the teams content/inbox.yaml routes to, and the first admin (asked for).
setup: install
	$(BIN)/alumnibot setup

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test-sqlite: install
	ALUMNIBOT_TEST_DB=sqlite $(BIN)/pytest

# Fails (never skips) when PostgreSQL at 127.0.0.1:5432 is unreachable.
test-postgres: install
	ALUMNIBOT_TEST_DB=postgres $(BIN)/pytest

## Everything CI runs: lint, types, the suite on SQLite and on PostgreSQL.
test: lint test-sqlite test-postgres

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
