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
BIN="$ROOT/.venv/bin"
