-- Outgoing webhooks per namespace (beyond Portus: event filter, signing, a durable queue with
-- retries). The secret, the credentials and the header values are one sealed (encrypted) text;
-- the imported Portus rows stay in `webhooks` untouched.
CREATE TABLE outgoing_webhooks (
    id              INTEGER PRIMARY KEY,
    namespace_id    INTEGER NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    content_type    TEXT    NOT NULL,
    events          TEXT    NOT NULL,
    min_severity    INTEGER NOT NULL,
    enabled         INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    header_names    TEXT    NOT NULL,
    has_credentials INTEGER NOT NULL CHECK (has_credentials IN (0, 1)),
    sealed          TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    UNIQUE (namespace_id, name)
);

-- The delivery queue and log: one row per event per webhook, attempted in id order per
-- webhook; the last attempt is kept on the row.
CREATE TABLE webhook_queue (
    id               INTEGER PRIMARY KEY,
    webhook_id       INTEGER NOT NULL REFERENCES outgoing_webhooks (id) ON DELETE CASCADE,
    event            TEXT    NOT NULL,
    event_key        TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    attempted_at     TEXT,
    status           INTEGER,
    duration_ms      INTEGER,
    request_headers  TEXT,
    response_headers TEXT,
    response_body    TEXT,
    error            TEXT,
    UNIQUE (webhook_id, event_key)
);
CREATE INDEX webhook_queue_pending ON webhook_queue (webhook_id, id) WHERE state = 'pending';
CREATE INDEX webhook_queue_by_webhook ON webhook_queue (webhook_id, id);
