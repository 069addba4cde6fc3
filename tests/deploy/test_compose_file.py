"""docker-compose.yaml, read as Compose reads it: services, health checks, start order, mounts, profiles, secrets.

There is no Docker engine on the CI machines, so the file is parsed and checked, not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_the_official_pattern_services_are_all_there(compose):
    assert "x-airflow-common" in compose
    assert set(compose["services"]) == AIRFLOW_SERVICES | {"airflow-init", "postgres", "redis", "sandbox"}
    common = compose["x-airflow-common"]
    assert common["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert common["build"]["dockerfile"] == "Dockerfile"
    assert "requirements.txt" in (ROOT / "Dockerfile").read_text()


def test_every_long_running_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if name == "airflow-init":
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_airflow_services_start_after_healthy_dependencies_and_a_finished_init(compose):
    for name in AIRFLOW_SERVICES:
        deps = compose["services"][name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    assert compose["services"]["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_project_folders_are_mounted_and_the_sandbox_is_demo_only(compose):
    mounts = compose["x-airflow-common"]["volumes"]
    for folder in ("dags", "plugins", "include", "logs"):
        assert f"./{folder}:/opt/airflow/{folder}" in mounts
    for name in AIRFLOW_SERVICES:
        assert compose["services"][name]["volumes"] == mounts
    assert compose["services"]["sandbox"]["profiles"] == ["demo"]
    assert all("profiles" not in s for n, s in compose["services"].items() if n != "sandbox")
    assert (
        "./scripts/postgres-init.sql:/docker-entrypoint-initdb.d/10-ghl-pleo.sql:ro"
        in compose["services"]["postgres"]["volumes"]
    )


def test_secrets_come_from_dot_env_and_the_example_names_them_all(compose):
    text = (ROOT / "docker-compose.yaml").read_text()
    needed = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)\}", text))  # no default, not $$-escaped: from .env
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert needed <= set(example), needed - set(example)
    assert compose["x-airflow-common"]["env_file"] == [".env"]
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()
    for key in ("POSTGRES_PASSWORD", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert example[key] in ("", "change-me"), f".env.example must not carry a real {key}"
    env = compose["x-airflow-common"]["environment"]
    assert "${POSTGRES_PASSWORD}" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
