"""One "host" of the cross-host refresh test: ``python -m tests.hooks.oauth_host ROUNDS PAUSE_S READY GO``.

Its environment carries its own ``AIRFLOW_HOME``, the agency OAuth connection, the shared warehouse and the fernet
key. It says it is ready (creates READY), waits for GO, then runs ROUNDS rounds of "the agency access token, then
one authenticated call with it", PAUSE_S apart, and prints one JSON line: rounds, failures (kind: message).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.warehouse import Warehouse


def main(rounds: int, pause_s: float, ready: Path, go: Path) -> None:
    hook = GhlHook(token_store=Warehouse().tokens, retry=RetryPolicy(max_attempts=1))
    _ = hook.client, hook.oauth  # built before the start, like a worker between tasks
    ready.touch()
    while not go.exists():
        time.sleep(0.01)
    failures = []
    for _round in range(rounds):
        try:
            hook.oauth.agency_token()
            hook.search_locations()  # GET /locations/search with the agency token
        except Exception as exc:  # noqa: BLE001 - counted and reported, the test asserts there are none
            failures.append(f"{getattr(exc, 'kind', type(exc).__name__)}: {exc}")
        time.sleep(pause_s)
    print(json.dumps({"rounds": rounds, "failures": failures}))


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
