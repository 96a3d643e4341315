PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install rabbitmq run test unit lint format bench mutation

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

rabbitmq:
	scripts/ensure-rabbitmq.sh

## Run the platform in the foreground (Ctrl-C stops it).
run: install rabbitmq
	scripts/run.sh

## Run every test: unit, integration (real RabbitMQ and MongoDB-wire server) and end to end.
test: install rabbitmq
	$(BIN)/nameko test tests

unit: install
	$(BIN)/nameko test tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install rabbitmq
	$(BIN)/python -m bench.run

## Mutation testing of the guarantees (slow, not part of `make test`); MUTANTS narrows it,
## e.g. make mutation MUTANTS='allodiscri.platform.store.*'. Scores: docs/quality.md.
mutation: install
	$(BIN)/python scripts/mutation.py run --max-children 2 $(MUTANTS)
	$(BIN)/python scripts/mutation_score.py
