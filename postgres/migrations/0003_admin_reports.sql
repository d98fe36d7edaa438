-- Foyer schema, version 3: admin accounts with their console sessions,
-- and the report counters. The same conventions as before: uuid ids,
-- timestamptz times, NULL for every empty or unset value, and the names
-- of the sqlite schema with the same number.

-- admins are the operators of the admin console. They are not users:
-- their accounts and sessions are kept apart from end users'. The email
-- is normalised; totp_secret is NULL until TOTP is enabled.
CREATE TABLE admins (
    id            uuid        NOT NULL PRIMARY KEY,
    created_at    timestamptz NOT NULL,
    last_login_at timestamptz,
    email         text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    totp_secret   text
);

-- admin_sessions are the console's sessions; only the SHA-256 of the
-- cookie value is kept. Signing in deletes the admin's expired sessions,
-- which admin_sessions_admin finds. A handful of admins sign in now and
-- then, so the foreign key's trigger costs nothing that matters, unlike
-- those the users table does without.
CREATE TABLE admin_sessions (
    id         uuid        NOT NULL PRIMARY KEY,
    admin_id   uuid        NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    token_hash bytea       NOT NULL UNIQUE
);

CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- report_counts holds the report counters: n is the count of metric (one
-- of the foyer.Metric* names) on the UTC day (the monthly active-user
-- metrics use the first day of the month). Each change adds to its
-- counter in the statement that makes it, so the counts outlive the
-- accounts they describe. Every counter is spread over 32 shards, picked
-- by the server process of the connection, so that concurrent sign-ups
-- update different rows instead of queueing for the lock of one; a
-- report sums the shards. At most a few hundred rows per day: the primary key serves
-- every query.
CREATE TABLE report_counts (
    day    date     NOT NULL,
    metric text     NOT NULL,
    shard  smallint NOT NULL,
    n      bigint   NOT NULL,
    PRIMARY KEY (day, metric, shard)
);

-- The time-to-convert report reads the users converted in a range, with
-- the time each was created; anonymous users, who have no converted_at,
-- cost nothing here. The returned-after-a-day report needs no index: a
-- creation-time range is a range of the primary key.
CREATE INDEX users_converted ON users (converted_at) INCLUDE (created_at) WHERE converted_at IS NOT NULL;

-- The active-users report counts registered users last seen since a
-- time; users_anonymous_last_seen counts the anonymous ones. Anonymous
-- users cost nothing here.
CREATE INDEX users_registered_last_seen ON users (last_seen_at) WHERE NOT anonymous;

-- The counters start from what the remaining rows tell: every existing
-- user as created on its day (anonymous_created if it was anonymous when
-- created, which a conversion time shows) and active in the month it was
-- last seen, and every conversion on its day. What left no row (earlier
-- requests, reaped, merged and deleted accounts) starts at zero.
INSERT INTO report_counts (day, metric, shard, n)
SELECT (created_at AT TIME ZONE 'UTC')::date,
    CASE WHEN anonymous OR converted_at IS NOT NULL THEN 'anonymous_created' ELSE 'registered_created' END,
    0, count(*)
FROM users GROUP BY 1, 2;

INSERT INTO report_counts (day, metric, shard, n)
SELECT (converted_at AT TIME ZONE 'UTC')::date, 'converted', 0, count(*)
FROM users WHERE converted_at IS NOT NULL GROUP BY 1;

INSERT INTO report_counts (day, metric, shard, n)
SELECT date_trunc('month', last_seen_at AT TIME ZONE 'UTC')::date,
    CASE WHEN anonymous THEN 'active_anonymous' ELSE 'active_registered' END,
    0, count(*)
FROM users GROUP BY 1, 2;
