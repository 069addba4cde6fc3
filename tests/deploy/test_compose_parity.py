"""docker-compose.yaml, started: each service's command, entrypoint, environment and health check are read from the
file and run as local processes (these machines have no container engine), with PostgreSQL and Redis on loopback.

airflow-init runs its own script; the api-server, scheduler, dag-processor, triggerer, flower and the Celery worker
twice (as ``docker compose up --scale airflow-worker=2``) then start, each health check from the file must pass,
the login the README documents must work, and one tags sync over 20 locations must run through the scheduler and
both workers to success, with Pleo exactly right. What differs from ``docker compose up`` is SUBSTITUTIONS, and
nothing else. The image is not built here (README.md, "Deployment"): this virtualenv stands in for it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import pytest
import requests

from tests.deploy.compose import ROOT, ComposePostgres, container_env, image_files, parse_dotenv, raw_compose, resolve
from tests.pleo_checks import assert_pleo_matches_ghl
from tests.sandbox_client import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# What differs between `docker compose up` and this test's local processes; nothing else does. `Local` applies it.
SUBSTITUTIONS = {
    "hostnames": "the services' names (postgres, redis, airflow-apiserver) and a container's own addresses "
    "(localhost, 0.0.0.0) -> 127.0.0.1",
    "ports": "each port a service listens on (SERVICE_PORTS) -> a free port, wherever the file names a host and "
    'port: a URL\'s host:port, "--host(name) H --port P", a connection\'s "host"/"port", a *_HOST/*_PORT setting',
    "/opt/airflow": "-> one temporary folder for all containers (compose shares only the mounted ones); before a "
    "container starts, its bind mounts are copies of the repository's folders (an empty folder where the "
    "repository has none, as Docker creates it) and its named volumes empty folders",
    "/opt/ghl-pleo": "(the image's own files) -> a temporary folder holding what the Dockerfile COPYs there",
    "${VAR}": "-> from this test's .env file, written as .env.example says",
    "the image": "its entrypoint runs `airflow <command>` (bash, python and airflow commands as they are) in its "
    "working directory /opt/airflow; its environment: AIRFLOW_HOME=/opt/airflow, HOME, PATH with python, airflow "
    "and celery from this virtualenv (requirements.txt, as the Dockerfile installs it)",
    "HOSTNAME": "Docker sets it to the container's hostname -> this machine's (both workers share it)",
    "user:": "ignored: every process runs as this test's user (root)",
    "postgres, redis images": "-> this machine's PostgreSQL (initialised as the image does: superuser, password, "
    "database, then the scripts mounted into /docker-entrypoint-initdb.d) and redis-server; their health checks "
    "get the port (libpq's PGHOST/PGPORT, redis-cli -p)",
    "health checks": "run until they pass (interval, timeout and retries are Docker's business)",
}
SERVICE_HOSTS = ("postgres", "redis", "airflow-apiserver", "localhost", "0.0.0.0")
SERVICE_PORTS = (5432, 6379, 8080, 8974, 5555)
AIRFLOW_UID = "50123"  # not this test's own user (root), so airflow-init's chown shows
INIT_FOLDERS = ("logs", "dags", "plugins", "data_docs", "auth")  # what airflow-init hands to AIRFLOW_UID
LONG_RUNNING = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "flower")
WORKERS = 2
LOCATIONS = 20
PER_TASK = 4  # locations per batch task: 5 batches
TAGS = "ghl_pleo_tags_sync"
VENV_BIN = Path(sys.executable).parent
_HOSTS = "|".join(re.escape(h) for h in SERVICE_HOSTS)


class Local:
    """SUBSTITUTIONS, applied to the resolved compose file."""

    def __init__(self, workdir: Path, ports: dict[int, int]) -> None:
        self.opt_airflow = workdir / "opt-airflow"
        self.opt_ghl_pleo = workdir / "opt-ghl-pleo"
        self.home = workdir / "home-airflow"
        self.ports = ports

    def _port(self, port: str) -> int:
        return self.ports[int(port)]  # a port of a service the test does not know fails here, loudly

    def text(self, s: str) -> str:
        s = s.replace("/opt/airflow", str(self.opt_airflow)).replace("/opt/ghl-pleo", str(self.opt_ghl_pleo))
        s = re.sub(rf"(?<=[/@])(?:{_HOSTS}):(\d+)\b", lambda m: f"127.0.0.1:{self._port(m[1])}", s)
        s = re.sub(
            rf"--(host|hostname) (?:{_HOSTS}) --port (\d+)\b",
            lambda m: f"--{m[1]} 127.0.0.1 --port {self._port(m[2])}",
            s,
        )
        s = re.sub(rf'"host": "(?:{_HOSTS})"', '"host": "127.0.0.1"', s)
        return re.sub(
            r'"port": (\d+)\b', lambda m: f'"port": {self._port(m[1]) if int(m[1]) in self.ports else m[1]}', s
        )

    def env(self, env: dict[str, str]) -> dict[str, str]:
        out = {}
        for key, value in env.items():
            value = self.text(value)
            if key.endswith("_HOST") and value in SERVICE_HOSTS:
                value = "127.0.0.1"
            if key.endswith("_PORT") and value.isdigit() and int(value) in SERVICE_PORTS:
                value = str(self.ports[int(value)])
            out[key] = value
        return out

    def argv(self, service: dict, command: list[str] | None = None) -> list[str]:
        """What the container runs: its entrypoint and command; without an entrypoint, the image's, which runs
        ``airflow <command>`` (and bash, python and airflow commands as they are)."""
        command = service.get("command") if command is None else command
        cmd = shlex.split(command) if isinstance(command, str) else list(command or [])
        entrypoint = service.get("entrypoint")
        if entrypoint:
            argv = (shlex.split(entrypoint) if isinstance(entrypoint, str) else list(entrypoint)) + cmd
        elif cmd and cmd[0] in ("bash", "python", "airflow"):
            argv = cmd
        else:
            argv = ["airflow", *cmd]
        return self.words(argv)

    def words(self, argv: list[str]) -> list[str]:
        """An argv localized as the command line it is (so "--host H --port P" is seen across words)."""
        return shlex.split(self.text(shlex.join(argv)))

    def process_env(self, service: dict, dotenv: dict[str, str]) -> dict[str, str]:
        image = {
            "AIRFLOW_HOME": "/opt/airflow",
            "HOME": str(self.home),
            "PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "HOSTNAME": socket.gethostname(),
        }
        return self.env({**image, **container_env(service, dotenv)})

    def health_argv(self, service: dict) -> list[str]:
        test = service["healthcheck"]["test"]
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        kind, *rest = test
        return self.words(rest) if kind == "CMD" else ["/bin/sh", "-c", self.text(rest[0])]

    def mount(self, service: dict) -> None:
        """The service's volumes, as Docker has them ready before the container starts."""
        for volume in service.get("volumes", []):
            source, dest = volume.split(":")[:2]
            target = Path(self.text(dest))
            if target.exists():  # shared with a service started earlier
                continue
            if source.startswith(".") and (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True)

    def build_image_files(self) -> None:
        for dest, source in image_files().items():
            if not dest.startswith("/opt/ghl-pleo/"):
                continue  # /tmp/requirements.txt: installed into this virtualenv
            target = Path(self.text(dest))
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, target)


