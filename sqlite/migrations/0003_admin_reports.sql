-- Foyer schema, version 3: admin accounts with their console sessions,
-- and the report counters. The same conventions as before: STRICT tables,
-- ids as 16-byte UUIDv7 BLOBs, times as INTEGER unix milliseconds, NULL
-- for every empty or unset value.

-- admins are the operators of the admin console. They are not users:
-- their accounts and sessions are kept apart from end users'. The email
-- is normalised; totp_secret is NULL until TOTP is enabled.
CREATE TABLE admins (
    id            BLOB    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    totp_secret   TEXT,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER
) STRICT, WITHOUT ROWID;

-- admin_sessions are the console's sessions; only the SHA-256 of the
-- cookie value is kept. Signing in deletes the admin's expired sessions,
-- which admin_sessions_admin finds.
CREATE TABLE admin_sessions (
    id         BLOB    NOT NULL PRIMARY KEY,
    admin_id   BLOB    NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    token_hash BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- report_counts holds the report counters: n is the count of metric (one
-- of the foyer.Metric* names) on the UTC day that starts at day (unix
-- milliseconds; the monthly active-user metrics use the first day of the
-- month). Each change adds to its counter in its own transaction, so the
-- counts outlive the accounts they describe. PostgreSQL spreads a counter
-- over several shards so that concurrent sign-ups do not queue on one
-- row; SQLite has a single writer, so it only ever writes shard 0, and a
-- report sums the shards either way. A few rows per day: the primary key
-- serves every query.
CREATE TABLE report_counts (
    day    INTEGER NOT NULL,
    metric TEXT    NOT NULL,
    shard  INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (day, metric, shard)
) STRICT, WITHOUT ROWID;

-- The time-to-convert report reads the users converted in a range, with
-- the time each was created; anonymous users, who have no converted_at,
-- cost nothing here. The returned-after-a-day report needs no index: a
-- creation-time range is a range of the primary key.
CREATE INDEX users_converted ON users (converted_at, created_at) WHERE converted_at IS NOT NULL;

-- The counters start from what the remaining rows tell: every existing
-- user as created on its day (anonymous_created if it was anonymous when
-- created, which a conversion time shows) and active in the month it was
-- last seen, and every conversion on its day. What left no row (earlier
-- requests, reaped, merged and deleted accounts) starts at zero.
INSERT INTO report_counts (day, metric, shard, n)
SELECT created_at - created_at % 86400000,
    CASE WHEN anonymous = 1 OR converted_at IS NOT NULL THEN 'anonymous_created' ELSE 'registered_created' END,
    0, count(*)
FROM users GROUP BY 1, 2;

INSERT INTO report_counts (day, metric, shard, n)
SELECT converted_at - converted_at % 86400000, 'converted', 0, count(*)
FROM users WHERE converted_at IS NOT NULL GROUP BY 1;

INSERT INTO report_counts (day, metric, shard, n)
SELECT unixepoch(last_seen_at / 1000, 'unixepoch', 'start of month') * 1000,
    CASE WHEN anonymous = 1 THEN 'active_anonymous' ELSE 'active_registered' END,
    0, count(*)
FROM users GROUP BY 1, 2;
