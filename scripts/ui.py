"""make ui / make ui-stop: a local Airflow UI (api-server, scheduler, dag-processor, triggerer) on loopback.

    python scripts/ui.py check   # exit 1, saying so, when this Airflow home's UI runs already
    python scripts/ui.py start   # start the four, print the URL and the login, run until Ctrl-C or `stop`
    python scripts/ui.py stop    # stop a UI started from another terminal

scripts/ui.sh runs ``check`` and ``start`` with make run's environment (scripts/env.sh, the sandbox's connections).
Each component runs in a session of its own, so stopping one stops everything it started too. ``$AIRFLOW_HOME/ui.pid``
(JSON: this process and the components) exists while the UI runs and is removed when it stops, whichever way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HOME = Path(os.environ.get("AIRFLOW_HOME") or Path(__file__).resolve().parents[1] / ".airflow")
PID_FILE = HOME / "ui.pid"
LOG_DIR = HOME / "ui-logs"
PORT = int(os.environ.get("GHL_PLEO_UI_PORT") or 8080)
URL = f"http://127.0.0.1:{PORT}"
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 300
STOP_TIMEOUT_S = 30


def _alive(pid: int) -> bool:
    """``pid`` runs and is an Airflow process or this script (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"airflow" in cmdline or b"ui.py" in cmdline


def _read_pids() -> dict | None:
    try:
        return json.loads(PID_FILE.read_text())
    except (OSError, ValueError):
        return None


def _running() -> dict | None:
    """The pid file of a UI that still runs (a stale one is removed)."""
    pids = _read_pids()
    if pids is None:
        PID_FILE.unlink(missing_ok=True)
        return None
    if _alive(pids["supervisor"]) or _session_members(list(pids["components"].values())):
        return pids
    PID_FILE.unlink(missing_ok=True)
    return None


def check() -> None:
    pids = _running()
    if pids:
        sys.exit(
            f"The Airflow UI of {HOME} runs already at {pids['url']} (pid {pids['supervisor']}). "
            "Use it, or stop it with Ctrl-C in its terminal or `make ui-stop`."
        )
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", PORT)) == 0:
            sys.exit(
                f"Port {PORT} is in use by another program; set GHL_PLEO_UI_PORT to a free port "
                f"(e.g. `GHL_PLEO_UI_PORT={PORT + 1} make ui`)."
            )


def _env() -> dict[str, str]:
    return {
        "AIRFLOW__CORE__PARALLELISM": "10",  # LocalExecutor processes (Airflow's default, 32, is a lot locally)
        **os.environ,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(PORT),
        "AIRFLOW__API__BASE_URL": URL,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{URL}/execution/",
    }


def _spawn(component: str) -> subprocess.Popen:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / f"{component}.log", "ab") as log:
        return subprocess.Popen(
            [str(BIN / "airflow"), component],
            env=_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _stop_components(pids: dict[str, int]) -> None:
    """The api-server last: a task stopped mid-run reports its end through it."""
    _stop_sessions([pid for name, pid in pids.items() if name != "api-server"])
    _stop_sessions([pid for name, pid in pids.items() if name == "api-server"])


def _stop_sessions(leaders: list[int]) -> None:
    """Stop each component with everything it started: the processes of its session (the task processes of the
    scheduler's LocalExecutor have process groups of their own, but stay in its session). SIGTERM to all of them,
    then SIGKILL to what is left after STOP_TIMEOUT_S."""
    _signal_all(leaders, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _session_members(leaders) and time.monotonic() < deadline:
        time.sleep(0.2)
    while _session_members(leaders):
        _signal_all(leaders, signal.SIGKILL)
        time.sleep(0.1)


def _signal_all(leaders: list[int], sig: int) -> None:
    for pid in _session_members(leaders):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _session_members(leaders: list[int]) -> list[int]:
    """The live processes (zombies do not count) whose session is one of ``leaders``' (a component's pid)."""
    for leader in leaders:
        _reap(leader)
    members = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
        if int(session) in leaders and state != "Z":
            members.append(pid)
    return members


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _healthy() -> bool:
    try:
        with urllib.request.urlopen(f"{URL}/api/v2/monitor/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _login_lines() -> list[str]:
    if os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "").lower() == "true":
        return ["   no login: AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS makes everyone an admin"]
    path = Path(
        os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
        or HOME / "simple_auth_manager_passwords.json.generated"
    )
    try:
        passwords = json.loads(path.read_text())
    except (OSError, ValueError):
        return [f"   log in with a user and password from {path}"]
    lines = [f"   log in as user {user!r}, password {password!r}" for user, password in passwords.items()]
    return lines + [f"   (the api-server generated it on its first start and keeps it in {path})"]


class _Stop(Exception):
    """Ctrl-C (SIGINT) or `make ui-stop` (SIGTERM)."""


def _on_signal(signum, frame) -> None:
    raise _Stop


def _wait_until_healthy(procs: dict[str, subprocess.Popen]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _healthy():
        _check_alive(procs)
        if time.monotonic() > deadline:
            raise RuntimeError(f"the api-server did not answer within {START_TIMEOUT_S} s; see {LOG_DIR}")
        time.sleep(1)


def _check_alive(procs: dict[str, subprocess.Popen]) -> None:
    for name, proc in procs.items():
        if proc.poll() is not None:
            raise RuntimeError(f"airflow {name} exited with code {proc.returncode}; see {LOG_DIR / (name + '.log')}")


def _print_ready() -> None:
    ghl, pleo = os.environ.get("GHL_SANDBOX_PORT", "8801"), os.environ.get("PLEO_SANDBOX_PORT", "8802")
    lines = [
        f"== The Airflow UI runs at {URL}",
        *_login_lines(),
        f"   health dashboard: {URL}/ghl-pleo/ (in the UI: Browse > GHL-Pleo health)",
        f"   against the sandbox (GHL http://127.0.0.1:{ghl}, Pleo http://127.0.0.1:{pleo}), as make run",
        "   The DAGs start paused. The trigger form's 'Unpause ... on trigger' box also starts the DAG's schedule",
        "   (real runs, one at once; README, 'Use the Airflow UI').",
        f"   logs: {LOG_DIR}/<component>.log. Stop: Ctrl-C here, or `make ui-stop` in another terminal.",
    ]
    print("\n".join(lines), flush=True)


def start() -> None:
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    procs: dict[str, subprocess.Popen] = {}
    code = 0
    try:
        print(f"== starting airflow {', '.join(COMPONENTS)} (logs: {LOG_DIR})", flush=True)
        for name in COMPONENTS:
            procs[name] = _spawn(name)
            PID_FILE.write_text(
                json.dumps({"supervisor": os.getpid(), "url": URL, "components": {n: p.pid for n, p in procs.items()}})
            )
        _wait_until_healthy(procs)
        _print_ready()
        while True:
            _check_alive(procs)
            time.sleep(1)
    except _Stop:
        print("\n== stopping the Airflow UI", flush=True)
    except RuntimeError as exc:
        print(f"== {exc}; stopping the others", file=sys.stderr, flush=True)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the stopping short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_components({name: p.pid for name, p in procs.items()})
        PID_FILE.unlink(missing_ok=True)
    print("== the Airflow UI has stopped", flush=True)
    sys.exit(code)


def stop() -> None:
    pids = _running()
    if pids is None:
        print(f"The Airflow UI of {HOME} is not running.")
        return
    if _alive(pids["supervisor"]):
        os.kill(pids["supervisor"], signal.SIGTERM)  # it stops its components and removes the pid file
        deadline = time.monotonic() + 2 * STOP_TIMEOUT_S + 10  # it stops the api-server after the others
        while _alive(pids["supervisor"]) and time.monotonic() < deadline:
            time.sleep(0.2)
    _stop_components(pids["components"])  # whatever a killed supervisor left behind
    PID_FILE.unlink(missing_ok=True)
    print(f"The Airflow UI at {pids['url']} has stopped.")


if __name__ == "__main__":
    commands = {"check": check, "start": start, "stop": stop}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python scripts/ui.py {'|'.join(commands)}")
    commands[sys.argv[1]]()
