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
  export AIRFLOW_CONN_PLEO_DEFAULT="{\"conn_type\": \"http\", \"host\": \"http://127.0.0.1:$PLEO_SANDBOX_PORT\", \"password\": \"sandbox-pleo-token\", \"extra\": {\"company_id\": \"7d2a8f5e-1c3b-4e6f-9a0d-5b4c3e2f1a00\", \"max_requests_per_second\": 100}}"
  AIRFLOW_VAR_GHL_LOCATION_IDS="$("$BIN/python" -m sandbox.ctl locations)"
  export AIRFLOW_VAR_GHL_LOCATION_IDS
}
