#!/usr/bin/env bash
# make ui: the Airflow UI on http://127.0.0.1:${GHL_PLEO_UI_PORT:-8080} with make run's settings (the same Airflow
# home, warehouse, sandbox and connections): api-server, scheduler, dag-processor and triggerer in the foreground
# until Ctrl-C or `make ui-stop` (scripts/ui.py). The sandbox is started if it is not running, and then stopped too.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
export GHL_PLEO_UI_PORT="${GHL_PLEO_UI_PORT:-8080}"
"$BIN/python" scripts/ui.py check
source "$ROOT/scripts/sandbox_env.sh"
sandbox_start
"$ROOT/scripts/airflow_init.sh"
sandbox_connections
"$BIN/python" scripts/ui.py start
