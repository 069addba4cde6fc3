-- ghl-pleo warehouse. Applied once per process when it first opens the warehouse (so at the start of every task);
-- every statement is idempotent.
-- Portable SQL for SQLite and PostgreSQL: text timestamps (ISO-8601 UTC), integer booleans, natural keys.

-- Latest tag details per tag; fingerprint = the list record they were fetched for.
CREATE TABLE IF NOT EXISTS ghl_tag_details (
    location_id TEXT NOT NULL,
    tag_id      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    payload     TEXT NOT NULL,
    fetched_at  TEXT NOT NULL,
    PRIMARY KEY (location_id, tag_id)
);

-- What Pleo confirmed, per tag code: written only after Pleo answered the write.
CREATE TABLE IF NOT EXISTS pleo_tags_pushed (
    location_id TEXT NOT NULL,
    code        TEXT NOT NULL,
    pleo_tag_id TEXT NOT NULL,
    name        TEXT,
    archived    INTEGER NOT NULL,
    last_action TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    pushed_at   TEXT NOT NULL,
    PRIMARY KEY (location_id, code)
);

-- Records that broke a row rule, with the rule and the raw value. One row per run, location, record, rule.
CREATE TABLE IF NOT EXISTS rejected_records (
    dag_id      TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    location_id TEXT NOT NULL,
    entity      TEXT NOT NULL,
    record_key  TEXT NOT NULL,
    rule        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw_value   TEXT,
    rejected_at TEXT NOT NULL,
    PRIMARY KEY (dag_id, run_id, location_id, entity, record_key, rule)
);

-- One row per DAG run and location: status, counts and requests (the run summary reads it).
CREATE TABLE IF NOT EXISTS sync_location_runs (
    dag_id      TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    location_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    try_number  INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    error_kind  TEXT,
    error       TEXT,
    counts      TEXT,
    requests    TEXT,
    PRIMARY KEY (dag_id, run_id, location_id)
);

-- Run-level notes: duplicate or orphaned groups, skipped locations.
CREATE TABLE IF NOT EXISTS sync_run_events (
    dag_id      TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    location_id TEXT NOT NULL,
    event       TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (dag_id, run_id, location_id, event)
);