def leftovers(values: list[str]) -> list[str]:
    """Anything still pointing at a container: a service's hostname where a host is named, or /opt/."""
    pattern = re.compile(rf'(//|@|"host": "|--host(name)? )({_HOSTS})\b|/opt/')
    return [v for v in values if pattern.search(v)]


class ComposeStack:
    """The compose file's services as local processes; the REST API as the README's login sees it."""

    def __init__(self, workdir: Path, dotenv: dict[str, str], ports: dict[int, int]) -> None:
        self.workdir = workdir
        self.logs = workdir / "service-logs"
        self.logs.mkdir()
        self.dotenv = dotenv
        self.compose = resolve(raw_compose(), dotenv)
        self.services = self.compose["services"]
        self.local = Local(workdir, ports)
        self.url = f"http://127.0.0.1:{ports[8080]}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.session = requests.Session()
        self.postgres: ComposePostgres | None = None
        self.init_output = ""
        self.owners_after_init: dict[str, tuple[int, int]] = {}

    # services ----------------------------------------------------------------------------------------------------
    def start_postgres(self) -> None:
        service = self.services["postgres"]
        env = container_env(service, self.dotenv)
        self.postgres = ComposePostgres(
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            database=env["POSTGRES_DB"],
            port=self.local.ports[5432],
        )
        for done in self.postgres.run_init_scripts(service, self.dotenv):
            assert done.returncode == 0, f"postgres init script: {done.stdout[-1500:]} {done.stderr[-1500:]}"
        check = subprocess.run(self.local.health_argv(service), env=self.postgres.env, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr

    def start_redis(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed: `make test` installs it (Debian package redis-server)")
        port = str(self.local.ports[6379])
        workdir = self.workdir / "redis"
        workdir.mkdir()
        argv = [
            server,
            "--port",
            port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ]
        self._spawn("redis", argv, env={"PATH": os.environ["PATH"]})
        tool, *args = self.local.health_argv(self.services["redis"])
        check = [tool, "-p", port, *args]
        self._wait(lambda: subprocess.run(check, capture_output=True, text=True).stdout.strip() == "PONG", "redis", 30)

    def run_init(self) -> None:
        service = self.services["airflow-init"]
        self.local.opt_airflow.mkdir()
        self.local.home.mkdir()
        self.local.build_image_files()
        self.local.mount(service)
        argv, env = self.local.argv(service), self.local.process_env(service, self.dotenv)
        assert not leftovers([*argv, *env.values()]), leftovers([*argv, *env.values()])
        done = subprocess.run(argv, env=env, cwd=self.local.opt_airflow, capture_output=True, text=True, timeout=600)
        self.init_output = done.stdout + done.stderr
        (self.logs / "airflow-init.log").write_text(self.init_output)
        assert done.returncode == 0, f"airflow-init failed:\n{self.init_output[-3000:]}"
        # Who owns what airflow-init prepared, before the other services write there (as root, here).
        opt = self.local.opt_airflow
        self.owners_after_init = {
            path.relative_to(opt).as_posix(): (path.stat().st_uid, path.stat().st_gid)
            for folder in INIT_FOLDERS
            for path in [opt / folder, *(opt / folder).rglob("*")]
        }

    def start(self, name: str, log_name: str | None = None) -> None:
        service = self.services[name]
        self.local.mount(service)
        argv, env = self.local.argv(service), self.local.process_env(service, self.dotenv)
        assert not leftovers([*argv, *env.values()]), leftovers([*argv, *env.values()])
        self._spawn(log_name or name, argv, env, cwd=self.local.opt_airflow)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            argv, env=env, cwd=cwd or self.workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def healthy(self, name: str) -> bool:
        service = self.services[name]
        env = self.local.process_env(service, self.dotenv)
        try:
            check = subprocess.run(self.local.health_argv(service), env=env, capture_output=True, timeout=90)
        except subprocess.TimeoutExpired:
            return False
        return check.returncode == 0

    def wait_healthy(self, name: str, timeout: float = 300) -> None:
        self._wait(lambda: self.healthy(name), f"{name}'s health check", timeout)

    def _wait(self, ready, what: str, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if ready():
                return
            self.check_alive()
            time.sleep(2)
        raise AssertionError(f"{what} did not pass within {timeout:.0f} s\n{self.tails()}")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"--- {name} ---\n" + "\n".join(text.splitlines()[-lines:])

    def tails(self) -> str:
        return "\n".join(self.tail(name, 15) for name in self.procs)

    def stop(self) -> None:
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if self.postgres is not None:
            self.postgres.stop()

    # the README's login, and the REST API ------------------------------------------------------------------------
    def generated_password(self, user: str) -> str:
        """Where the README says to look: the api-server's log, and the passwords file the compose file names."""
        found = re.findall(
            rf"Password for user '{re.escape(user)}': (\S+)", (self.logs / "airflow-apiserver.log").read_text()
        )
        api_env = self.local.process_env(self.services["airflow-apiserver"], self.dotenv)
        stored = json.loads(Path(api_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())
        assert found == [stored[user]], "the log and the passwords file disagree"
        return stored[user]

    def log_in(self, user: str, password: str) -> requests.Response:
        return requests.post(f"{self.url}/auth/token", json={"username": user, "password": password}, timeout=30)

    def api(self, method: str, path: str, **kwargs) -> dict:
        resp = self.session.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)
        assert resp.ok, f"{method} {path}: HTTP {resp.status_code} {resp.text[:300]}"
        return resp.json() if resp.content else {}

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> None:
        def parsed() -> bool:
            return self.session.get(f"{self.url}/api/v2/dags/{dag_id}", timeout=30).ok

        self._wait(parsed, f"DAG {dag_id} parsed", timeout)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            run = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            self.check_alive()
            time.sleep(2)
        raise AssertionError(f"run {run_id} did not finish within {timeout:.0f} s\n{self.tails()}")


def write_dotenv(path: Path, sandbox, locations: list[str]) -> dict[str, str]:
    """The operator's .env, as .env.example says to fill it in (single-quoted values are taken literally): hostile
    passwords, generated keys, the connections to the sandbox, AIRFLOW_UID; then read back as Compose reads it."""
    import secrets

    from cryptography.fernet import Fernet

    values = {
        "AIRFLOW_UID": AIRFLOW_UID,
        "POSTGRES_PASSWORD": 'p@ss:w/o%rd#"\\ x',  # through scripts/db_url.py's percent-encoding
        "GHL_PLEO_DB_PASSWORD": "a b?c=d&e[f]g~h$HOME%40",  # through PGPASSWORD, as it is
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        **sandbox.env(locations),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "GHL_PLEO_TAGS_SCHEDULE": "none",  # the one run is the test's own
        "GHL_PLEO_HEALTH_SCHEDULE": "none",
        "GHL_PLEO_LOCATIONS_PER_TASK": str(PER_TASK),  # several batch tasks, to spread over the workers
    }
    path.write_text("".join(f"{key}='{value}'\n" for key, value in values.items()))
    dotenv = parse_dotenv(path.read_text())
    assert dotenv == values
    return dotenv


_STARTUP_FAILED: list[str] = []  # a stack that failed to start is not started again for each test


@pytest.fixture(scope="module")
def stack(sandbox, tmp_path_factory):
    if _STARTUP_FAILED:
        pytest.fail(f"the compose stack did not start (see the first error): {_STARTUP_FAILED[0]}", pytrace=False)
    if os.geteuid() != 0:
        pytest.skip("airflow-init runs as root (it hands folders to AIRFLOW_UID with group 0): run as root")
    locations = sandbox.reset(locations=LOCATIONS, min_tags=15, max_tags=30)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    workdir = tmp_path_factory.mktemp("compose")
    dotenv = write_dotenv(workdir / ".env", sandbox, locations)
    stack = ComposeStack(workdir, dotenv, {port: free_port() for port in SERVICE_PORTS})
    try:
        stack.start_postgres()
        stack.start_redis()
        stack.run_init()
        for name in LONG_RUNNING:
            stack.start(name)
        stack.wait_healthy("airflow-apiserver")  # the workers wait for it (depends_on: service_healthy)
        for n in range(1, WORKERS + 1):
            stack.start("airflow-worker", log_name=f"airflow-worker-{n}")
    except BaseException as exc:
        _STARTUP_FAILED.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        stack.stop()
        raise
    try:
        yield stack
    finally:
        stack.stop()


def test_airflow_init_prepared_the_folders_for_airflow_uid_without_a_warning(stack):
    assert "AIRFLOW_UID not set" not in stack.init_output  # .env sets it
    assert "airflow-init: metadata DB migrated, pool ghl_pleo_group_writes set" in stack.init_output
    owners = stack.owners_after_init
    assert set(INIT_FOLDERS) <= set(owners)  # created where missing (here: mounted before, as Docker does)
    assert {path for path, owner in owners.items() if owner != (int(AIRFLOW_UID), 0)} == set()  # -R: files too
    assert any(path.startswith("dags/") for path in owners)
    assert stat.S_IMODE((stack.local.opt_airflow / "auth").stat().st_mode) == 0o700  # the UI's passwords


def test_every_service_passes_the_health_check_the_compose_file_gives_it(stack):
    # The worker's is a celery inspect ping to celery@$HOSTNAME: here both workers share the name.
    with ThreadPoolExecutor(max_workers=len(LONG_RUNNING) + 1) as pool:
        list(pool.map(stack.wait_healthy, [*LONG_RUNNING, "airflow-worker"]))
    # The api-server's check is the one the workers wait for: its URL answers with Airflow's version.
    api = stack.services["airflow-apiserver"]
    url = next(a for a in stack.local.health_argv(api) if a.startswith("http"))
    assert requests.get(url, timeout=30).json()["version"] == version("apache-airflow")


def test_the_login_the_readme_documents_works_and_nothing_else_does(stack):
    password = stack.generated_password("admin")  # printed in the api-server's log on its first start
    readme = (ROOT / "README.md").read_text()
    assert 'docker compose logs airflow-apiserver | grep "Password for user"' in readme
    assert stack.log_in("admin", password + "x").status_code == 401
    assert requests.get(f"{stack.url}/auth/token", timeout=30).status_code == 403  # no password-less admin
    assert requests.get(f"{stack.url}/api/v2/dags", timeout=30).status_code == 401
    token = stack.log_in("admin", password)
    assert token.status_code == 201, token.text
    stack.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    assert stack.api("GET", "/dags", params={"limit": 1})["total_entries"] >= 1


def test_the_debug_profile_runs_any_airflow_command(stack):
    """docker compose run --rm airflow-cli airflow dags list (the README's example)."""
    service = stack.services["airflow-cli"]
    argv = stack.local.argv(service, ["airflow", "dags", "list"])
    env = stack.local.process_env(service, stack.dotenv)
    done = subprocess.run(argv, env=env, cwd=stack.local.opt_airflow, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"ghl_pleo_tags_sync", "ghl_pleo_statistics_sync", "ghl_pleo_health"} <= set(done.stdout.split())


def test_a_tags_sync_runs_through_the_scheduler_and_both_workers_and_pleo_is_exactly_right(stack, sandbox):
    if "Authorization" not in stack.session.headers:
        stack.session.headers["Authorization"] = (
            "Bearer " + stack.log_in("admin", stack.generated_password("admin")).json()["access_token"]
        )
    stack.wait_for_dag(TAGS)
    stack.api("PATCH", f"/dags/{TAGS}", json={"is_paused": False})
    run_id = stack.api("POST", f"/dags/{TAGS}/dagRuns", json={"logical_date": None, "conf": {}})["dag_run_id"]
    run = stack.wait_for_run(TAGS, run_id)
    assert run["state"] == "success", stack.tails()
    assert_pleo_matches_ghl(sandbox)
    tis = stack.api("GET", f"/dags/{TAGS}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})["task_instances"]
    syncs = [ti for ti in tis if ti["task_id"] == "sync_locations"]
    assert len(syncs) == LOCATIONS // PER_TASK and {ti["state"] for ti in syncs} == {"success"}
    # Which worker ran each: the worker's log names the task instance it executes.
    logs = {n: (stack.logs / f"airflow-worker-{n}.log").read_text() for n in range(1, WORKERS + 1)}
    by_worker = {n: sum(ti["id"] in text for ti in syncs) for n, text in logs.items()}
    assert sum(by_worker.values()) == LOCATIONS // PER_TASK and all(by_worker.values()), by_worker
    print(f"sync_locations batch tasks per worker: {by_worker}")
    # The Data Docs the workers wrote are on the volume the api-server serves; the dashboard reads the warehouse.
    assert any((stack.local.opt_airflow / "data_docs").rglob("*.html"))
    docs = stack.session.get(f"{stack.url}/ghl-pleo/data-docs/", timeout=30)
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"], docs.text[:300]
    health = stack.session.get(f"{stack.url}/ghl-pleo/api/health", timeout=60)
    assert health.status_code == 200, health.text[:300]
