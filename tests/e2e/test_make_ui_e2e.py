"""`make ui` as a new user runs it: it starts Airflow against the sandbox, prints the URL and the login, the login
works in a browser, the DAGs and the health dashboard are there; a second `make ui` says one runs; `make ui-stop`
and Ctrl-C each stop every process it started (the sandbox included) and free the ports, and it starts again.

Everything goes to a temporary Airflow home, sandbox folder and free ports (GHL_PLEO_UI_PORT, GHL_SANDBOX_PORT,
PLEO_SANDBOX_PORT, SANDBOX_DIR and Airflow's log-server ports), so it never meets the checkout's own `make ui`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.sandbox_client import free_port

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 600  # a first start migrates a fresh metadata DB on a busy 2-core machine

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


class MakeUi:
    """`make ui` in the foreground of its own terminal-like process group, its output collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            ["make", "--no-print-directory", "ui"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: what a terminal's Ctrl-C signals
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self) -> tuple[str, str, str]:
        """(URL, user, password) as `make ui` prints them once the UI answers."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not any("log in as user" in line for line in self.lines):
            assert self.proc.poll() is None, f"make ui exited with {self.proc.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"make ui printed no login:\n{self.output()}"
            time.sleep(1)
        url = re.search(r"The Airflow UI runs at (http://\S+)", self.output()).group(1)
        user, password = re.search(r"log in as user '([^']+)', password '([^']+)'", self.output()).groups()
        return url, user, password

    def wait_exit(self) -> int:
        code = self.proc.wait(timeout=180)
        time.sleep(0.5)  # the reader thread takes the last lines
        return code


def _processes_of(home: Path) -> list[str]:
    """Every live process whose environment has AIRFLOW_HOME=home (Airflow's components, their task processes and
    the sandbox `make ui` started: all inherit it), as 'pid cmdline'."""
    needle = f"AIRFLOW_HOME={home}".encode()
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
                continue
            if needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(f"{pid} {Path(f'/proc/{pid}/cmdline').read_bytes().replace(bytes(1), b' ').decode()}")
        except OSError:
            continue
    return found


def _port_free(port: int) -> bool:
    """Nothing listens on ``port`` and a server could listen there again (SO_REUSEADDR, as servers bind, since
    the closed connections of the browser leave the port in TIME_WAIT for a minute)."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture(scope="module")
def ui_env(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("make-ui")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update(
        AIRFLOW_HOME=str(tmp / "airflow"),
        SANDBOX_DIR=str(tmp / "sandbox"),
        GHL_PLEO_UI_PORT=str(free_port()),
        GHL_SANDBOX_PORT=str(free_port()),
        PLEO_SANDBOX_PORT=str(free_port()),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGERER_LOG_SERVER_PORT=str(free_port()),
    )
    return env


def _assert_all_stopped(env: dict[str, str], seen: list[str]) -> None:
    home = Path(env["AIRFLOW_HOME"])
    assert seen, "no process of this make ui was found while it ran"
    assert _processes_of(home) == [], "still running after the stop"
    for port in ("GHL_PLEO_UI_PORT", "GHL_SANDBOX_PORT", "PLEO_SANDBOX_PORT"):
        assert _port_free(int(env[port])), f"{port}={env[port]} is still taken"
    assert not (home / "ui.pid").exists()
    assert not (Path(env["SANDBOX_DIR"]) / "sandbox.pid").exists()


def test_make_ui_logs_in_shows_the_dashboard_and_make_ui_stop_stops_everything(ui_env, browser, output_dir):
    ui = MakeUi(ui_env)
    try:
        url, user, password = ui.wait_ready()
        assert url == f"http://127.0.0.1:{ui_env['GHL_PLEO_UI_PORT']}"
        assert f"{url}/ghl-pleo/" in ui.output()
        pids = json.loads((Path(ui_env["AIRFLOW_HOME"]) / "ui.pid").read_text())
        assert set(pids["components"]) == {"api-server", "scheduler", "dag-processor", "triggerer"}

        again = subprocess.run(["make", "ui"], cwd=ROOT, env=ui_env, capture_output=True, text=True, timeout=120)
        assert again.returncode != 0 and "runs already" in again.stdout + again.stderr, again
        assert url in again.stdout + again.stderr

        browser.login_airflow(url, user, password)
        browser.open(f"{url}/dags", text="ghl_pleo_tags_sync")  # the dag-processor parsed the DAGs
        assert all(dag in browser.text() for dag in ("ghl_pleo_statistics_sync", "ghl_pleo_health"))
        browser.open(f"{url}/ghl-pleo/", css="#locations")
        assert "GHL-Pleo health" in browser.text()
        browser.screenshot(output_dir / "make-ui-dashboard.png")
        seen = _processes_of(Path(ui_env["AIRFLOW_HOME"]))
        assert any("-m sandbox" in p for p in seen), seen  # make ui started the sandbox too

        stop = subprocess.run(["make", "ui-stop"], cwd=ROOT, env=ui_env, capture_output=True, text=True, timeout=180)
        assert stop.returncode == 0 and "has stopped" in stop.stdout, stop
        assert ui.wait_exit() == 0, ui.output()
        assert "the Airflow UI has stopped" in ui.output()
        _assert_all_stopped(ui_env, seen)
    finally:
        if ui.proc.poll() is None:
            os.killpg(ui.proc.pid, signal.SIGTERM)


def test_make_ui_starts_again_and_ctrl_c_stops_everything(ui_env):
    ui = MakeUi(ui_env)  # after the first test's stop: nothing left behind blocks a restart
    try:
        ui.wait_ready()
        seen = _processes_of(Path(ui_env["AIRFLOW_HOME"]))
        os.killpg(ui.proc.pid, signal.SIGINT)  # Ctrl-C in its terminal: make, the script and Python all get it
        ui.wait_exit()
        assert "the Airflow UI has stopped" in ui.output(), ui.output()
        _assert_all_stopped(ui_env, seen)
    finally:
        if ui.proc.poll() is None:
            os.killpg(ui.proc.pid, signal.SIGTERM)
