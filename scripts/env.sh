# Shared environment for the Makefile's targets (sourced; not executable on its own).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export PYTHONPATH="$ROOT/plugins:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export GHL_SANDBOX_PORT="${GHL_SANDBOX_PORT:-8801}"
export PLEO_SANDBOX_PORT="${PLEO_SANDBOX_PORT:-8802}"
# The warehouse, set explicitly (there is no fallback): a SQLite file in the local Airflow home unless given.
export AIRFLOW_CONN_GHL_PLEO_DB="${AIRFLOW_CONN_GHL_PLEO_DB:-{\"conn_type\": \"generic\", \"extra\": {\"sqlalchemy_url\": \"sqlite:///$AIRFLOW_HOME/ghl_pleo.db\"}}}"
BIN="$ROOT/.venv/bin"
