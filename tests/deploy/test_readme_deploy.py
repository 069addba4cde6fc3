"""README.md's "Deployment" section against the files it describes: every DAG in dags/ is listed, and the demo
profile's `.env` lines name variables docker-compose.yaml hands to the worker and reach the sandbox the profile
starts (its host names and ports, its tokens, its Pleo company and its locations), checked against that sandbox
started with the compose service's own arguments and through the project's hooks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
import requests

from tests.deploy.compose import ROOT, container_env, parse_dotenv, raw_compose, resolve
from tests.sandbox_client import free_port

README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def _demo_dotenv() -> dict[str, str]:
    """The ```bash block after the demo paragraph, read as Compose reads .env."""
    deploy = _section("Deployment (docker compose, CeleryExecutor)")
    demo = deploy[deploy.index("**The demo:") :]
    block = re.search(r"```bash\n(.*?)```", demo, re.S).group(1)
    return parse_dotenv(block)


@pytest.fixture(scope="module")
def dag_ids() -> set[str]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return set(bag.dag_ids)


def test_the_readme_lists_every_dag_at_the_top_and_in_the_deployment(dag_ids):
    assert {"ghl_pleo_tags_sync", "ghl_pleo_statistics_sync", "ghl_pleo_health"} <= dag_ids
    top = README[: README.index("\n## ")]  # the list under the title
    listed_top = set(re.findall(r"^\* \*\*`(\w+)`\*\*", top, re.M))
    assert listed_top == dag_ids
    table = _section("Deployment (docker compose, CeleryExecutor)")
    table = table[table.index("**The DAGs**") :]
    listed_deploy = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert listed_deploy == dag_ids


def test_the_demo_env_names_are_the_ones_the_compose_file_gives_the_worker():
    dotenv = _demo_dotenv()
    assert set(dotenv) == {"AIRFLOW_CONN_GHL_DEFAULT", "AIRFLOW_CONN_PLEO_DEFAULT", "AIRFLOW_VAR_GHL_LOCATION_IDS"}
    compose = raw_compose()
    assert set(dotenv) <= set(compose["services"]["airflow-worker"]["environment"])
    text = (ROOT / "docker-compose.yaml").read_text()
    assert "${AIRFLOW_UID" in text  # the README's AIRFLOW_UID step
    secrets = dict.fromkeys(
        [
            "POSTGRES_PASSWORD",
            "GHL_PLEO_DB_PASSWORD",
            "AIRFLOW__CORE__FERNET_KEY",
            "AIRFLOW__API_AUTH__JWT_SECRET",
            "AIRFLOW__API__SECRET_KEY",
        ],
        "x",
    )
    worker = resolve(compose, {**secrets, **dotenv})["services"]["airflow-worker"]
    env = container_env(worker, {**secrets, **dotenv})
    assert {k: env[k] for k in dotenv} == dotenv  # as written in .env, they reach the worker's tasks


def _demo_sandbox(tmp_path, ghl_port: int, pleo_port: int) -> subprocess.Popen:
    """The compose file's `sandbox` service as a local process: its entrypoint, with 0.0.0.0 -> 127.0.0.1, the
    container's ports 8801/8802 -> free ones, its state file -> a temporary one."""
    service = raw_compose()["services"]["sandbox"]
    assert service["profiles"] == ["demo"]
    assert service["ports"] == ["127.0.0.1:8801:8801", "127.0.0.1:8802:8802"]
    args = list(service["entrypoint"])
    assert args[:3] == ["python", "-m", "sandbox"] and "--config" not in args  # the default seed and tokens
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--state-file") + 1] = str(tmp_path / "sandbox-state.json")
    return subprocess.Popen(
        [sys.executable, *args[1:], "--ghl-port", str(ghl_port), "--pleo-port", str(pleo_port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_the_demo_env_reaches_the_demo_sandbox_through_the_hooks(tmp_path, monkeypatch):
    dotenv = _demo_dotenv()
    ghl, pleo = json.loads(dotenv["AIRFLOW_CONN_GHL_DEFAULT"]), json.loads(dotenv["AIRFLOW_CONN_PLEO_DEFAULT"])
    assert (ghl["host"], pleo["host"]) == ("http://sandbox:8801", "http://sandbox:8802")  # service name, ports
    ports = {"8801": free_port(), "8802": free_port()}
    proc = _demo_sandbox(tmp_path, ports["8801"], ports["8802"])
    try:
        for port in ports.values():
            for _ in range(150):
                try:
                    if requests.get(f"http://127.0.0.1:{port}/_admin/health", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.2)
        for name, conn in (("GHL_DEFAULT", ghl), ("PLEO_DEFAULT", pleo)):
            local = {**conn, "host": re.sub(r"sandbox:(\d+)", lambda m: f"127.0.0.1:{ports[m[1]]}", conn["host"])}
            monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(local))
        monkeypatch.setenv("AIRFLOW_VAR_GHL_LOCATION_IDS", dotenv["AIRFLOW_VAR_GHL_LOCATION_IDS"])
        from ghl_pleo.hooks.ghl import GhlHook
        from ghl_pleo.hooks.pleo import PleoHook
        from ghl_pleo.warehouse import Warehouse

        locations = json.loads(dotenv["AIRFLOW_VAR_GHL_LOCATION_IDS"])
        seeded = requests.get(f"http://127.0.0.1:{ports['8801']}/_admin/ghl/locations", timeout=10).json()
        assert locations == [loc["id"] for loc in seeded["locations"]]  # every location the demo sandbox has
        assert all(GhlHook().get_location(loc)["id"] == loc for loc in locations)  # the token reads each
        assert GhlHook().test_connection()[0] and PleoHook().test_connection()[0]
        pleo_hook = PleoHook(rate_slots=Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}").rate_slots)
        assert pleo_hook.list_groups() == []  # the token and company id are Pleo's; nothing synced yet
    finally:
        proc.terminate()
        proc.wait(10)
