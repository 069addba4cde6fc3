"""`make run` reuses only this checkout's own sandbox (sandbox/ctl.py): a server on 8801/8802 that is not it,
another checkout's sandbox included, is an error naming the port and the variable that moves it, and nothing is
sent to it but the instance probe. Free ports and a temporary SANDBOX_DIR throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.sandbox_client import free_port

ROOT = Path(__file__).resolve().parents[2]


class Impostor:
    """Some other HTTP server on the port: answers every GET with ``{"ok": true}`` (so it even looks healthy to a
    liveness probe) and records the paths it was asked for."""

    def __init__(self) -> None:
        paths = self.paths = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                paths.append(self.path)
                body = json.dumps({"ok": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PUT = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def impostors():
    servers = [Impostor(), Impostor()]
    yield servers
    for server in servers:
        server.close()


def _env(tmp_path: Path, ghl_port: int, pleo_port: int, sandbox_dir: str = "sandbox") -> dict[str, str]:
    return {
        **os.environ,
        "GHL_SANDBOX_PORT": str(ghl_port),
        "PLEO_SANDBOX_PORT": str(pleo_port),
        "SANDBOX_DIR": str(tmp_path / sandbox_dir),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
    }


def _ctl(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sandbox.ctl", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_foreign_server_on_the_ghl_port_is_an_error_naming_port_and_variable(tmp_path, impostors):
    foreign, pleo_port = impostors[0], free_port()
    env = _env(tmp_path, foreign.port, pleo_port)
    assert _ctl("health", env).returncode == 1
    up = _ctl("up", env)
    assert up.returncode == 1, up
    assert f"port {foreign.port} (the GHL sandbox) is already in use" in up.stderr, up.stderr
    assert "set GHL_SANDBOX_PORT to a free port" in up.stderr
    assert "PLEO_SANDBOX_PORT" not in up.stderr  # the Pleo port is free: only the busy one is named
    assert not (tmp_path / "sandbox" / "sandbox.pid").exists()  # no sandbox was started beside it
    assert _ctl("health", env).returncode == 1


def test_make_run_does_not_reuse_a_foreign_server_on_both_ports(tmp_path, impostors):
    ghl, pleo = impostors
    run = subprocess.run(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=_env(tmp_path, ghl.port, pleo.port),
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert f"port {ghl.port} (the GHL sandbox)" in out and "GHL_SANDBOX_PORT" in out, out
    assert f"port {pleo.port} (the Pleo sandbox)" in out and "PLEO_SANDBOX_PORT" in out, out
    # Nothing but the instance probe reached them: no location list, no GHL or Pleo API call, no run.
    assert set(ghl.paths) | set(pleo.paths) <= {"/__sandbox/instance"}, (ghl.paths, pleo.paths)
    assert "airflow dags test" not in out


def test_another_checkouts_sandbox_is_refused_and_our_own_is_reused(tmp_path):
    ports = free_port(), free_port()
    ours, theirs = _env(tmp_path, *ports, "ours"), _env(tmp_path, *ports, "theirs")
    started = _ctl("up", theirs)
    assert started.returncode == 0, started
    try:
        up = _ctl("up", ours)
        assert up.returncode == 1, up
        assert f"port {ports[0]} (the GHL sandbox) is already in use by a sandbox that is not this checkout's" in (
            up.stderr
        )
        assert "GHL_SANDBOX_PORT" in up.stderr and "PLEO_SANDBOX_PORT" in up.stderr
        assert _ctl("health", ours).returncode == 1

        pid = (tmp_path / "theirs" / "sandbox.pid").read_text()
        again = _ctl("up", theirs)  # its own checkout reuses it
        assert again.returncode == 0 and "already running" in again.stdout, again
        assert (tmp_path / "theirs" / "sandbox.pid").read_text() == pid
        assert _ctl("health", theirs).returncode == 0
    finally:
        _ctl("down", theirs)
    assert _ctl("health", theirs).returncode == 1
