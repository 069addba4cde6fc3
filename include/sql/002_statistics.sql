-- Daily social statistics per location: one row per location and UTC day. Re-running a day replaces its row.
CREATE TABLE IF NOT EXISTS ghl_statistics_daily (
    location_id   TEXT NOT NULL,
    day           TEXT NOT NULL,
    stat_id       TEXT NOT NULL,
    window_start  TEXT NOT NULL,
    window_end    TEXT NOT NULL,
    profile_count INTEGER NOT NULL,
    batches       INTEGER NOT NULL,
    metrics       TEXT NOT NULL,
    platforms     TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    fetched_at    TEXT NOT NULL,
    PRIMARY KEY (location_id, day)
);

-- The statistics metadata Pleo confirmed per location (written after Pleo answered the group PUT).
CREATE TABLE IF NOT EXISTS pleo_group_metadata_pushed (
    location_id TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    stat_id     TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    pushed_at   TEXT NOT NULL,
    PRIMARY KEY (location_id)
);
