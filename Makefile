# The commands the README shows. `make demo` and `make test` work on a fresh machine with Python 3.11 + pip.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
METERS ?= 2000
CUBE ?= data/sample/cube.zarr

.PHONY: demo demo-ledger test test-fast lab bench bench-quick bench-scale install lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

install: $(VENV)/.installed

SAMPLE := data/sample
PERIOD ?= 2025-01:2025-12

$(SAMPLE)/ami/faults.json: | $(VENV)/.installed
	$(BIN)/workbench sample --meters $(METERS) --out $(CUBE) --ami $(SAMPLE)/ami --quiet

# Sets everything up and runs meter to cash on the embedded defaults: the sample utility's AMI export (with
# faults) is ingested into the billing cube and validated/estimated (report in reports/demo/ingest), then billed.
demo: install $(SAMPLE)/ami/faults.json
	$(BIN)/workbench ingest $(SAMPLE)/ami/reads-*.parquet --into $(SAMPLE)/billing.zarr --registry $(SAMPLE)/ami/meters.csv \
		--read-dates $(SAMPLE)/ami/read-dates.csv --period $(PERIOD) --vee --report reports/demo/ingest
	$(BIN)/workbench cycle --cube $(SAMPLE)/billing.zarr --tariffs tariffs --out reports/demo/cycle
	$(MAKE) --no-print-directory demo-ledger

# Meter to cash on the ledger (docs/cycle-runs.md): accounts loaded, audited cycle runs posted (some bills held,
# a few PDFs), a lockbox file posted, the day reconciled and the energy of the cycles run tied out (assure
# --cycle: the month's other cycles are not billed yet). Running it again changes nothing.
LEDGER_DB ?= sqlite:///$(SAMPLE)/ledger.sqlite
DEMO_CYCLES ?= 7 12
DEMO_MONTH ?= 2025-11
PAY_DATE ?= 2025-12-15
NSF_FEE ?= 2500# the sample utility's returned-payment fee [cents]: a utility sets its own (docs/ledger.md)
demo-ledger: | $(VENV)/.installed
	$(BIN)/workbench ledger init --db $(LEDGER_DB)
	$(BIN)/workbench ledger settings --nsf-fee $(NSF_FEE) --who demo --db $(LEDGER_DB)
	$(BIN)/workbench ledger load-accounts $(SAMPLE)/ami/accounts.csv --db $(LEDGER_DB)
	for c in $(DEMO_CYCLES); do $(BIN)/workbench run-cycle --cycle $$c --period $(DEMO_MONTH) --cube $(SAMPLE)/billing.zarr \
		--tariffs tariffs --db $(LEDGER_DB) --rules docs/examples/demo-rules.yaml --reports reports/demo/runs --pdfs 3 --quiet || exit $$?; done
	$(BIN)/workbench bills list --status held --db $(LEDGER_DB)
	$(BIN)/python -m workbench.runs.demo --db $(LEDGER_DB) --out $(SAMPLE)/lockbox-$(PAY_DATE).bai --date $(PAY_DATE)
	$(BIN)/workbench payments post $(SAMPLE)/lockbox-$(PAY_DATE).bai --db $(LEDGER_DB)
	$(BIN)/workbench ledger reconcile --date $(PAY_DATE) --out reports/demo/reconcile-$(PAY_DATE).csv --db $(LEDGER_DB)
	$(BIN)/workbench ledger assure --period $(DEMO_MONTH) $(addprefix --cycle ,$(DEMO_CYCLES)) --cube $(SAMPLE)/billing.zarr \
		--runs reports/demo/runs --out reports/demo/assure --db $(LEDGER_DB)
	$(BIN)/workbench ledger check --db $(LEDGER_DB)

# The whole suite: unit, property, oracle (PySAM), notebook and CLI tests, on every core (pytest-xdist; `make test
# JOBS=0` runs it in one process; `logical` counts a VM's vCPUs, where `auto` may count only physical cores).
# --dist loadfile keeps each test file on one worker, so a file's module fixtures (sample utilities, served
# dashboards) are built once, heavy files first (tests/conftest.py); each worker starts its own PostgreSQL.
JOBS ?= logical
PARALLEL := -n $(JOBS) --dist loadfile --no-loadscope-reorder
test: install
	$(BIN)/python -m pytest $(PARALLEL)

test-fast: install
	$(BIN)/python -m pytest $(PARALLEL) -m "not slow and not oracle and not notebook"

lab: install
	$(BIN)/jupyter lab notebooks/

bench: install
	$(BIN)/python -m benchmarks.bench_billing
	$(BIN)/python -m benchmarks.bench_vee --meters 10000
	$(BIN)/python -m benchmarks.bench_ingest --meters 10000

# 10k-500k meters x one month, plus 1/2/4 LocalCluster workers (generates ~15 GB of cubes under data/bench/ once)
bench-scale: install
	$(BIN)/python -m benchmarks.bench_scale --meters 10000,50000,100000,500000 --workers 1,2,4 --storage

bench-quick: install
	$(BIN)/python -m benchmarks.bench_billing --meters 1000 --pysam-sample 20 --reprice-meters 20000

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf data/sample reports/demo reports/cycle .pytest_cache
