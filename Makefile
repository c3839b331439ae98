# Two commands on a fresh clone: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export VIGIL_DATABASE_URL ?= sqlite:///./.vigil/vigil.db
# Links in results (`url`) and upload URLs point at this server unless told otherwise.
export VIGIL_PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test test-slow bench lint clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Vigil needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

# Start API + worker on embedded SQLite, with a demo team and a fresh demo key.
run: $(VENV)/.installed
	@$(BIN)/vigil keys create --team demo --name "make run" | tail -n 1 > .vigil-demo-key
	@echo ""
	@echo "  Demo API key (team 'demo'):  $$(cat .vigil-demo-key)"
	@echo "  Try:  curl -s -X POST http://$(HOST):$(PORT)/v1/data/products \\"
	@echo "          -H \"Authorization: Bearer $$(cat .vigil-demo-key)\" -H 'Content-Type: application/json' \\"
	@echo "          -d '{\"data\": [{\"id\": \"product_1\", \"title\": \"Ceramic Mug\", \"price\": 24.0}]}'"
	@echo ""
	$(BIN)/vigil serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(VENV)/.installed-dev
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) .vigil .vigil-demo-key .pytest_cache
