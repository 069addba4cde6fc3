#!/usr/bin/env bash
# make run: run the tags DAG, then the statistics DAG, once through Airflow against the local sandbox and print
# their summaries. make plan (scripts/run.sh --plan): the same as dry runs: everything is read and checked,
# nothing is written to Pleo, and the summaries show what the runs would write.
set -euo pipefail
conf=()
if [ "${1:-}" = "--plan" ]; then conf=(-c '{"dry_run": true}'); echo "== DRY RUN: nothing will be written to Pleo"; fi
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/airflow_init.sh"

started=0
if ! "$BIN/python" -m sandbox.ctl health; then
  "$BIN/python" -m sandbox.ctl up
  started=1
fi
cleanup() { if [ "$started" = 1 ]; then "$BIN/python" -m sandbox.ctl down; fi; }
trap cleanup EXIT

export AIRFLOW_CONN_GHL_DEFAULT="{\"conn_type\": \"http\", \"host\": \"http://127.0.0.1:$GHL_SANDBOX_PORT\", \"password\": \"sandbox-ghl-token\"}"
export AIRFLOW_CONN_PLEO_DEFAULT="{\"conn_type\": \"http\", \"host\": \"http://127.0.0.1:$PLEO_SANDBOX_PORT\", \"password\": \"sandbox-pleo-token\", \"extra\": {\"company_id\": \"7d2a8f5e-1c3b-4e6f-9a0d-5b4c3e2f1a00\", \"max_requests_per_second\": 100}}"
export AIRFLOW_VAR_GHL_LOCATION_IDS="$("$BIN/python" -m sandbox.ctl locations)"

run_dag() {  # run_dag DAG_ID: one run through Airflow, then its summary from the warehouse
  local dag_id="$1" log="$AIRFLOW_HOME/last-run-$1.log" start
  echo "== airflow dags test $dag_id (console log: $log)"
  start=$(date +%s)
  if ! "$BIN/airflow" dags test "$dag_id" "${conf[@]}" > "$log" 2>&1; then
    echo "The run failed; the end of its log:"; tail -n 40 "$log"
    "$BIN/python" -m ghl_pleo.report --dag-id "$dag_id" || true
    return 1
  fi
  echo "== finished in $(( $(date +%s) - start )) s"
  "$BIN/python" -m ghl_pleo.report --dag-id "$dag_id"
}

run_dag ghl_pleo_tags_sync
echo
run_dag ghl_pleo_statistics_sync   # yesterday's UTC day (the run's data interval)
