-- Foyer schema, version 1. Times are INTEGER unix milliseconds (UTC); ids
-- are 16-byte UUIDv7 BLOBs, so the id order is the creation order.
-- Every table is STRICT. Tables of small fixed-size rows are WITHOUT ROWID:
-- the row lives in the primary-key B-tree, which saves the separate rowid
-- index that a BLOB primary key would otherwise need.

-- users is sized for the budget of 300 bytes per anonymous user, indexes
-- included. An anonymous user with empty data stores only its id, three
-- timestamps and small integers (0 and 1 take no bytes in an SQLite record):
-- about 60 bytes in the table and 30 in users_anonymous_last_seen.
CREATE TABLE users (
    id             BLOB    NOT NULL PRIMARY KEY,
    -- Server-owned markers (DESIGN §2.1): columns, never keys of data.
    anonymous      INTEGER NOT NULL CHECK (anonymous IN (0, 1)),
    -- The verified login identifier, normalised; NULL while anonymous.
    -- A pending address lives in conversions, never here.
    email          TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    password_hash  TEXT,
    -- The profile, a JSON object; NULL stands for {}.
    data           TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    converted_at   INTEGER,
    version        INTEGER NOT NULL DEFAULT 1,
    epoch          INTEGER NOT NULL DEFAULT 0,
    -- An anonymous user has neither a login identifier nor a credential.
    CHECK (anonymous = 0 OR (email IS NULL AND password_hash IS NULL))
) STRICT, WITHOUT ROWID;

-- Sign-in, password reset and the conflict checks look users up by email.
-- Anonymous users have none, so they cost nothing here.
CREATE UNIQUE INDEX users_email ON users (email) WHERE email IS NOT NULL;

-- One index serves the reaper (anonymous = 1 AND last_seen_at < cutoff,
-- oldest first), the inactive_since filter (anonymous IN (0, 1) AND
-- last_seen_at < t), the anonymous filter and the per-kind user counts.
-- Filters on the creation time need no index: they are ranges of the
-- primary key, because a UUIDv7 starts with its creation millisecond.
CREATE INDEX users_anonymous_last_seen ON users (anonymous, last_seen_at);

-- conversions holds the pending conversion request of an anonymous user:
-- at most one per user, because a newer request replaces the older one and
-- so kills its link. Only the SHA-256 of the link token is stored.
CREATE TABLE conversions (
    user_id    BLOB    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL,
    token_hash BLOB    NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- password_resets holds the live reset link of a registered user, at most
-- one per user for the same reason.
CREATE TABLE password_resets (
    user_id    BLOB    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash BLOB    NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- sessions of registered users. The refresh token rotates on every use;
-- the previous hash is kept to detect reuse of a stolen token.
CREATE TABLE sessions (
    id                    BLOB    NOT NULL PRIMARY KEY,
    user_id               BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash          BLOB    NOT NULL UNIQUE,
    previous_refresh_hash BLOB,
    created_at            INTEGER NOT NULL,
    last_used_at          INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    user_agent            TEXT,
    ip                    TEXT
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_previous_refresh ON sessions (previous_refresh_hash)
    WHERE previous_refresh_hash IS NOT NULL;

-- aliases maps the id of an anonymous user merged away to the account it
-- was merged into, so apps can re-key their rows. Deleting the account
-- deletes its aliases.
CREATE TABLE aliases (
    from_id    BLOB    NOT NULL PRIMARY KEY,
    into_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX aliases_into ON aliases (into_id);

-- mail is the durable outbound queue, written in the transaction of the
-- change that causes the message. Deleting a user deletes its mail.
CREATE TABLE mail (
    id              BLOB    NOT NULL PRIMARY KEY,
    kind            TEXT    NOT NULL,
    to_address      TEXT    NOT NULL,
    user_id         BLOB    REFERENCES users (id) ON DELETE CASCADE,
    data            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at         INTEGER,
    last_error      TEXT
) STRICT, WITHOUT ROWID;

-- The worker claims unsent mail that is due.
CREATE INDEX mail_due ON mail (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX mail_user ON mail (user_id) WHERE user_id IS NOT NULL;
-- The development mailbox lists mail to one address, and deleting an
-- account deletes the mail sent to its address.
CREATE INDEX mail_to ON mail (to_address);

-- events is the event log and the outbox of webhooks, written in the
-- transaction of the change. It has no foreign key: user.deleted outlives
-- its user. A rowid table, because payloads vary in size (they carry the
-- user's data).
CREATE TABLE events (
    id         BLOB    NOT NULL PRIMARY KEY,
    type       TEXT    NOT NULL,
    user_id    BLOB,
    created_at INTEGER NOT NULL,
    data       TEXT    NOT NULL
) STRICT;

CREATE INDEX events_user ON events (user_id) WHERE user_id IS NOT NULL;

-- api_keys authenticate calling servers; only the secret's hash is kept.
CREATE TABLE api_keys (
    id           BLOB    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT, WITHOUT ROWID;

-- signing_keys: the private half arrives encrypted by the token package.
-- The key with retired_at NULL signs; retired keys still verify.
CREATE TABLE signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    private_key BLOB    NOT NULL,
    public_key  BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
) STRICT, WITHOUT ROWID;
