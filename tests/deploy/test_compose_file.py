"""docker-compose.yaml, read as Compose reads it: services, health checks, start order, mounts, profiles, secrets.

There is no Docker engine on the CI machines, so the file is parsed and checked, not run. ``${...}`` is resolved
here the way Compose resolves it (``resolve``), with a ``.env`` the test writes, and each service's container
environment is built from ``env_file`` and ``environment`` as Compose builds it (``container_env``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
REQUIRED_SECRETS = (
    "POSTGRES_PASSWORD",
    "GHL_PLEO_DB_PASSWORD",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
)
# The GHL and Pleo secrets (connections, the location list, the alert channels): only the tasks need them.
API_SECRETS = (
    "AIRFLOW_CONN_GHL_DEFAULT",
    "AIRFLOW_CONN_PLEO_DEFAULT",
    "AIRFLOW_VAR_GHL_LOCATION_IDS",
    "AIRFLOW_CONN_GHL_PLEO_SMTP",
    "AIRFLOW_CONN_GHL_PLEO_SLACK",
)
AIRFLOW_AND_INIT = AIRFLOW_SERVICES | {"airflow-init"}
# Which services may hold each secret's value (anywhere in their environment, a URL included).
RECIPIENTS = {
    **dict.fromkeys(API_SECRETS, {"airflow-worker"}),
    "GHL_PLEO_DB_PASSWORD": {"postgres", "airflow-worker", "airflow-apiserver"},
    "POSTGRES_PASSWORD": AIRFLOW_AND_INIT | {"postgres"},
    "AIRFLOW__CORE__FERNET_KEY": AIRFLOW_AND_INIT,
    "AIRFLOW__API_AUTH__JWT_SECRET": AIRFLOW_AND_INIT,
    "AIRFLOW__API__SECRET_KEY": AIRFLOW_AND_INIT,
}
# Every character that breaks or changes a URL, a JSON string, a SQL literal or a shell word.
HOSTILE_PASSWORDS = (
    'p@ss:w/o%rd#"\\',
    "'; DROP ROLE airflow; --",
    "a b?c=d&e[f]g~h$HOME%40",
    "pässwörd-€",
)


# -- Compose, as far as these checks need it ----------------------------------------------------------------------


class InterpolationError(Exception):
    """What Compose refuses to start with (e.g. a required variable without a value)."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?+])(.*))?", re.DOTALL)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?err}``, ``${VAR?err}``,
    ``${VAR:+alt}``, ``${VAR+alt}`` as the Compose spec defines them (the colon forms treat empty as unset)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            out.append(text[i])
            i += 1
        elif text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            out.append(_substitute(text[i + 2 : end], env))
            i = end + 1
        elif m := _NAME.match(text, i + 1):
            out.append(env.get(m.group(), ""))
            i = m.end()
        else:
            raise InterpolationError(f"invalid interpolation format in {text!r}")
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        if text.startswith("${", j):
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise InterpolationError(f"unclosed ${{ in {text!r}")


def _substitute(body: str, env: Mapping[str, str]) -> str:
    m = _BRACED.fullmatch(body)
    if not m:
        raise InterpolationError(f"invalid interpolation format: ${{{body}}}")
    name, colon, op, arg = m.groups()
    value = env.get(name)
    missing = value is None or (colon == ":" and value == "")
    if op is None:
        return value or ""
    if op == "-":
        return interpolate(arg, env) if missing else value
    if op == "+":
        return "" if missing else interpolate(arg, env)
    if missing:  # "?"
        raise InterpolationError(f"required variable {name} is missing a value: {interpolate(arg, env)}")
    return value


