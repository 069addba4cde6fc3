"""docker-compose.yaml, read as Compose reads it: services, health checks, start order, mounts, profiles, secrets.

The file is parsed and checked here (``tests/deploy/compose.py`` resolves ``${...}`` and builds each service's
container environment as Compose does); ``test_compose_parity.py`` starts its services as local processes.
There is no container engine on the CI machines, so neither builds the image.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import pytest

from tests.deploy.compose import (
    ROOT,
    ComposePostgres,
    InterpolationError,
    container_env,
    image_files,
    parse_dotenv,
    raw_compose,
    resolve,
)

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
# Started on demand only: docker compose run --rm airflow-cli ... (profile debug), --profile flower.
OPTIONAL_SERVICES = {"airflow-cli": ["debug"], "flower": ["flower"], "sandbox": ["demo"]}
REQUIRED_SECRETS = (
    "POSTGRES_PASSWORD",
    "GHL_PLEO_DB_PASSWORD",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
)
# The GHL and Pleo secrets (connections, the location list): only the tasks need them.
TASK_SECRETS = (
    "AIRFLOW_CONN_GHL_DEFAULT",
    "AIRFLOW_CONN_PLEO_DEFAULT",
    "AIRFLOW_VAR_GHL_LOCATION_IDS",
)
# The alert channels and recipients: the worker (the health DAG's stale-sync alerts) and the dag-processor, where
# Airflow 3 runs DAG-level failure callbacks (dag_processing/processor.py), so the failed-run alert is sent there.
ALERT_SETTINGS = (
    "AIRFLOW_CONN_GHL_PLEO_SMTP",
    "AIRFLOW_CONN_GHL_PLEO_SLACK",
    "AIRFLOW_VAR_GHL_PLEO_ALERT_RECIPIENTS",
)
AIRFLOW_COMPONENTS = AIRFLOW_SERVICES | {"airflow-init", "airflow-cli", "flower"}
# Which services may hold each secret's value (anywhere in their environment, a URL included).
RECIPIENTS = {
    **dict.fromkeys(TASK_SECRETS, {"airflow-worker"}),
    **dict.fromkeys(ALERT_SETTINGS, {"airflow-worker", "airflow-dag-processor"}),
    # The warehouse: the tasks, the health dashboard (api-server), the failed-run alert (it reads the run's
    # ledger; dag-processor), and postgres, which creates the role.
    "GHL_PLEO_DB_PASSWORD": {"postgres", "airflow-worker", "airflow-apiserver", "airflow-dag-processor"},
    "POSTGRES_PASSWORD": AIRFLOW_COMPONENTS | {"postgres"},
    "AIRFLOW__CORE__FERNET_KEY": AIRFLOW_COMPONENTS,
    "AIRFLOW__API_AUTH__JWT_SECRET": AIRFLOW_COMPONENTS,
    "AIRFLOW__API__SECRET_KEY": AIRFLOW_COMPONENTS,
    "AIRFLOW__CELERY__FLOWER_BASIC_AUTH": {"flower"},
}
# Every character that breaks or changes a URL, a JSON string, a SQL literal or a shell word.
HOSTILE_PASSWORDS = (
    'p@ss:w/o%rd#"\\',
    "'; DROP ROLE airflow; --",
    "a b?c=d&e[f]g~h$HOME%40",
    "pässwörd-€",
)


def dotenv_with(**overrides: str) -> dict[str, str]:
    """A filled-in ``.env``: every variable of ``.env.example``, each secret a distinct recognisable value."""
    env = parse_dotenv((ROOT / ".env.example").read_text())
    env.update({name: f"secret-{name.lower()}-4f1c" for name in RECIPIENTS})
    env["AIRFLOW_CONN_GHL_DEFAULT"] = json.dumps({"conn_type": "http", "password": "secret-ghl-token-4f1c"})
    env.update(overrides)
    return env


def run_cmd_setting(command: str, env: Mapping[str, str]) -> str:
    """What Airflow gets from a ``*_CMD`` setting: the command's output (run here with the repo's copy of each
    script the Dockerfile puts into the image, and this interpreter for ``python``)."""
    files = image_files()
    argv = [sys.executable if a == "python" else str(files.get(a, a)) for a in shlex.split(command)]
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
    assert set(compose["services"]) == AIRFLOW_SERVICES | set(OPTIONAL_SERVICES) | {"airflow-init", "postgres", "redis"}
    common = compose["x-airflow-common"]
    assert common["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert common["build"]["dockerfile"] == "Dockerfile"


def test_the_image_installs_the_requirements_with_airflow_pinned_then_the_project_without_dependencies():
    """Airflow's "Building the image": apache-airflow at the image's version on the requirements' pip line; then
    the project (the provider) from its pyproject.toml, its dependencies being all in requirements.txt."""
    text = (ROOT / "Dockerfile").read_text()
    version = re.search(r"^ARG AIRFLOW_VERSION=(\S+)$", text, re.M).group(1)
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python3\.11$", text, re.M)
    assert f"apache-airflow=={version}" in (ROOT / "requirements.txt").read_text().splitlines()
    runs = re.findall(r"^RUN (.+)$", text, re.M)
    assert runs == [
        "npm ci --ignore-scripts --loglevel=error",  # the Data Docs libraries, in their own stage
        'pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements.txt',
        "pip install --no-cache-dir --no-deps /opt/ghl-pleo",
    ]
    files = image_files()
    assert files["/tmp/requirements.txt"] == ROOT / "requirements.txt"
    assert files["/opt/ghl-pleo/pyproject.toml"] == ROOT / "pyproject.toml"
    assert files["/opt/ghl-pleo/data-docs-assets/node_modules"] == ROOT / "data-docs-assets/node_modules"
    assert "ENV GHL_PLEO_DOCS_ASSETS=/opt/ghl-pleo/data-docs-assets/node_modules" in text.splitlines()
    assert files["/opt/ghl-pleo/plugins"] == ROOT / "plugins"
    assert text.index("/opt/ghl-pleo/plugins") < text.index("--no-deps /opt/ghl-pleo")  # copied before installed
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".env", ".venv", ".git"} <= set(ignored)  # secrets and the local venv never reach the build


def test_every_long_running_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if name in ("airflow-init", "airflow-cli"):  # one-off commands
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_airflow_services_start_after_healthy_dependencies_and_a_finished_init(compose):
    for name in AIRFLOW_SERVICES | {"flower"}:
        deps = compose["services"][name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    assert compose["services"]["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_project_folders_are_mounted_and_the_optional_services_have_their_profiles(compose):
    mounts = compose["x-airflow-common"]["volumes"]
    for folder in ("dags", "plugins", "include", "logs"):
        assert f"./{folder}:/opt/airflow/{folder}" in mounts
    assert "data-docs-volume:/opt/airflow/data_docs" in mounts
    auth = "airflow-auth-volume:/opt/airflow/auth"  # the UI's passwords: the api-server's alone (and init's)
    for name in AIRFLOW_COMPONENTS:
        volumes = compose["services"][name]["volumes"]
        extra = [auth] if name in ("airflow-apiserver", "airflow-init") else []
        assert volumes == mounts + extra, name
    profiles = {n: s["profiles"] for n, s in compose["services"].items() if "profiles" in s}
    assert profiles == OPTIONAL_SERVICES


def test_airflow_init_prepares_the_folders_for_airflow_uid_as_the_official_file_does(compose):
    """The official file's airflow-init: as root, warn when AIRFLOW_UID is not set, create the mounted folders
    and hand them to AIRFLOW_UID with group 0, the user every other Airflow container runs as."""
    init = compose["services"]["airflow-init"]
    assert init["user"] == "0:0" and init["entrypoint"] == "/bin/bash" and init["command"][0] == "-c"
    script = init["command"][1]
    assert 'if [[ -z "${AIRFLOW_UID:-}" ]]' in script and "WARNING!!!: AIRFLOW_UID not set!" in script
    assert "mkdir -v -p /opt/airflow/{logs,dags,plugins,data_docs,auth}" in script
    assert 'chown -R "${AIRFLOW_UID:-50000}:0" /opt/airflow/{logs,dags,plugins,data_docs,auth}' in script
    assert compose["x-airflow-common"]["user"] == "${AIRFLOW_UID:-50000}:0"  # the same default


@pytest.mark.skipif(os.geteuid() != 0, reason="airflow-init runs as root: chown to group 0 needs root")
@pytest.mark.parametrize("uid", [None, "4242"])
def test_airflow_init_warns_without_airflow_uid_and_hands_the_folders_to_it(uid, tmp_path):
    """airflow-init's own script, run with a stub ``airflow`` (no database here: test_compose_parity.py runs it for
    real) and /opt/airflow a temporary folder: the warning says how to set AIRFLOW_UID; the folders are created
    and belong to AIRFLOW_UID:0, or to the image's user 50000 when it is unset."""
    dotenv = dotenv_with()
    dotenv.pop("AIRFLOW_UID", None)
    if uid:
        dotenv["AIRFLOW_UID"] = uid
    service = resolve(raw_compose(), dotenv)["services"]["airflow-init"]
    opt = tmp_path / "opt-airflow"
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "airflow").write_text('#!/bin/sh\necho "stub airflow $*" >> "$STUB_LOG"\n')
    (stub / "airflow").chmod(0o755)
    script = service["command"][1].replace("/opt/airflow", str(opt))
    env = {"PATH": f"{stub}:{os.environ['PATH']}", "STUB_LOG": str(tmp_path / "airflow.log")}
    done = subprocess.run([service["entrypoint"], "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    warned = "WARNING!!!: AIRFLOW_UID not set!" in done.stdout
    assert warned == (uid is None)
    if warned:  # the advice, printed as the command to paste (not run inside the container)
        assert 'echo -e "AIRFLOW_UID=$(id -u)" >> .env' in done.stdout
    owner = int(uid or 50000)
    for folder in ("logs", "dags", "plugins", "data_docs", "auth"):
        st = (opt / folder).stat()
        assert (st.st_uid, st.st_gid) == (owner, 0), folder
    assert stat.S_IMODE((opt / "auth").stat().st_mode) == 0o700
    ran = (tmp_path / "airflow.log").read_text().splitlines()
    assert ran[0] == "stub airflow db migrate" and ran[1].startswith("stub airflow pools set ghl_pleo_group_writes 1")


# -- Safe by default (issue 15, item 6) ---------------------------------------------------------------------------


def test_the_api_server_and_the_sandbox_are_published_on_loopback_unless_configured():
    published = {
        name: service["ports"]
        for name, service in resolve(raw_compose(), dotenv_with())["services"].items()
        if service.get("ports")
    }
    assert published == {
        "airflow-apiserver": ["127.0.0.1:8080:8080"],
        "flower": ["127.0.0.1:5555:5555"],
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
    for name in ("airflow-worker", "airflow-dag-processor"):  # under Airflow's names
        env = container_env(services[name], dotenv)
        names = [k for k in TASK_SECRETS + ALERT_SETTINGS if name in RECIPIENTS[k]]
        assert {k: env[k] for k in names} == {k: dotenv[k] for k in names}, name
    # One not set in .env is left out of the container, not set empty: an empty AIRFLOW_VAR_ would hide the
    # variable set in the Airflow UI (the environment comes first).
    unset = ("AIRFLOW_CONN_GHL_PLEO_SLACK", "AIRFLOW_VAR_GHL_LOCATION_IDS", "AIRFLOW_VAR_GHL_PLEO_ALERT_RECIPIENTS")
    for name in unset:
        del dotenv[name]
    services = resolve(raw_compose(), dotenv)["services"]
    for name in ("airflow-worker", "airflow-dag-processor"):
        assert not set(unset) & set(container_env(services[name], dotenv)), name


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
    for name in ("airflow-worker", "airflow-apiserver", "airflow-dag-processor"):
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


class _PasswordPostgres(ComposePostgres):
    """The compose postgres (superuser ``airflow``, database ``airflow``), where scripts/postgres-init.sh can be run
    again and again."""

    def init_warehouse(self, password: str) -> subprocess.CompletedProcess:
        service = resolve(raw_compose(), dotenv_with(GHL_PLEO_DB_PASSWORD=password))["services"]["postgres"]
        (done,) = self.run_init_scripts(service, dotenv_with(GHL_PLEO_DB_PASSWORD=password))
        return done

    def reset(self) -> None:
        self.psql("DROP DATABASE IF EXISTS ghl_pleo WITH (FORCE)")
        self.psql("DROP ROLE IF EXISTS ghl_pleo")


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
