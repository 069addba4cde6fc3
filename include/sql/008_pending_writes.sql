-- Pleo creates sent but not yet confirmed (issue 14: the change log is complete). A row is written just before
-- a create is sent and deleted in the same transaction that records Pleo's answer (sync state + change-log row).
-- A row still here means the answer was lost (a dropped connection, a killed task): the next try that re-reads
-- Pleo and finds the object writes its change-log row, marked confirmed_on_reread, and deletes this row; if Pleo
-- has no such object, the create never happened, the row is deleted and the plan creates it again.
-- entity: tag | tag_group; code_key: the casefolded code (Pleo matches codes case-insensitively).
CREATE TABLE IF NOT EXISTS pleo_pending_writes (
    location_id TEXT NOT NULL,
    entity      TEXT NOT NULL,
    code_key    TEXT NOT NULL,
    name        TEXT,
    dag_id      TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    try_number  INTEGER NOT NULL,
    sent_at     TEXT NOT NULL,
    PRIMARY KEY (location_id, entity, code_key)
);
-- 1: the write's answer was lost and a later read of Pleo confirmed it.
ALTER TABLE pleo_change_log ADD COLUMN confirmed_on_reread INTEGER NOT NULL DEFAULT 0;
