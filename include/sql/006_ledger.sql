-- The run ledger and the change log (issue: operability). Read by the summary, the stale-sync check and the
-- health dashboard. Rows older than GHL_PLEO_LEDGER_RETENTION_DAYS are removed by the ghl_pleo_health DAG's
-- cleanup task (each location's latest successful run is always kept: it is the drift and staleness baseline).

-- Ledger columns of sync_location_runs (one row per DAG run and location). ADD COLUMN statements run only where
-- the column is missing (plugins/ghl_pleo/warehouse/core.py checks first), so a warehouse made before them is
-- upgraded in place.
ALTER TABLE sync_location_runs ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_location_runs ADD COLUMN duration_s DOUBLE PRECISION;
ALTER TABLE sync_location_runs ADD COLUMN records_read INTEGER;
ALTER TABLE sync_location_runs ADD COLUMN records_synced INTEGER;
ALTER TABLE sync_location_runs ADD COLUMN records_rejected INTEGER;
ALTER TABLE sync_location_runs ADD COLUMN requests_total INTEGER;
ALTER TABLE sync_location_runs ADD COLUMN retries INTEGER;
ALTER TABLE sync_location_runs ADD COLUMN min_ratelimit_remaining INTEGER;
ALTER TABLE sync_location_runs ADD COLUMN drift_flags TEXT;
CREATE INDEX IF NOT EXISTS ix_sync_location_runs_started ON sync_location_runs (started_at);
CREATE INDEX IF NOT EXISTS ix_sync_location_runs_location ON sync_location_runs (dag_id, location_id, status);

-- One row per Pleo write (or, in a dry run, per write the run would have made), written in the same transaction
-- as the sync state it changes (pleo_tags_pushed, pleo_group_metadata_pushed).
-- entity: tag_group | tag | dimension | dimension_value | group_metadata; action: create, rename, archive,
-- unarchive, archive_duplicate, update, set. before_value / after_value: JSON of the fields the write changes.
CREATE TABLE IF NOT EXISTS pleo_change_log (
    change_id    TEXT NOT NULL PRIMARY KEY,
    dag_id       TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    try_number   INTEGER NOT NULL,
    location_id  TEXT NOT NULL,
    entity       TEXT NOT NULL,
    code         TEXT,
    pleo_id      TEXT,
    action       TEXT NOT NULL,
    before_value TEXT,
    after_value  TEXT,
    dry_run      INTEGER NOT NULL,
    changed_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_pleo_change_log_run ON pleo_change_log (dag_id, run_id, location_id);
CREATE INDEX IF NOT EXISTS ix_pleo_change_log_changed ON pleo_change_log (changed_at);

-- Stale-sync alerts already sent: one row per DAG and location while it is stale. last_success_at is the success
-- the staleness is counted from ('' = never), so one stale period alerts once; a new success ends the period.
CREATE TABLE IF NOT EXISTS stale_alerts (
    dag_id          TEXT NOT NULL,
    location_id     TEXT NOT NULL,
    last_success_at TEXT NOT NULL,
    alerted_at      TEXT NOT NULL,
    PRIMARY KEY (dag_id, location_id)
);
CREATE INDEX IF NOT EXISTS ix_rejected_records_at ON rejected_records (rejected_at);
CREATE INDEX IF NOT EXISTS ix_sync_run_events_at ON sync_run_events (created_at);
