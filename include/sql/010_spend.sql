-- Spend meets social (issue 18). Each spend run re-reads a trailing window of days (spend.lookback_days) and
-- replaces those days' rows for its company in one transaction: a re-run or a backfill never duplicates.
-- Amounts are integer minor units of the company currency (ISO 4217 exponent), never floats; ratios are decimal
-- text (4 places) so both backends keep them exact.

-- Spend per company, location, tag code and UTC day (entries = distinct accounting entries).
CREATE TABLE IF NOT EXISTS pleo_spend_daily (
    company_id   TEXT NOT NULL,
    location_id  TEXT NOT NULL,
    tag_code     TEXT NOT NULL,
    day          TEXT NOT NULL,
    currency     TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    entries      INTEGER NOT NULL,
    run_id       TEXT NOT NULL,
    loaded_at    TEXT NOT NULL,
    PRIMARY KEY (company_id, location_id, tag_code, day, currency)
);

-- Spend against the day's social statistics, per location and day (NULL where a number is missing or a
-- denominator is zero).
CREATE TABLE IF NOT EXISTS spend_vs_social_daily (
    company_id              TEXT NOT NULL,
    location_id             TEXT NOT NULL,
    day                     TEXT NOT NULL,
    currency                TEXT NOT NULL,
    spend_minor             BIGINT NOT NULL,
    has_spend               INTEGER NOT NULL,
    has_statistics          INTEGER NOT NULL,
    impressions             BIGINT,
    reach                   BIGINT,
    engagements             BIGINT,
    cost_per_1k_impressions TEXT,
    cost_per_engagement     TEXT,
    run_id                  TEXT NOT NULL,
    PRIMARY KEY (company_id, location_id, day)
);

-- Untagged spend whose note names one of our tags as whole words: every candidate (JSON) and the reason.
-- split_id is '' for an entry without split items.
CREATE TABLE IF NOT EXISTS pleo_tag_suggestions (
    company_id   TEXT NOT NULL,
    entry_id     TEXT NOT NULL,
    split_id     TEXT NOT NULL,
    day          TEXT NOT NULL,
    currency     TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    note         TEXT,
    candidates   TEXT NOT NULL,
    reason       TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    PRIMARY KEY (company_id, entry_id, split_id)
);

-- Entry parts that could not be counted (no totalBillValue, another currency, tags in two ghl-social groups...):
-- the record as Pleo sent it (JSON) and the reason. Never converted, never guessed.
CREATE TABLE IF NOT EXISTS spend_quarantine (
    company_id TEXT NOT NULL,
    entry_id   TEXT NOT NULL,
    split_id   TEXT NOT NULL,
    day        TEXT NOT NULL,
    family     TEXT,
    reason     TEXT NOT NULL,
    record     TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    PRIMARY KEY (company_id, entry_id, split_id)
);
CREATE INDEX IF NOT EXISTS ix_spend_quarantine_day ON spend_quarantine (company_id, day);

-- Budget alerts sent: one per location and month, remembered here.
CREATE TABLE IF NOT EXISTS spend_budget_alerts (
    location_id     TEXT NOT NULL,
    month           TEXT NOT NULL,
    company_id      TEXT NOT NULL,
    currency        TEXT NOT NULL,
    spent_minor     BIGINT NOT NULL,
    projected_minor BIGINT NOT NULL,
    budget_minor    BIGINT NOT NULL,
    run_id          TEXT NOT NULL,
    alerted_at      TEXT NOT NULL,
    PRIMARY KEY (location_id, month)
);
