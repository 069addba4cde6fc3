-- Agency OAuth across hosts (issue 15): exact expiry times and a generation for compare-and-swap stores.
-- access_expires_ms: the access token's expiry in integer epoch milliseconds. It replaces access_expires_at (REAL,
-- a 4-byte float on PostgreSQL: an epoch second rounds to a multiple of 128 s there), which is no longer written;
-- a row without it counts as expired (its stored refresh token is used at the next call).
-- generation: bumped by every store of a new refresh token; a store only succeeds on the generation it read
-- (NULL in rows written before this file counts as 0).
ALTER TABLE ghl_oauth_state ADD COLUMN access_expires_ms BIGINT;
ALTER TABLE ghl_oauth_state ADD COLUMN generation INTEGER;
