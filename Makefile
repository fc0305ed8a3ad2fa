# Two commands do all the set-up on a fresh machine (Python 3.11+):
#   make demo   -> venv, install, generate demo silos, run the whole pipeline on the embedded default
#   make test   -> venv, install with dev extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
DEMO ?= demo
PEOPLE ?= 2000
# pip extras installed with the project; CI adds spark (`make test EXTRAS=dev,spark`) for tests/identity/test_spark.py
EXTRAS ?= dev

$(BIN)/cdp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	touch $(BIN)/cdp

.PHONY: install demo test lint check
install: $(BIN)/cdp

demo: install
	$(BIN)/cdp demo --out $(DEMO) --people $(PEOPLE)
	$(BIN)/cdp run --config $(DEMO)/cdp.yaml
	$(BIN)/cdp export crosswalk --config $(DEMO)/cdp.yaml --out $(DEMO)/crosswalk.csv

test: install
	$(BIN)/pytest -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check cdp ingestion identity quality serving api tests bench

# ruff, mypy, and the import contract in pyproject.toml (dependencies run one way along the data's path)
check: lint
	$(BIN)/mypy cdp ingestion identity quality serving api
	$(BIN)/lint-imports
