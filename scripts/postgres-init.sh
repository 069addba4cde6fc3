#!/usr/bin/env bash
# docker-compose: the ghl-pleo warehouse gets its own LOGIN role and database next to Airflow's metadata database.
#
# The postgres image runs this once, on the first start with an empty volume (as /docker-entrypoint-initdb.d/
# 10-ghl-pleo.sh, connected as POSTGRES_USER). It is safe to run again, e.g. to set a new password or to move an
# older deployment's warehouse (database ghl_pleo owned by airflow) to the role:
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10-ghl-pleo.sh
#
# The password reaches psql as a variable (-v) and the SQL as :'pw', which psql quotes as a literal: no character
# in it (quotes, backslashes, semicolons) can end the string or add a statement. The heredoc is quoted, so the
# shell expands nothing in the SQL. Written to work when sourced too (no exit, no set -u).
set -e

if [ -z "${GHL_PLEO_DB_PASSWORD:-}" ]; then
    echo "postgres-init.sh: GHL_PLEO_DB_PASSWORD is not set (the warehouse role's password; see .env.example)" >&2
    false
fi

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v pw="$GHL_PLEO_DB_PASSWORD" -v metadata_db="${POSTGRES_DB:-postgres}" <<'EOSQL'
-- Keep the password out of the server's log, should a statement below fail.
SET log_min_error_statement = panic;
SET log_statement = 'none';
\set VERBOSITY terse
SELECT 'CREATE ROLE ghl_pleo' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ghl_pleo')\gexec
ALTER ROLE ghl_pleo WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'pw';
SELECT 'CREATE DATABASE ghl_pleo OWNER ghl_pleo' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ghl_pleo')\gexec
ALTER DATABASE ghl_pleo OWNER TO ghl_pleo;
REVOKE ALL ON DATABASE ghl_pleo FROM PUBLIC;
-- The warehouse role has no business in Airflow's metadata database.
REVOKE ALL ON DATABASE :"metadata_db" FROM PUBLIC;
\connect ghl_pleo
ALTER SCHEMA public OWNER TO ghl_pleo;
-- Tables an older deployment created as airflow (their indexes follow them).
SELECT format('ALTER TABLE %I.%I OWNER TO ghl_pleo', schemaname, tablename)
  FROM pg_tables WHERE schemaname = 'public' AND tableowner <> 'ghl_pleo'\gexec
EOSQL
echo "postgres-init.sh: role and database ghl_pleo ready"
