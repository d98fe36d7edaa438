-- Foyer schema, version 2: webhook endpoints, their delivery queue, the
-- outbox marker on events, and the audit log. The same conventions as
-- version 1: STRICT tables, ids as 16-byte UUIDv7 BLOBs, times as INTEGER
-- unix milliseconds, NULL for every empty or unset value.

-- webhooks are the endpoints that receive events. event_types is a JSON
-- array of the types delivered, NULL for all. The previous secret keeps
-- signing beside the current one until previous_secret_expires_at, so
-- receivers can roll over. disabled_reason says why Foyer disabled the
-- endpoint; failing_since is the first failure of the current run of
-- failures. A handful of rows: no index beyond the primary key.
CREATE TABLE webhooks (
    id                         BLOB    NOT NULL PRIMARY KEY,
    url                        TEXT    NOT NULL,
    event_types                TEXT,
    enabled                    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    secret                     TEXT    NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at INTEGER,
    disabled_reason            TEXT,
    failing_since              INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- deliveries is the durable queue of one event on its way to one
-- endpoint. The id is the webhook-id header, stable across retries.
-- Deleting the endpoint deletes its deliveries, and so does deleting the
-- event (DeleteUser deletes a user's events, the retention old ones), so
-- that a delivery always has the event it carries. user_id, copied from
-- the event, serves the user filter and the export. A rowid table,
-- because the response snippet varies in size.
CREATE TABLE deliveries (
    id               BLOB    NOT NULL PRIMARY KEY,
    webhook_id       BLOB    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         BLOB    NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    event_type       TEXT    NOT NULL,
    user_id          BLOB,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    last_attempt_at  INTEGER,
    last_status_code INTEGER,
    last_latency_ms  INTEGER,
    last_response    TEXT,
    last_error       TEXT
) STRICT;

-- The dispatcher claims pending deliveries that are due; finished ones
-- cost nothing here.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';
-- The delivery log of one endpoint, newest first, and the cascade from
-- webhooks.
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
-- The cascade from events, the event filter and the retention's check
-- for pending deliveries.
CREATE INDEX deliveries_event ON deliveries (event_id);
-- The user filter, newest first, and the export.
CREATE INDEX deliveries_user ON deliveries (user_id, id) WHERE user_id IS NOT NULL;

-- events gets its outbox marker: NULL until the dispatcher has turned the
-- event into deliveries, then 1. Adding a column whose default is NULL
-- rewrites nothing, and a new event stores nothing for it, so a sign-up
-- writes the same events row as before; its only new cost is an entry in
-- events_undispatched, which holds the few events not yet dispatched.
ALTER TABLE events ADD COLUMN dispatched INTEGER CHECK (dispatched = 1);

-- No endpoint existed before this version, so the events recorded until
-- now have nothing to deliver.
UPDATE events SET dispatched = 1;

CREATE INDEX events_undispatched ON events (id) WHERE dispatched IS NULL;

-- audit_log records every server-API and admin action: who (actor), what
-- (action, status), on what (target), from where (ip). It is read newest
-- first; a time range is a range of the primary key, because a UUIDv7
-- starts with its creation millisecond, so time needs no index of its own.
CREATE TABLE audit_log (
    id         BLOB    NOT NULL PRIMARY KEY,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT,
    status     INTEGER NOT NULL,
    ip         TEXT,
    details    TEXT,
    created_at INTEGER NOT NULL
) STRICT;

-- What was done to one user or endpoint, and what one key or admin did,
-- newest first.
CREATE INDEX audit_log_target ON audit_log (target, id) WHERE target IS NOT NULL;
CREATE INDEX audit_log_actor ON audit_log (actor, id);