def resolve(node: Any, env: Mapping[str, str]) -> Any:
    """The whole file with every ``${...}`` resolved (Compose interpolates it all before it starts anything)."""
    if isinstance(node, dict):
        return {k: resolve(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, env) for v in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def parse_dotenv(text: str) -> dict[str, str]:
    """A ``.env`` file as Compose reads it: ``'...'`` is taken literally, ``"..."`` unquoted, `` #`` a comment."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        values[key] = value
    return values


def container_env(service: dict, dotenv: Mapping[str, str]) -> dict[str, str]:
    """The environment a resolved service's container starts with: its ``env_file`` s, then ``environment``
    (a key without a value is taken from ``.env``/the shell, and left out when neither has it)."""
    env: dict[str, str] = {}
    env_files = service.get("env_file") or []
    for entry in [env_files] if isinstance(env_files, (str, dict)) else env_files:
        path = entry["path"] if isinstance(entry, dict) else entry
        env.update(dotenv if path == ".env" else parse_dotenv((ROOT / path).read_text()))
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    for key, value in environment.items():
        if value is None:
            if key in dotenv:
                env[key] = dotenv[key]
            else:
                env.pop(key, None)
        else:
            env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def dotenv_with(**overrides: str) -> dict[str, str]:
    """A filled-in ``.env``: every variable of ``.env.example``, each secret a distinct recognisable value."""
    env = parse_dotenv((ROOT / ".env.example").read_text())
    env.update({name: f"secret-{name.lower()}-4f1c" for name in RECIPIENTS})
    env["AIRFLOW_CONN_GHL_DEFAULT"] = json.dumps({"conn_type": "http", "password": "secret-ghl-token-4f1c"})
    env.update(overrides)
    return env


def raw_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def run_cmd_setting(command: str, env: Mapping[str, str]) -> str:
    """What Airflow gets from a ``*_CMD`` setting: the command's output (run here with the repo's copy of each
    script the Dockerfile puts into the image, and this interpreter for ``python``)."""
    image_files = {
        dest: ROOT / src
        for src, dest in re.findall(r"^COPY\s+(?:--\S+\s+)*(\S+)\s+(\S+)\s*$", (ROOT / "Dockerfile").read_text(), re.M)
    }
    argv = [sys.executable if a == "python" else str(image_files.get(a, a)) for a in shlex.split(command)]
    assert all(not a.startswith("/opt/") for a in argv), f"{command!r} runs a file the image does not hold"
    proc = subprocess.run(argv, env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def compose() -> dict:
    return raw_compose()


@pytest.fixture(scope="module")
def resolved() -> dict:
    return resolve(raw_compose(), dotenv_with())


# -- The layout ---------------------------------------------------------------------------------------------------


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


# -- Safe by default (issue 15, item 6) ---------------------------------------------------------------------------


def test_the_api_server_and_the_sandbox_are_published_on_loopback_unless_configured():
    published = {
        name: service["ports"]
        for name, service in resolve(raw_compose(), dotenv_with())["services"].items()
        if service.get("ports")
    }
    assert published == {
        "airflow-apiserver": ["127.0.0.1:8080:8080"],
        "sandbox": ["127.0.0.1:8801:8801", "127.0.0.1:8802:8802"],
    }
    opened = resolve(raw_compose(), dotenv_with(AIRFLOW_API_BIND="0.0.0.0"))["services"]
    assert opened["airflow-apiserver"]["ports"] == ["0.0.0.0:8080:8080"]  # only when the operator says so
    assert "# AIRFLOW_API_BIND=127.0.0.1" in (ROOT / ".env.example").read_text()


@pytest.mark.parametrize("name", REQUIRED_SECRETS)
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_compose_refuses_to_start_without_a_required_secret_and_says_how_to_make_one(name, how):
    env = dotenv_with()
    if how == "unset":
        del env[name]
    else:
        env[name] = ""
    with pytest.raises(InterpolationError) as refused:
        resolve(raw_compose(), env)
    message = str(refused.value)
    assert f"required variable {name} is missing a value" in message
    assert ".env" in message and "generate one with python -c" in message
    generator = re.search(r"python -c '([^']+)'", message).group(1)
    made = subprocess.run([sys.executable, "-c", generator], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and len(made.stdout.strip()) >= 32, made.stderr  # the advice works


def test_each_secret_reaches_only_the_services_that_need_it(resolved):
    services = resolved["services"]
    assert all("env_file" not in s for s in services.values()), "no service reads the whole .env"
    dotenv = dotenv_with()
    secret_values = {name: dotenv[name] for name in RECIPIENTS}
    holders: dict[str, set[str]] = {name: set() for name in RECIPIENTS}
    for service_name, service in services.items():
        blob = json.dumps(container_env(service, dotenv))
        for name, value in secret_values.items():
            if json.dumps(value)[1:-1] in blob or value in blob:
                holders[name].add(service_name)
    assert holders == RECIPIENTS
    worker = container_env(services["airflow-worker"], dotenv)
    assert {k: worker[k] for k in API_SECRETS} == {k: dotenv[k] for k in API_SECRETS}  # under Airflow's names
    # One not set in .env is left out of the worker, not set empty: an empty AIRFLOW_VAR_ would hide the variable
    # set in the Airflow UI (the environment comes first).
    for name in ("AIRFLOW_CONN_GHL_PLEO_SLACK", "AIRFLOW_VAR_GHL_LOCATION_IDS"):
        del dotenv[name]
    worker = container_env(resolve(raw_compose(), dotenv)["services"]["airflow-worker"], dotenv)
    assert "AIRFLOW_CONN_GHL_PLEO_SLACK" not in worker and "AIRFLOW_VAR_GHL_LOCATION_IDS" not in worker


def test_the_demo_sandbox_gets_no_secret_and_nothing_of_airflow(resolved):
    dotenv = dotenv_with()
    sandbox = resolved["services"]["sandbox"]
    assert "env_file" not in sandbox and not sandbox.get("environment")
    assert container_env(sandbox, dotenv) == {}
    blob = json.dumps(sandbox)
    leaked = [name for name in RECIPIENTS if dotenv[name] in blob]
    assert not leaked, f"the sandbox's definition holds {leaked}"
    assert "/opt/airflow" not in blob and sandbox.get("user") is None  # none of Airflow's mounts or settings


def test_the_warehouse_connects_as_its_own_role_not_the_superuser(resolved, monkeypatch):
    from sqlalchemy.engine import make_url

    from ghl_pleo.warehouse.core import warehouse_url

    superuser = resolved["services"]["postgres"]["environment"]["POSTGRES_USER"]
    for name in ("airflow-worker", "airflow-apiserver"):
        env = container_env(resolved["services"][name], dotenv_with())
        monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_DB", env["AIRFLOW_CONN_GHL_PLEO_DB"])
        url = make_url(warehouse_url())  # what the tasks and the dashboard connect with
        assert (url.username, url.database, url.host) == ("ghl_pleo", "ghl_pleo", "postgres"), name
        assert url.username != superuser
    assert (
        "./scripts/postgres-init.sh:/docker-entrypoint-initdb.d/10-ghl-pleo.sh:ro"
        in (resolved["services"]["postgres"]["volumes"])
    )


def _metadata_urls(env: Mapping[str, str]) -> list[str]:
    """The metadata URL and the Celery result backend a container's Airflow ends up with."""
    urls = []
    for setting in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        if setting in env:
            urls.append(env[setting])
        else:
            urls.append(run_cmd_setting(env[f"{setting}_CMD"], env))
    return urls


