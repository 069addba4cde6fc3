-- One writer per unit of work (issue 14): leases, and tag pages staged per run.

-- A lease per unit of work (e.g. "ghl_pleo_tags_sync:<locationId>", "pleo_tag_groups"): the run that holds it
-- (holder = "<dag_id>/<run_id>"; token = one acquisition, so a renewal or release by a try that was taken over
-- matches nothing), since when, its last heartbeat and when it lapses. Taken and renewed in one short
-- transaction each (no database lock is held while the holder talks to GHL or Pleo); deleted on release.
CREATE TABLE IF NOT EXISTS sync_leases (
    unit         TEXT NOT NULL PRIMARY KEY,
    holder       TEXT NOT NULL,
    token        TEXT NOT NULL,
    dry_run      INTEGER NOT NULL,
    acquired_at  TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);

-- Raw GHL tag pages, staged by run: a run clears and reads only its own rows for a location, and drops them once
-- it has read them. Rows a killed try left behind are removed by age (ghl_pleo_health's cleanup).
-- It replaces ghl_tags_staged, whose key (location, page, position) let one run clear or read another's pages.
CREATE TABLE IF NOT EXISTS ghl_tag_pages (
    run_id      TEXT NOT NULL,
    location_id TEXT NOT NULL,
    page_no     INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    tag_id      TEXT,
    payload     TEXT NOT NULL,
    fetched_at  TEXT NOT NULL,
    PRIMARY KEY (run_id, location_id, page_no, position)
);
CREATE INDEX IF NOT EXISTS ix_ghl_tag_pages_fetched ON ghl_tag_pages (fetched_at);
DROP TABLE IF EXISTS ghl_tags_staged;
