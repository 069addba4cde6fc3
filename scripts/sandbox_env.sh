# The sandbox for make run / plan / ui (sourced after env.sh): start this checkout's sandbox unless it runs
# already (sandbox.ctl refuses a port some other server holds), stop it on exit only if started here, and point
# the connections and the location list at it.
sandbox_started=0
sandbox_start() {
  if ! "$BIN/python" -m sandbox.ctl health; then
    "$BIN/python" -m sandbox.ctl up
    sandbox_started=1
  fi
  trap sandbox_stop_if_started EXIT
}
sandbox_stop_if_started() { if [ "$sandbox_started" = 1 ]; then "$BIN/python" -m sandbox.ctl down; fi; }
sandbox_connections() {
  export AIRFLOW_CONN_GHL_DEFAULT="{\"conn_type\": \"http\", \"host\": \"http://127.0.0.1:$GHL_SANDBOX_PORT\", \"password\": \"sandbox-ghl-token\"}"
  export AIRFLOW_CONN_PLEO_DEFAULT="{\"conn_type\": \"http\", \"host\": \"http://127.0.0.1:$PLEO_SANDBOX_PORT\", \"password\": \"sandbox-pleo-token\", \"extra\": {\"company_id\": \"7d2a8f5e-1c3b-4e6f-9a0d-5b4c3e2f1a00\", \"currency\": \"DKK\", \"max_requests_per_second\": 100}}"
  AIRFLOW_VAR_GHL_LOCATION_IDS="$("$BIN/python" -m sandbox.ctl locations)"
  export AIRFLOW_VAR_GHL_LOCATION_IDS
}
sandbox_mapping() {  # the mapping file with a monthly budget per sandbox location (unless GHL_PLEO_MAPPING_FILE is set)
  if [ -n "${GHL_PLEO_MAPPING_FILE:-}" ]; then return; fi
  GHL_PLEO_MAPPING_FILE="$AIRFLOW_HOME/mapping-sandbox.yaml"
  "$BIN/python" - "$ROOT/include/mapping.yaml" "$GHL_PLEO_MAPPING_FILE" "$AIRFLOW_VAR_GHL_LOCATION_IDS" <<'PY'
import json, sys, yaml
data = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
data["budgets"] = {loc: {"monthly": "1500.00"} for loc in json.loads(sys.argv[3])}
open(sys.argv[2], "w", encoding="utf-8").write("# written by make run: include/mapping.yaml with sandbox budgets\n" + yaml.safe_dump(data, sort_keys=False))
PY
  export GHL_PLEO_MAPPING_FILE
}
