"""Airflow local settings for ghl-pleo (Airflow imports this in each of its processes).

Two things. Known warnings no operator can act on (graphviz, deprecations in Airflow's own code) are
filtered before the CLI's imports print them (:mod:`ghl_pleo.quiet`). And the scheduler (whose LocalExecutor
forks every task process from it) and a Celery worker (whose pool forks from it) import Great
Expectations once at start, so each task inherits it instead of paying its ~5 s
import again: at 500 locations an hour that is 40 CPU-minutes saved per run.
Every other Airflow command is left as it is. Set GHL_PLEO_PRELOAD=0 to turn it off.
"""

from __future__ import annotations

import os
import sys

__all__: list[str] = []  # no cluster policies here


def _preload() -> None:
    args = [a for a in sys.argv[1:4] if not a.startswith("-")]
    forks_tasks = args[:1] == ["scheduler"] or args[:2] == ["celery", "worker"]
    if not forks_tasks or os.environ.get("GHL_PLEO_PRELOAD", "1") == "0":
        return
    try:
        import great_expectations  # noqa: F401
    except Exception:  # noqa: BLE001 - an optimisation only; the task imports it itself otherwise
        pass


def _quiet() -> None:
    """Known warnings no operator can act on stay out of the logs (ghl_pleo/quiet.py lists them)."""
    try:
        from ghl_pleo.quiet import quiet_warnings
    except ImportError:  # the package is not on the path (a bare Airflow image): nothing to quiet
        return
    quiet_warnings()


_quiet()
_preload()
