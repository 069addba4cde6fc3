"""Start, stop and query the sandbox from scripts: ``python -m sandbox.ctl up|down|locations|health``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = ROOT / ".sandbox"
PID_FILE = STATE_DIR / "sandbox.pid"
GHL_PORT = int(os.environ.get("GHL_SANDBOX_PORT", 8801))
PLEO_PORT = int(os.environ.get("PLEO_SANDBOX_PORT", 8802))


def _get(port: int, path: str, timeout: float = 2.0) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
        return json.load(resp)


def healthy() -> bool:
    try:
        return bool(_get(GHL_PORT, "/_admin/health").get("ok") and _get(PLEO_PORT, "/_admin/health").get("ok"))
    except OSError:
        return False


def up() -> None:
    if healthy():
        print(f"sandbox already running on ports {GHL_PORT} (GHL) and {PLEO_PORT} (Pleo)")
        return
    STATE_DIR.mkdir(exist_ok=True)
    log = open(STATE_DIR / "sandbox.log", "ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--ghl-port",
            str(GHL_PORT),
            "--pleo-port",
            str(PLEO_PORT),
            "--state-file",
            str(STATE_DIR / "state.json"),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
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
    sys.exit("sandbox did not become healthy within 30 s; see .sandbox/sandbox.log")


def down() -> None:
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


if __name__ == "__main__":
    commands = {"up": up, "down": down, "locations": locations, "health": lambda: sys.exit(0 if healthy() else 1)}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python -m sandbox.ctl {'|'.join(commands)}")
    commands[sys.argv[1]]()
