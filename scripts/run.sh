#!/usr/bin/env bash
# make run: run the tags DAG, then the statistics DAG, then (after generating the sandbox's seeded accounting
# entries) the spend DAG, once through Airflow against the local sandbox and print their summaries (the spend one:
# per location spend, impressions, cost per 1,000 impressions, budget used, suggestions found).
# make plan (scripts/run.sh --plan): the same as dry runs: everything is read and checked,
# nothing is written to Pleo, and the summaries show what the runs would write.
set -euo pipefail
conf=()
if [ "${1:-}" = "--plan" ]; then conf=(-c '{"dry_run": true}'); echo "== DRY RUN: nothing will be written to Pleo"; fi
source "$(dirname "$0")/env.sh"
cd "$ROOT"
source "$ROOT/scripts/sandbox_env.sh"
sandbox_start   # first: a port held by another server fails here, before anything else is set up
"$ROOT/scripts/airflow_init.sh"
sandbox_connections
sandbox_mapping   # include/mapping.yaml plus a budget per sandbox location

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
echo
# the seeded accounting entries of the spend DAG's lookback window (none before a real tags run made the groups)
"$BIN/python" -m sandbox.ctl entries || echo "No accounting entries generated: the sandbox's Pleo has no ghl-social groups yet"
run_dag ghl_pleo_spend_sync        # yesterday's UTC day, re-reading the 7 days ending it
