"""Start, stop and query the sandbox from scripts: ``python -m sandbox.ctl up|down|locations|health|entries``.

``entries`` generates the seeded accounting entries (``POST /_admin/pleo/entries/generate``, company currency DKK)
for the spend sync's default lookback: the 7 UTC days ending yesterday (the day a manual spend run syncs). Same
Pleo tags, same day: the same entries, so a second ``make run`` finds nothing new.

Only this checkout's own sandbox is ever reused: ``up`` gives the process an instance id (a hash of the state
folder's path and a random token, kept in ``.sandbox/instance``), the sandbox reports it at
``GET /__sandbox/instance``, and a port that answers with anything else is an error naming the port and the
variable that moves it. ``SANDBOX_DIR`` moves the state folder (default ``.sandbox/`` in the checkout).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = Path(os.environ.get("SANDBOX_DIR") or ROOT / ".sandbox").resolve()
PID_FILE = STATE_DIR / "sandbox.pid"
INSTANCE_FILE = STATE_DIR / "instance"
INSTANCE_PATH = "/__sandbox/instance"  # sandbox.app
GHL_PORT = int(os.environ.get("GHL_SANDBOX_PORT", 8801))
PLEO_PORT = int(os.environ.get("PLEO_SANDBOX_PORT", 8802))
# (port, which API, the environment variable that sets it)
PORTS = ((GHL_PORT, "GHL", "GHL_SANDBOX_PORT"), (PLEO_PORT, "Pleo", "PLEO_SANDBOX_PORT"))


def _get(port: int, path: str, timeout: float = 2.0) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
        return json.load(resp)


def _reported_instance(port: int) -> tuple[bool, str | None]:
    """(is it a sandbox at all, the instance id it reports) for whatever answers HTTP on ``port``."""
    try:
        body = _get(port, INSTANCE_PATH)
    except (OSError, ValueError):
        return False, None
    if not isinstance(body, dict) or body.get("sandbox") is not True:
        return False, None
    return True, body.get("instance")


def _own_instance() -> str | None:
    try:
        return INSTANCE_FILE.read_text().strip() or None
    except OSError:
        return None


def healthy() -> bool:
    """Both ports answer as this checkout's sandbox (the instance id it was started with) and are healthy."""
    own = _own_instance()
    if own is None or any(_reported_instance(port) != (True, own) for port, _, _ in PORTS):
        return False
    try:
        return all(_get(port, "/_admin/health").get("ok") for port, _, _ in PORTS)
    except (OSError, ValueError):
        return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def busy_ports() -> list[str]:
    """What is wrong with each port that something else already uses, one message per port."""
    problems = []
    for port, api, variable in PORTS:
        if not _listening(port):
            continue
        is_sandbox, _ = _reported_instance(port)
        what = (
            "a sandbox that is not this checkout's (another checkout's, or one started by hand)"
            if is_sandbox
            else "another server, not this checkout's sandbox"
        )
        problems.append(
            f"port {port} (the {api} sandbox) is already in use by {what}; it is not reused. Stop that server, "
            f"or set {variable} to a free port (e.g. `{variable}={port + 10} make run`)."
        )
    return problems


def _spawn(instance: str) -> subprocess.Popen:
    log = open(STATE_DIR / "sandbox.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--ghl-port", str(GHL_PORT), "--pleo-port", str(PLEO_PORT)]
        + ["--state-file", str(STATE_DIR / "state.json")],
        cwd=ROOT,
        stdout=log,
        stderr=log,
        start_new_session=True,
        env={**os.environ, "SANDBOX_INSTANCE_ID": instance},
    )


def up() -> None:
    if healthy():
        print(f"sandbox already running on ports {GHL_PORT} (GHL) and {PLEO_PORT} (Pleo)")
        return
    problems = busy_ports()
    if problems:
        sys.exit("\n".join(problems) + "\n(`make sandbox-stop` stops a sandbox this checkout started.)")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    instance = f"{hashlib.sha256(str(STATE_DIR).encode()).hexdigest()[:16]}-{secrets.token_hex(8)}"
    INSTANCE_FILE.write_text(instance + "\n")
    proc = _spawn(instance)
    PID_FILE.write_text(str(proc.pid))
    for _ in range(150):
        if healthy():
            print(
                f"sandbox started (pid {proc.pid}): GHL http://127.0.0.1:{GHL_PORT}, Pleo http://127.0.0.1:{PLEO_PORT}"
            )
            return
        if proc.poll() is not None:
            sys.exit(f"sandbox exited with code {proc.returncode}; see {STATE_DIR / 'sandbox.log'}")
        time.sleep(0.2)
    sys.exit(f"sandbox did not become healthy within 30 s; see {STATE_DIR / 'sandbox.log'}")


def down() -> None:
    INSTANCE_FILE.unlink(missing_ok=True)
    if not PID_FILE.exists():
        return
    pid = int(PID_FILE.read_text().strip() or 0)
    PID_FILE.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def locations() -> None:
    print(json.dumps([loc["id"] for loc in _get(GHL_PORT, "/_admin/ghl/locations")["locations"]]))


def entries(days: int = 7) -> None:
    from datetime import UTC, datetime, timedelta

    start = (datetime.now(UTC).date() - timedelta(days=days)).isoformat()
    body = json.dumps({"start": start, "days": days, "currency": "DKK"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{GHL_PORT}/_admin/pleo/entries/generate",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            made = json.load(resp)["entries"]
    except urllib.error.HTTPError as exc:  # 409: no ghl-social groups in the sandbox's Pleo yet (no tags run)
        sys.exit(f"The sandbox generated no accounting entries ({exc.code}): {exc.read().decode(errors='replace')}")
    print(f"{len(made)} accounting entries in the sandbox, {days} days from {start} (DKK)")


if __name__ == "__main__":
    commands = {
        "up": up,
        "down": down,
        "locations": locations,
        "entries": entries,
        "health": lambda: sys.exit(0 if healthy() else 1),
    }
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python -m sandbox.ctl {'|'.join(commands)}")
    commands[sys.argv[1]]()