@pytest.mark.parametrize("password", HOSTILE_PASSWORDS)
def test_any_password_reaches_postgres_exactly_never_parsed_out_of_a_url(password, monkeypatch):
    from sqlalchemy.engine import make_url

    from ghl_pleo.warehouse.core import warehouse_url

    dotenv = dotenv_with(POSTGRES_PASSWORD=password, GHL_PLEO_DB_PASSWORD=password)
    services = resolve(raw_compose(), dotenv)["services"]
    scheduler = container_env(services["airflow-scheduler"], dotenv)
    metadata, result_backend = _metadata_urls(scheduler)
    assert result_backend.startswith("db+")
    for url in (make_url(metadata), make_url(result_backend.removeprefix("db+"))):
        assert (url.username, url.password, url.host, url.database) == ("airflow", password, "postgres", "airflow")
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == password
    # The warehouse: the connection, then libpq's PGPASSWORD when the URL has none.
    worker = container_env(services["airflow-worker"], dotenv)
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_DB", worker["AIRFLOW_CONN_GHL_PLEO_DB"])
    url = make_url(warehouse_url())
    assert (url.password if url.password is not None else worker.get("PGPASSWORD")) == password
    assert services["postgres"]["environment"]["GHL_PLEO_DB_PASSWORD"] == password


