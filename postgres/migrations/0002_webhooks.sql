-- Foyer schema, version 2: webhook endpoints, their delivery queue, the
-- outbox marker on events, and the audit log. The same conventions as
-- version 1: uuid ids, timestamptz times, NULL for every empty or unset
-- value, and the names of the sqlite schema with the same number.

-- webhooks are the endpoints that receive events. event_types lists the
-- types delivered, NULL for all. The previous secret keeps signing beside
-- the current one until previous_secret_expires_at, so receivers can roll
-- over. disabled_reason says why Foyer disabled the endpoint;
-- failing_since is the first failure of the current run of failures. A
-- handful of rows: no index beyond the primary key.
CREATE TABLE webhooks (
    id                         uuid        NOT NULL PRIMARY KEY,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    previous_secret_expires_at timestamptz,
    failing_since              timestamptz,
    enabled                    boolean     NOT NULL,
    url                        text        NOT NULL,
    event_types                text[],
    secret                     text        NOT NULL,
    previous_secret            text,
    disabled_reason            text
);

-- deliveries is the durable queue of one event on its way to one
-- endpoint. The id is the webhook-id header, stable across retries.
-- Deleting the endpoint deletes its deliveries, and so does deleting the
-- event (DeleteUser deletes a user's events, the retention old ones), so
-- that a delivery always has the event it carries. These foreign keys
-- cost a trigger per deleted event, about one per reaped user, which the
-- reaper can afford; and the key from deliveries to events makes a
-- fan-out and a deletion of the same event wait for each other. user_id,
-- copied from the event, serves the user filter and the export.
CREATE TABLE deliveries (
    id               uuid        NOT NULL PRIMARY KEY,
    webhook_id       uuid        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         uuid        NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id          uuid,
    next_attempt_at  timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    last_attempt_at  timestamptz,
    last_latency_ms  bigint,
    attempts         integer     NOT NULL DEFAULT 0,
    last_status_code integer,
    status           text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    event_type       text        NOT NULL,
    last_response    text,
    last_error       text
);

-- The dispatchers claim pending deliveries that are due; finished ones
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

-- events gets its outbox marker: NULL until a dispatcher has turned the
-- event into deliveries, then true. No endpoint existed before this
-- version, so the events recorded until now have nothing to deliver: the
-- column is added with the default true, which PostgreSQL keeps in the
-- catalogue for the existing rows instead of rewriting the table, and the
-- default is then dropped, so that a new event stores nothing for it and
-- a sign-up writes the same events row as before. Its only new cost is an
-- entry in events_undispatched, which holds the few events not yet
-- dispatched.
ALTER TABLE events ADD COLUMN dispatched boolean DEFAULT true CONSTRAINT events_dispatched_check CHECK (dispatched);
ALTER TABLE events ALTER COLUMN dispatched DROP DEFAULT;

CREATE INDEX events_undispatched ON events (id) WHERE dispatched IS NULL;

-- audit_log records every server-API and admin action: who (actor), what
-- (action, status), on what (target), from where (ip). It is read newest
-- first; a time range is a range of the primary key, because a UUIDv7
-- starts with its creation millisecond, so time needs no index of its own.
CREATE TABLE audit_log (
    id         uuid        NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    status     integer     NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    target     text,
    ip         text,
    details    bytea
);

-- What was done to one user or endpoint, and what one key or admin did,
-- newest first.
CREATE INDEX audit_log_target ON audit_log (target, id) WHERE target IS NOT NULL;
CREATE INDEX audit_log_actor ON audit_log (actor, id);
