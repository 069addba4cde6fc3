"""The SQLAlchemy URL of Airflow's metadata database, for docker-compose.yaml's ``*_CMD`` settings.

Airflow runs ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD`` and ``AIRFLOW__CELERY__RESULT_BACKEND_CMD`` and uses
what they print. The password is read from the environment and percent-encoded, so every character in it
(``@ : / % # ? " \\``, spaces) reaches PostgreSQL exactly as set: the compose file never pastes a password into
a URL. Standard library only; the image holds it at ``/opt/ghl-pleo/db_url.py``.

Usage::

    python db_url.py                  # postgresql+psycopg2://airflow:<password>@postgres:5432/airflow
    python db_url.py --prefix db+     # the same with Celery's prefix, for the result backend
"""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import quote


def db_url(
    password: str,
    *,
    user: str = "airflow",
    host: str = "postgres",
    port: int = 5432,
    database: str = "airflow",
    driver: str = "postgresql+psycopg2",
    prefix: str = "",
) -> str:
    """The URL with user and password percent-encoded (SQLAlchemy decodes them back to exactly these strings)."""
    return f"{prefix}{driver}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{database}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default="", help='prepended to the URL ("db+" for Celery\'s result backend)')
    parser.add_argument("--user", default="airflow")
    parser.add_argument("--host", default="postgres")
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--database", default="airflow")
    parser.add_argument("--password-env", default="POSTGRES_PASSWORD", help="the variable holding the password")
    args = parser.parse_args(argv)
    password = os.environ.get(args.password_env, "")
    if not password:  # never print a URL without its password: Airflow would fail later with a vaguer error
        print(f"db_url.py: {args.password_env} is not set or empty (see .env.example)", file=sys.stderr)
        return 2
    url = db_url(password, user=args.user, host=args.host, port=args.port, database=args.database, prefix=args.prefix)
    sys.stdout.write(url)  # no newline: Airflow takes the command's output as it is
    return 0


if __name__ == "__main__":
    sys.exit(main())
