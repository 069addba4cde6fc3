"""Dependencies the Airflow way (issue 16, item 6): production pins apart from test tools, Airflow and its
providers pinned together, the virtualenv exactly what the pins say and ``pip check`` clean."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = ("celery", "common-sql", "postgres", "slack", "smtp", "sqlite", "standard")
TEST_TOOLS = ("pytest", "ruff", "selenium", "openapi-core", "pytest-timeout")


def pins(name: str) -> dict[str, str]:
    out = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert match, f"{name}: {line!r} is not pinned with =="
        out[match.group(1).lower().replace("_", "-")] = match.group(2)
    return out


def test_production_pins_hold_airflow_and_its_providers_and_no_test_tools():
    prod = pins("requirements.txt")
    assert prod["apache-airflow"] == prod["apache-airflow-core"]
    for provider in PROVIDERS:
        assert f"apache-airflow-providers-{provider}" in prod, provider
    assert not [tool for tool in TEST_TOOLS if tool in prod]
    dev_text = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev_text
    dev = pins("requirements-dev.txt")
    assert {"pytest", "ruff"} <= set(dev) and not set(dev) & set(prod)


def test_the_virtualenv_holds_exactly_the_pinned_versions_and_pip_check_is_clean():
    wanted = {**pins("requirements.txt"), **pins("requirements-dev.txt")}
    wrong = {}
    for name, version in wanted.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"pinned vs installed: {wrong}"
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
