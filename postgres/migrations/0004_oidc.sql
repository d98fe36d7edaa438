-- Foyer schema, version 4: OpenID Connect applications, their
-- authorization requests, and sessions signed in through an application.

-- apps are the OAuth clients. secret_hash is the SHA-256 of a
-- confidential app's secret and NULL for a public app; the URI lists are
-- compared exactly.
CREATE TABLE apps (
    id                        uuid        NOT NULL PRIMARY KEY,
    created_at                timestamptz NOT NULL,
    name                      text        NOT NULL,
    type                      text        NOT NULL CHECK (type IN ('public', 'confidential')),
    secret_hash               bytea,
    redirect_uris             text[]      NOT NULL,
    post_logout_redirect_uris text[]      NOT NULL,
    CHECK ((type = 'public') = (secret_hash IS NULL))
);

-- auth_requests live from /oauth2/authorize until their code is redeemed
-- or they expire. params is the validated request; user_id and auth_time
-- are set when someone signs in, code_hash (SHA-256 of the code) when the
-- code is issued. Like the other rows about a user, user_id has no
-- foreign key to users (see version 1): the statements that delete a user
-- delete its requests, and completing a request holds the user's row.
CREATE TABLE auth_requests (
    id         uuid        NOT NULL PRIMARY KEY,
    app_id     uuid        NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id    uuid,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    auth_time  timestamptz,
    code_hash  bytea       UNIQUE,
    params     jsonb       NOT NULL
);

CREATE INDEX auth_requests_app ON auth_requests (app_id);
CREATE INDEX auth_requests_user ON auth_requests (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);

-- A session signed in through an app names it, with the scopes granted
-- and the time the person signed in; Foyer's own sessions leave them
-- NULL. Deleting an app ends its sessions.
ALTER TABLE sessions
    ADD COLUMN app_id uuid REFERENCES apps (id) ON DELETE CASCADE,
    ADD COLUMN scopes text[],
    ADD COLUMN auth_time timestamptz;

CREATE INDEX sessions_app ON sessions (app_id, user_id) WHERE app_id IS NOT NULL;

-- Expired sessions are deleted in batches, soonest expired first
-- (foyer.ExpiryService), through this index, as expired authorization
-- requests are through auth_requests_expires.
CREATE INDEX sessions_expires ON sessions (expires_at);