@pytest.mark.slow  # starts Airflow
def test_airflow_itself_reads_the_metadata_url_from_the_cmd_settings(tmp_path):
    """The pinned Airflow accepts ``_CMD`` for both settings and uses the output as it is (no stray newline)."""
    password = HOSTILE_PASSWORDS[0]
    dotenv = dotenv_with(POSTGRES_PASSWORD=password)
    env = container_env(resolve(raw_compose(), dotenv)["services"]["airflow-scheduler"], dotenv)
    image_script = str(ROOT / "scripts" / "db_url.py")
    for key in [k for k in env if k.endswith("_CMD")]:
        env[key] = env[key].replace("python", shlex.quote(sys.executable), 1)
        env[key] = env[key].replace("/opt/ghl-pleo/db_url.py", shlex.quote(image_script))
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    probe = (
        "import json; from airflow.configuration import conf; "
        "print(json.dumps([conf.get('database', 'sql_alchemy_conn'), conf.get('celery', 'result_backend')]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        env={**base, **env, "PYTHONPATH": "", "AIRFLOW_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    from sqlalchemy.engine import make_url

    conn, backend = json.loads(proc.stdout.strip().splitlines()[-1])
    assert make_url(conn).password == password and conn.endswith("@postgres:5432/airflow")
    assert make_url(backend.removeprefix("db+")).password == password


def test_every_variable_compose_reads_is_in_the_example_without_a_real_value(compose):
    def strings(node: Any):
        if isinstance(node, dict):
            for v in node.values():
                yield from strings(v)
        elif isinstance(node, list):
            for v in node:
                yield from strings(v)
        elif isinstance(node, str):
            yield node

    read = {m for s in strings(compose) for m in re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", s)}
    read |= {k for s in compose["services"].values() for k, v in (s.get("environment") or {}).items() if v is None}
    example_text = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example_text, re.M))
    assert read - {"GHL_PLEO_IMAGE"} <= named, read - named
    example = parse_dotenv(example_text)
    for name in REQUIRED_SECRETS:
        assert example[name] == "", f".env.example must leave {name} empty (compose then refuses to start)"
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


# -- The warehouse role (scripts/postgres-init.sh) ----------------------------------------------------------------


def test_the_init_script_gives_the_password_to_psql_as_a_variable_never_to_the_sql_text():
    script = ROOT / "scripts" / "postgres-init.sh"
    text = script.read_text()
    assert script.stat().st_mode & stat.S_IXUSR, "the postgres image runs (rather than sources) executable scripts"
    assert '-v pw="$GHL_PLEO_DB_PASSWORD"' in text
    sql = text.split("<<'EOSQL'", 1)[1].split("\nEOSQL", 1)[0]  # a quoted heredoc: the shell expands nothing
    assert "PASSWORD :'pw'" in sql
    assert "$" not in sql.replace("$$", ""), "no shell or psql expansion other than :'pw' in the SQL"
    assert "CREATE ROLE ghl_pleo" in sql and "CREATE DATABASE ghl_pleo OWNER ghl_pleo" in sql


