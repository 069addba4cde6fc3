"""docker-compose.yaml read as Compose reads it, for the deploy tests (there is no container engine here).

``resolve`` fills in every ``${...}`` the way Compose does, from a ``.env`` (``parse_dotenv``); ``container_env``
builds a service's container environment from ``env_file`` and ``environment`` as Compose builds it (YAML anchors
and merge keys are resolved by the YAML loader); ``image_files`` says which repository file the Dockerfile puts
at each path of the image; ``ComposePostgres`` is the postgres service as its image starts it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


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


def raw_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def image_files() -> dict[str, Path]:
    """Each path the Dockerfile COPYs into the image, with the repository file or folder it copies."""
    text = (ROOT / "Dockerfile").read_text()
    return {dest: ROOT / src for src, dest in re.findall(r"^COPY\s+(?:--\S+\s+)*(\S+)\s+(\S+)\s*$", text, re.M)}


class ComposePostgres:
    """The compose file's postgres service as the postgres image starts it, on a free loopback port: superuser
    ``user`` (with ``password`` over TCP, SCRAM; trusted on the server's socket, as in the image), database
    ``database``. ``run_init_scripts`` then runs what compose mounts into ``/docker-entrypoint-initdb.d``."""

    def __init__(
        self, user: str = "airflow", password: str | None = None, database: str = "airflow", port: int | None = None
    ) -> None:
        from tests.pg import pg_bindir
        from tests.sandbox_client import free_port

        bindir = pg_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (make test installs it: Debian package postgresql)")
        self.bindir = bindir
        self.user = user
        self.root = Path(tempfile.mkdtemp(prefix="ghl-pleo-pg-compose-"))
        self.port = port or free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres", "postgres")
        data = str(self.root / "data")
        initdb = ["-D", data, "-U", user, "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8"]
        if password is not None:
            pwfile = self.root / "pwfile"
            pwfile.write_text(password + "\n")
            if self.as_user:
                shutil.chown(pwfile, "postgres", "postgres")
            initdb += ["--pwfile", str(pwfile)]
        self._run("initdb", *initdb)
        if password is not None:
            (self.root / "pwfile").unlink()
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", data, "-l", str(self.root / "log"), "-w", "-t", "60", "-o", options, "start")
        if database != "postgres":
            self.psql(f'CREATE DATABASE "{database}"', db="postgres")

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run([*self.as_user, str(self.bindir / tool), *args], capture_output=True, text=True)
        assert proc.returncode == 0, f"{tool}: {proc.stdout[-1000:]} {proc.stderr[-1000:]}"

    @property
    def env(self) -> dict[str, str]:
        """libpq's defaults pointed at this server's socket (a container's own server, seen from inside it)."""
        path = f"{self.bindir}:{os.environ['PATH']}"
        return {"PATH": path, "PGHOST": str(self.root), "PGPORT": str(self.port), "HOME": str(self.root)}

    def psql(self, sql: str, db: str = "airflow") -> str:
        proc = subprocess.run(
            ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", self.user, "-d", db, "-c", sql],
            env=self.env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def run_init_scripts(self, service: dict, dotenv: Mapping[str, str]) -> list[subprocess.CompletedProcess]:
        """The ``*.sh`` files the service mounts into ``/docker-entrypoint-initdb.d``, in name order, with the
        service's environment, as the image runs them on its first start (executable ones run, others sourced)."""
        scripts = {}
        for volume in service.get("volumes", []):
            src, dest = volume.split(":")[:2]
            if dest.startswith("/docker-entrypoint-initdb.d/") and dest.endswith(".sh"):
                scripts[dest] = ROOT / src
        env = {**container_env(service, dotenv), **self.env}
        done = []
        for _, script in sorted(scripts.items()):
            argv = ["bash", str(script)] if os.access(script, os.X_OK) else ["bash", "-c", f'source "{script}"']
            done.append(subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120))
        return done

    def stop(self) -> None:
        stop = ["pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop"]
        subprocess.run([*self.as_user, str(self.bindir / stop[0]), *stop[1:]], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
