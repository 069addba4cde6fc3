-- The field set (and JSON types) last seen per endpoint and location, for schema-drift reports.
CREATE TABLE IF NOT EXISTS schema_fields (
    endpoint    TEXT NOT NULL,
    location_id TEXT NOT NULL,
    field       TEXT NOT NULL,
    types       TEXT NOT NULL,
    seen_at     TEXT NOT NULL,
    PRIMARY KEY (endpoint, location_id, field)
);
