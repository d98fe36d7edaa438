-- Foyer schema, version 1. Ids are uuid (UUIDv7, so the id order is the
-- creation order), times are timestamptz in UTC with millisecond values,
-- blobs and JSON documents are bytea. The tables, columns and index names
-- are those of the sqlite schema with the same number.

-- users is sized for the budget of 300 bytes per anonymous user, indexes
-- included. Fixed-width columns come first, widest first, so that no
-- alignment padding is spent between them; an anonymous user with empty
-- data stores its id, three timestamps, two counters and two booleans, and
-- every other column is NULL, which costs one bit.
CREATE TABLE users (
    id             uuid        NOT NULL PRIMARY KEY,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    version        bigint      NOT NULL DEFAULT 1,
    epoch          bigint      NOT NULL DEFAULT 0,
    converted_at   timestamptz,
    -- Server-owned markers (DESIGN §2.1): columns, never keys of data.
    anonymous      boolean     NOT NULL,
    email_verified boolean     NOT NULL DEFAULT false,
    -- The verified login identifier, normalised; NULL while anonymous.
    -- A pending address lives in conversions, never here.
    email          text,
    password_hash  text,
    -- The profile, a JSON object; NULL stands for {}.
    data           bytea,
    -- An anonymous user has neither a login identifier nor a credential,
    -- and a registered user always has a login identifier.
    CONSTRAINT users_anonymous_check CHECK (anonymous = (email IS NULL)),
    CONSTRAINT users_anonymous_password_check CHECK (NOT anonymous OR password_hash IS NULL)
);

-- Sign-in, password reset and the conflict checks look users up by email;
-- the index also counts registered users. Anonymous users have no email,
-- so they cost nothing here.
CREATE UNIQUE INDEX users_email ON users (email) WHERE email IS NOT NULL;

-- The reaper (anonymous AND last_seen_at < cutoff, oldest first), the
-- inactive_since filter on anonymous users and the anonymous count. It is
-- partial: registered users cost nothing here, and an entry is 16 bytes
-- instead of 24 with the marker as a key column. Filters on the creation
-- time need no index: they are ranges of the primary key, because a
-- UUIDv7 starts with its creation millisecond.
CREATE INDEX users_anonymous_last_seen ON users (last_seen_at) WHERE anonymous;

-- The tables of rows about a user (conversions, password_resets, sessions,
-- aliases, mail) have no foreign key to users, unlike their sqlite twins:
-- a cascading foreign key fires one trigger per deleted user and table,
-- which made the reaper spend 45 of every 70 ms per 1,000 users in those
-- five triggers. The statements keep the rows consistent instead (see the
-- package documentation): a statement that adds a row about a user holds
-- the user's row, and every statement that deletes users deletes their
-- rows in the same transaction, set-wise.

-- conversions holds the pending conversion request of an anonymous user:
-- at most one per user, because a newer request replaces the older one and
-- so kills its link. Only the SHA-256 of the link token is stored.
CREATE TABLE conversions (
    user_id    uuid        NOT NULL PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    email      text        NOT NULL,
    token_hash bytea       NOT NULL UNIQUE
);

-- password_resets holds the live reset link of a registered user, at most
-- one per user for the same reason.
CREATE TABLE password_resets (
    user_id    uuid        NOT NULL PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    token_hash bytea       NOT NULL UNIQUE
);

-- sessions of registered users. The refresh token rotates on every use;
-- the previous hash is kept to detect reuse of a stolen token.
CREATE TABLE sessions (
    id                    uuid        NOT NULL PRIMARY KEY,
    user_id               uuid        NOT NULL,
    created_at            timestamptz NOT NULL,
    last_used_at          timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL,
    refresh_hash          bytea       NOT NULL UNIQUE,
    previous_refresh_hash bytea,
    user_agent            text,
    ip                    text
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_previous_refresh ON sessions (previous_refresh_hash)
    WHERE previous_refresh_hash IS NOT NULL;

-- aliases maps the id of an anonymous user merged away to the account it
-- was merged into, so apps can re-key their rows. Deleting the account
-- deletes its aliases.
CREATE TABLE aliases (
    from_id    uuid        NOT NULL PRIMARY KEY,
    into_id    uuid        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX aliases_into ON aliases (into_id);

-- mail is the durable outbound queue, written in the transaction of the
-- change that causes the message. Deleting a user deletes its mail.
CREATE TABLE mail (
    id              uuid        NOT NULL PRIMARY KEY,
    user_id         uuid       ,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    sent_at         timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,
    kind            text        NOT NULL,
    to_address      text        NOT NULL,
    data            bytea       NOT NULL,
    last_error      text
);

-- The workers claim unsent mail that is due.
CREATE INDEX mail_due ON mail (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX mail_user ON mail (user_id) WHERE user_id IS NOT NULL;
-- The development mailbox lists mail to one address, and deleting an
-- account deletes the mail sent to its address.
CREATE INDEX mail_to ON mail (to_address);

-- events is the event log and the outbox of webhooks, written in the
-- transaction of the change. It has no foreign key: user.deleted outlives
-- its user.
CREATE TABLE events (
    id         uuid        NOT NULL PRIMARY KEY,
    user_id    uuid,
    created_at timestamptz NOT NULL,
    type       text        NOT NULL,
    data       bytea       NOT NULL
);

CREATE INDEX events_user ON events (user_id) WHERE user_id IS NOT NULL;

-- api_keys authenticate calling servers; only the secret's hash is kept.
CREATE TABLE api_keys (
    id           uuid        NOT NULL PRIMARY KEY,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    hash         bytea       NOT NULL UNIQUE
);

-- signing_keys: the private half arrives encrypted by the token package.
-- The key with retired_at NULL signs; retired keys still verify.
CREATE TABLE signing_keys (
    id          text        NOT NULL PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz,
    algorithm   text        NOT NULL,
    private_key bytea       NOT NULL,
    public_key  bytea       NOT NULL
);

-- Several instances may rotate at once; at most one key signs.
CREATE UNIQUE INDEX signing_keys_current ON signing_keys ((true)) WHERE retired_at IS NULL;
