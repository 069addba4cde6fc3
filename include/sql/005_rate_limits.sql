-- Request rates shared by every task process (and worker) that uses this warehouse: one row per key
-- (e.g. "pleo:https://external.pleo.io"), holding the earliest time (epoch seconds) the next request may go.
CREATE TABLE IF NOT EXISTS ghl_pleo_rate_slots (
    rate_key TEXT NOT NULL PRIMARY KEY,
    next_at  DOUBLE PRECISION NOT NULL
);
