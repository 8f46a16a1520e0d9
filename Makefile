# The commands the README shows. `make demo` and `make test` work on a fresh machine with Python 3.11 + pip.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
METERS ?= 2000
CUBE ?= data/sample/cube.zarr

.PHONY: demo test test-fast lab bench bench-quick install lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

install: $(VENV)/.installed

$(CUBE): | $(VENV)/.installed
	$(BIN)/workbench sample --meters $(METERS) --out $(CUBE)

# Sets everything up, builds the sample utility and bills it on the embedded defaults.
demo: install $(CUBE)
	$(BIN)/workbench cycle --cube $(CUBE) --tariffs tariffs --out reports/demo

# The whole suite: unit, property, oracle (PySAM), notebook and CLI tests.
test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not oracle and not notebook"

lab: install
	$(BIN)/jupyter lab notebooks/

bench: install
	$(BIN)/python -m benchmarks.bench_billing

bench-quick: install
	$(BIN)/python -m benchmarks.bench_billing --meters 1000 --pysam-sample 20 --reprice-meters 20000

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf data/sample reports/demo reports/cycle .pytest_cache
