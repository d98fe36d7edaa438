-- Foyer schema, version 4: OpenID Connect applications, their
-- authorization requests, and sessions signed in through an application.
-- The same conventions as before: STRICT tables, ids as 16-byte UUIDv7
-- BLOBs, times as INTEGER unix milliseconds, NULL for every empty value.

-- apps are the OAuth clients. secret_hash is the SHA-256 of a
-- confidential app's secret and NULL for a public app; the URI lists are
-- JSON arrays of strings, compared exactly.
CREATE TABLE apps (
    id                        BLOB    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL,
    type                      TEXT    NOT NULL CHECK (type IN ('public', 'confidential')),
    secret_hash               BLOB,
    redirect_uris             TEXT    NOT NULL,
    post_logout_redirect_uris TEXT    NOT NULL,
    created_at                INTEGER NOT NULL,
    CHECK ((type = 'public') = (secret_hash IS NULL))
) STRICT, WITHOUT ROWID;

-- auth_requests live from /oauth2/authorize until their code is redeemed
-- or they expire. params is the validated request as JSON; user_id and
-- auth_time are set when someone signs in, code_hash (SHA-256 of the
-- code) when the code is issued.
CREATE TABLE auth_requests (
    id         BLOB    NOT NULL PRIMARY KEY,
    app_id     BLOB    NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    params     TEXT    NOT NULL,
    user_id    BLOB    REFERENCES users (id) ON DELETE CASCADE,
    auth_time  INTEGER,
    code_hash  BLOB    UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX auth_requests_app ON auth_requests (app_id);
CREATE INDEX auth_requests_user ON auth_requests (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);

-- A session signed in through an app names it, with the scopes granted
-- and the time the person signed in; Foyer's own sessions leave them
-- NULL. Deleting an app ends its sessions.
ALTER TABLE sessions ADD COLUMN app_id BLOB REFERENCES apps (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN scopes TEXT;
ALTER TABLE sessions ADD COLUMN auth_time INTEGER;

CREATE INDEX sessions_app ON sessions (app_id, user_id) WHERE app_id IS NOT NULL;

-- Expired sessions are deleted in batches, soonest expired first
-- (foyer.ExpiryService), through this index, as expired authorization
-- requests are through auth_requests_expires.
CREATE INDEX sessions_expires ON sessions (expires_at);
