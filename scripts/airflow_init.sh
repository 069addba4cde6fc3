#!/usr/bin/env bash
# Create the local Airflow home and metadata DB (idempotent) and the group-write pool.
set -euo pipefail
source "$(dirname "$0")/env.sh"
mkdir -p "$AIRFLOW_HOME"
if [ ! -f "$AIRFLOW_HOME/.db-ready" ] || [ "$AIRFLOW_HOME/.db-ready" -ot "$ROOT/requirements.txt" ]; then
  echo "== airflow db migrate ($AIRFLOW_HOME)"
  "$BIN/airflow" db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -n 30 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
  "$BIN/airflow" pools set ghl_pleo_group_writes 1 "Serialises Pleo tag-group writes across the ghl-pleo DAGs" > /dev/null
  touch "$AIRFLOW_HOME/.db-ready"
fi
