# Two commands for a new user: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export ISU_DATABASE_URL ?= sqlite:///$(CURDIR)/var/isu.sqlite3

.PHONY: run test install lint format clean bench bench-load browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Migrate the embedded SQLite database, load the demo, serve on 127.0.0.1:8000.
run: install
	ISU_MODE=dev $(BIN)/isu db upgrade
	ISU_MODE=dev $(BIN)/isu demo --if-empty
	ISU_MODE=dev $(BIN)/isu serve --host 127.0.0.1 --port 8000

## Lint, type-check and run the whole suite on SQLite and PostgreSQL.
test: install lint browser
	$(BIN)/python -m pytest -p no:cacheprovider

## Chromium and chromedriver for the browser tests (apt-get when root).
browser:
	sh tests/web/install-browser.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app exporters migrations tests bench
	$(BIN)/isu variables --json > /dev/null

## Benchmark of the national compilation (bench/, about 25 min); results in docs/benchmarks.md.
bench: install
	$(BIN)/python -m bench.compilation --cases 3070,100000,1000000 --engines sqlite,postgresql \
		--data-dir var/bench/data --write-docs

## Load benchmark of the write path (bench/load.py, about 25 min); results in docs/benchmarks.md.
bench-load: install
	$(BIN)/python -m bench.load --engines sqlite,postgresql --clients 1,8,32 --workers 1,2 \
		--readers 0 --seconds 15 --baseline c4bda36 --write-docs
	$(BIN)/python -m bench.load --engines sqlite,postgresql --clients 8 --workers 1 --readers 8 \
		--seconds 15 --baseline c4bda36 --append --first-start --import-cases 3070 --write-docs

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
