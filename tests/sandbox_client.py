"""Test helper: start a sandbox process on free ports and drive its admin API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
PLEO_COMPANY = "7d2a8f5e-1c3b-4e6f-9a0d-5b4c3e2f1a00"
GHL_TOKEN = "sandbox-ghl-token"
PLEO_TOKEN = "sandbox-pleo-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    """A running sandbox process plus admin helpers."""

    def __init__(self, workdir: Path, config: dict | None = None, *, persist: bool = True) -> None:
        self.ghl_port, self.pleo_port = free_port(), free_port()
        self.ghl_url = f"http://127.0.0.1:{self.ghl_port}"
        self.pleo_url = f"http://127.0.0.1:{self.pleo_port}"
        self.state_file = workdir / "sandbox-state.json"
        self.log = open(workdir / "sandbox.log", "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandbox",
                "--ghl-port",
                str(self.ghl_port),
                "--pleo-port",
                str(self.pleo_port),
                "--state-file",
                str(self.state_file) if persist else "",
                "--config",
                json.dumps(config or {}),
            ],
            cwd=ROOT,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if (
                    requests.get(f"{self.ghl_url}/_admin/health", timeout=1).ok
                    and requests.get(f"{self.pleo_url}/_admin/health", timeout=1).ok
                ):
                    return
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"sandbox exited with {self.proc.returncode}; see {workdir / 'sandbox.log'}")
            time.sleep(0.1)
        raise RuntimeError("sandbox did not start within 30 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()

    # admin -------------------------------------------------------------------------------
    def _admin(self, method: str, path: str, **kwargs) -> dict:
        resp = requests.request(method, f"{self.ghl_url}/_admin{path}", timeout=30, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def reset(self, **seed) -> list[str]:
        return self._admin("POST", "/reset", json=seed)["locations"]

    def configure(self, **config) -> None:
        self._admin("PUT", "/config", json=config)

    def locations(self) -> list[dict]:
        return self._admin("GET", "/ghl/locations")["locations"]

    def ghl_tags(self, location_id: str) -> list[dict]:
        return self._admin("GET", f"/ghl/locations/{location_id}/tags")["tags"]

    def add_tag(self, location_id: str, **tag) -> dict:
        return self._admin("POST", f"/ghl/locations/{location_id}/tags", json=tag)

    def edit_tag(self, location_id: str, tag_id: str, **changes) -> dict:
        return self._admin("PATCH", f"/ghl/locations/{location_id}/tags/{tag_id}", json=changes)

    def remove_tag(self, location_id: str, tag_id: str) -> None:
        self._admin("DELETE", f"/ghl/locations/{location_id}/tags/{tag_id}")

    def pleo_state(self) -> dict:
        return self._admin("GET", "/pleo/state")

    def pleo_add_tag(self, **tag) -> dict:
        return self._admin("POST", "/pleo/tags", json=tag)

    def requests(self) -> dict[str, int]:
        return self._admin("GET", "/requests")["requests"]

    def traffic(self) -> dict:
        """Requests by endpoint, GHL requests by location, and each API's first/last request time."""
        return self._admin("GET", "/requests")

    def clear_requests(self) -> None:
        self._admin("DELETE", "/requests")

    def exchanges(self) -> list[dict]:
        return self._admin("GET", "/exchanges")["exchanges"]

    def fault(self, **fault) -> None:
        self._admin("POST", "/faults", json=fault)

    def clear_faults(self) -> None:
        self._admin("DELETE", "/faults")

    # connections for Airflow ----------------------------------------------------------------
    def env(
        self, location_ids: list[str] | None = None, *, ghl_extra: dict | None = None, **pleo_extra
    ) -> dict[str, str]:
        """Airflow connections to this sandbox (and the location list); extras override the defaults."""
        env = {
            "AIRFLOW_CONN_GHL_DEFAULT": json.dumps(
                {
                    "conn_type": "http",
                    "host": self.ghl_url,
                    "password": GHL_TOKEN,
                    "extra": {"burst_margin_s": 0.02, **(ghl_extra or {})},
                }
            ),
            "AIRFLOW_CONN_PLEO_DEFAULT": json.dumps(
                {
                    "conn_type": "http",
                    "host": self.pleo_url,
                    "password": PLEO_TOKEN,
                    "extra": {"company_id": PLEO_COMPANY, "max_requests_per_second": 1000, **pleo_extra},
                }
            ),
        }
        if location_ids is not None:
            env["AIRFLOW_VAR_GHL_LOCATION_IDS"] = json.dumps(location_ids)
        return env

    def apply_env(self, monkeypatch, location_ids: list[str] | None = None, **pleo_extra) -> None:
        for key, value in self.env(location_ids, **pleo_extra).items():
            monkeypatch.setenv(key, value)


def warehouse_env(url: str) -> dict[str, str]:
    """The Airflow connection ``ghl_pleo_db`` for a warehouse at a SQLAlchemy URL."""
    return {"AIRFLOW_CONN_GHL_PLEO_DB": json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": url}})}


def pleo_tags_by_group(state: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for tag in state["tags"].values():
        out.setdefault(tag["groupId"], []).append(tag)
    return out


def writes(counts: dict[str, int]) -> dict[str, int]:
    """Only the Pleo write requests (non-GET) from a request-count dict."""
    return {
        k: v
        for k, v in counts.items()
        if k.startswith("Pleo ") and not k.startswith("Pleo GET") and "/aggregations/" not in k
    }


os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
