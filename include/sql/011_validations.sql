-- Great Expectations off the hot path (issue 19): a batch task validates its locations' records in ONE validation.
-- One row per validation (the GX result, lists of unexpected rows left out) for summarize to build Data Docs once
-- per run on any host; one row per location in it with its own outcome (short JSON: failed expectations, counts).
CREATE TABLE IF NOT EXISTS quality_validations (
    dag_id        TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    validation_id TEXT NOT NULL,
    suite         TEXT NOT NULL,
    success       INTEGER NOT NULL,
    locations     INTEGER NOT NULL,
    result_json   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (dag_id, run_id, validation_id)
);

CREATE TABLE IF NOT EXISTS quality_location_results (
    dag_id        TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    validation_id TEXT NOT NULL,
    location_id   TEXT NOT NULL,
    success       INTEGER NOT NULL,
    result_json   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (dag_id, run_id, validation_id, location_id)
);
