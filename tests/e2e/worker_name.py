"""Airflow's ``hostname_callable`` for the Celery test: each worker reports its own name, so task instances show
which of two workers on one machine ran them."""

from __future__ import annotations

import os
import socket


def name() -> str:
    return os.environ.get("GHL_PLEO_TEST_WORKER") or socket.getfqdn()
