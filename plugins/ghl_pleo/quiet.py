"""Quiet logs: the known warnings Airflow and its libraries print on every run that no operator can act on.

Each filter names its category, the module that warns and the start of its message, so any other warning still
shows. Installed by ``airflow_local_settings`` (the first of our code each Airflow process imports, before the
CLI's own imports warn) and again by the package itself (a process that imports it without Airflow's settings).
Imports nothing but :mod:`warnings`.
"""

from __future__ import annotations

import warnings

# (category, message regex, module regex): the module whose line raised the warning.
FILTERS: tuple[tuple[type[Warning], str, str], ...] = (
    # `airflow dags test` imports its graph renderer; the project never renders graphs.
    (UserWarning, r"Could not import graphviz", r"airflow\.cli\.commands\.dag_command"),
    # Airflow's DAG-file discovery uses pathspec's old pattern name (Airflow's to change, on every parse).
    (
        DeprecationWarning,
        r"GitWildMatchPattern",
        r"airflow(\.sdk)?\._shared\.module_loading\.file_discovery|pathspec\.pattern",
    ),
    # `airflow dags test` runs the execution API in process through FastAPI's test client (Starlette's
    # deprecation warnings are UserWarnings).
    (UserWarning, r"Using `httpx` with `starlette\.testclient`", r"fastapi\.testclient"),
)


def quiet_warnings() -> None:
    """Install the filters (idempotent: ``warnings`` drops an identical filter before adding it again)."""
    for category, message, module in FILTERS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
