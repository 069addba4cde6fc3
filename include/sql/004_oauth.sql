-- Agency OAuth state per GHL company: the rotated refresh token and the current access token, both encrypted
-- (Fernet, with Airflow's fernet key). Written before a new access token is used, so a crash cannot lose it.
CREATE TABLE IF NOT EXISTS ghl_oauth_state (
    company_id        TEXT NOT NULL PRIMARY KEY,
    refresh_token_enc TEXT NOT NULL,
    access_token_enc  TEXT,
    access_expires_at REAL,
    refreshed_at      TEXT NOT NULL
);