class _PasswordPostgres:
    """A throwaway PostgreSQL like the compose one: superuser ``airflow`` (trust on its socket, as in the image
    during init), database ``airflow``, and password (SCRAM) authentication over TCP."""

    def __init__(self) -> None:
        from tests.pg import pg_bindir
        from tests.sandbox_client import free_port

        bindir = pg_bindir()
        if bindir is None:
            pytest.skip("PostgreSQL is not installed (make test installs it)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="ghl-pleo-pg-scram-"))
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres", "postgres")
        data = str(self.root / "data")
        self._run("initdb", "-D", data, "-U", "airflow", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", data, "-l", str(self.root / "log"), "-w", "-t", "60", "-o", options, "start")
        self.psql("CREATE DATABASE airflow", db="postgres")

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run([*self.as_user, str(self.bindir / tool), *args], capture_output=True, text=True)
        assert proc.returncode == 0, f"{tool}: {proc.stdout[-1000:]} {proc.stderr[-1000:]}"

    @property
    def env(self) -> dict[str, str]:
        path = f"{self.bindir}:{os.environ['PATH']}"
        return {"PATH": path, "PGHOST": str(self.root), "PGPORT": str(self.port), "HOME": str(self.root)}

    def psql(self, sql: str, db: str = "airflow") -> str:
        proc = subprocess.run(
            ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", "airflow", "-d", db, "-c", sql],
            env=self.env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def init_warehouse(self, password: str) -> subprocess.CompletedProcess:
        env = {**self.env, "POSTGRES_USER": "airflow", "POSTGRES_DB": "airflow", "GHL_PLEO_DB_PASSWORD": password}
        return subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres-init.sh")], env=env, capture_output=True, text=True
        )

    def reset(self) -> None:
        self.psql("DROP DATABASE IF EXISTS ghl_pleo WITH (FORCE)")
        self.psql("DROP ROLE IF EXISTS ghl_pleo")

    def stop(self) -> None:
        stop = ["pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop"]
        subprocess.run([*self.as_user, str(self.bindir / stop[0]), *stop[1:]], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def password_postgres():
    server = _PasswordPostgres()
    yield server
    server.stop()


def _connect_as_compose_does(server: _PasswordPostgres, password: str, monkeypatch):
    """A connection to the warehouse the way the worker makes one: compose's ``AIRFLOW_CONN_GHL_PLEO_DB`` (host and
    port pointed at the test server) through ``warehouse_url()``, and compose's ``PGPASSWORD``."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from ghl_pleo.warehouse.core import warehouse_url

    dotenv = dotenv_with(GHL_PLEO_DB_PASSWORD=password)
    worker = container_env(resolve(raw_compose(), dotenv)["services"]["airflow-worker"], dotenv)
    conn = json.loads(worker["AIRFLOW_CONN_GHL_PLEO_DB"])
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_DB", json.dumps({**conn, "host": "127.0.0.1", "port": server.port}))
    monkeypatch.setenv("PGPASSWORD", worker["PGPASSWORD"])
    return create_engine(warehouse_url(), poolclass=NullPool).connect()


@pytest.mark.slow  # starts a PostgreSQL server
def test_the_init_script_creates_a_login_role_that_authenticates_with_any_password(password_postgres, monkeypatch):
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import NullPool

    from ghl_pleo.warehouse.core import warehouse_url

    server = password_postgres
    server.reset()
    password = HOSTILE_PASSWORDS[0] + HOSTILE_PASSWORDS[1]  # quotes, backslash, and an injection attempt
    done = server.init_warehouse(password)
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr
    with _connect_as_compose_does(server, password, monkeypatch) as conn:
        me = conn.execute(
            text("SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user")
        )
        assert tuple(me.one()) == ("ghl_pleo", False, False, False)
        conn.execute(text("CREATE TABLE t (x int)"))  # it owns its database
        conn.commit()
    assert server.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'ghl_pleo'") == "ghl_pleo"
    assert server.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'airflow'") == "1"  # nothing injected
    # Airflow's metadata database is not the warehouse role's (PGPASSWORD still holds the right password).
    metadata = {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": server.port,
        "login": "ghl_pleo",
        "schema": "airflow",
    }
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_DB", json.dumps(metadata))
    with pytest.raises(OperationalError, match="permission denied for database"):
        create_engine(warehouse_url(), poolclass=NullPool).connect()
    with pytest.raises(OperationalError, match="password authentication failed"):
        _connect_as_compose_does(server, password + "x", monkeypatch)


@pytest.mark.slow  # starts a PostgreSQL server
def test_running_the_init_script_again_sets_the_new_password_and_moves_an_old_warehouse_to_the_role(
    password_postgres, monkeypatch
):
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    server = password_postgres
    server.reset()
    # An older deployment: the warehouse database and its tables belong to airflow, and there is no role.
    server.psql("CREATE DATABASE ghl_pleo OWNER airflow")
    server.psql("CREATE TABLE sync_location_runs (id int PRIMARY KEY)", db="ghl_pleo")
    assert server.init_warehouse("first-password").returncode == 0
    new_password = HOSTILE_PASSWORDS[2]
    done = server.init_warehouse(new_password)
    assert done.returncode == 0, done.stderr
    with _connect_as_compose_does(server, new_password, monkeypatch) as conn:
        conn.execute(text("INSERT INTO sync_location_runs VALUES (1)"))
        conn.commit()
    owner = "SELECT tableowner FROM pg_tables WHERE tablename = 'sync_location_runs'"
    assert server.psql(owner, db="ghl_pleo") == "ghl_pleo"
    with pytest.raises(OperationalError, match="password authentication failed"):
        _connect_as_compose_does(server, "first-password", monkeypatch)
