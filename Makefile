# ghl-pleo: `make run` (sync once against the local sandbox), `make plan` (the same as a dry run),
# `make ui` (the Airflow UI against the sandbox), `make test` (the suite), `make reset`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Test processes for `make test` (pytest-xdist; each test module runs whole in one of them). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2

.PHONY: run plan ui ui-stop test test-fast lint format bench packages reset sandbox sandbox-stop venv airflow-init docs-assets

venv: $(BIN)/.installed docs-assets

# The project itself goes in last, editable and without dependencies (they are the pinned ones above): its
# provider entry point registers the ghl and pleo connection types (pyproject.toml, plugins/ghl_pleo/provider.py).
$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "== installing requirements-dev.txt (runtime + test tools) and the project into $(VENV) (log: $(VENV)/pip-install.log)"
	@{ $(BIN)/pip install --disable-pip-version-check -r requirements-dev.txt \
	  && $(BIN)/pip install --disable-pip-version-check --no-deps -e . ; } > $(VENV)/pip-install.log 2>&1 \
	  || { tail -n 30 $(VENV)/pip-install.log; exit 1; }
	@touch $@

# The libraries Data Docs pages load, at the versions pinned in data-docs-assets/package-lock.json, from the npm
# registry (plugins/ghl_pleo/docs_assets.py copies them into each site). Without npm the pages still build, plainer.
docs-assets: data-docs-assets/node_modules/.package-lock.json  ## Vendor the Data Docs libraries (npm ci)
data-docs-assets/node_modules/.package-lock.json: data-docs-assets/package.json data-docs-assets/package-lock.json
	@if command -v npm >/dev/null; then echo "== npm ci in data-docs-assets (the Data Docs libraries)"; \
	  cd data-docs-assets && npm ci --ignore-scripts --loglevel=error; \
	else echo "WARNING: npm not found: Data Docs pages will load without jQuery, Bootstrap and Vega (install Node.js)"; fi

airflow-init: venv
	@scripts/airflow_init.sh

run: venv  ## Set up and run the tags DAG once against the local sandbox, then print the summary
	@scripts/run.sh

plan: venv  ## Dry run of both DAGs against the local sandbox: what they would write to Pleo (nothing is written)
	@scripts/run.sh --plan

.PHONY: report
report: venv  ## After make run: the latest tags run's summary from the warehouse; REPORT_ARGS="--help" (other DAG, run id, --list)
	@source scripts/env.sh && $(BIN)/python -m ghl_pleo.report $(REPORT_ARGS)

ui: venv  ## The Airflow UI (api-server, scheduler, dag-processor, triggerer) against the sandbox, until Ctrl-C or make ui-stop
	@scripts/ui.sh

ui-stop:  ## Stop what make ui started (from another terminal)
	@source scripts/env.sh && test ! -x $(BIN)/python || $(BIN)/python scripts/ui.py stop

packages:  ## Debian packages the tests need (postgresql, chromium, chromium-driver, redis-server, curl, npm), installed only when missing
	@scripts/ensure_packages.sh

lint: venv  ## ruff: the lint rules and the formatting in pyproject.toml (make format applies them)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: venv
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

test: packages venv lint  ## Lint, then the whole suite (starts the sandbox and PostgreSQL servers it needs itself)
	@source scripts/env.sh && $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: packages venv lint  ## Lint, then the suite without tests marked slow (unit, hooks, flows, warehouse)
	@source scripts/env.sh && $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow" $(PYTEST_ARGS)

bench: venv  ## Agency-scale benchmark through a real Airflow (not part of make test); BENCH_ARGS="--locations 50 --tags 1000", at agency size BENCH_ARGS="--locations 500 --fast-setup --memory-tags ''"
	@source scripts/env.sh && unset AIRFLOW_HOME && $(BIN)/python -m bench.run $(BENCH_ARGS)

sandbox: venv  ## Start the sandbox APIs in the background (GHL :8801, Pleo :8802)
	@source scripts/env.sh && $(BIN)/python -m sandbox.ctl up

sandbox-stop:
	@source scripts/env.sh && test ! -x $(BIN)/python || $(BIN)/python -m sandbox.ctl down

reset: ui-stop sandbox-stop  ## Forget the sandbox state, the warehouse and the local Airflow home
	rm -rf .sandbox .airflow
