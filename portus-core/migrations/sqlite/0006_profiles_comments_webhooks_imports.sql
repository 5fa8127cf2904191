-- What a Portus installation brings beside accounts and images: profile fields, identities
-- from other providers, repository descriptions, image details, comments, outgoing webhooks,
-- and the import ledger: every row an import wrote, by its identity at the source, so that
-- an import never writes a row twice nor re-creates one deleted here since.
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN bot INTEGER NOT NULL DEFAULT 0 CHECK (bot IN (0, 1));

CREATE TABLE user_identities (
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT    NOT NULL,
    issuer   TEXT    NOT NULL DEFAULT '',
    subject  TEXT    NOT NULL,
    PRIMARY KEY (provider, issuer, subject)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id);

ALTER TABLE repositories ADD COLUMN description TEXT;

ALTER TABLE tags ADD COLUMN image_id TEXT;
ALTER TABLE tags ADD COLUMN image_size INTEGER;
ALTER TABLE tags ADD COLUMN pulled_at TEXT;

CREATE TABLE comments (
    id            INTEGER PRIMARY KEY,
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    author        TEXT,
    body          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);
CREATE INDEX comments_by_repository ON comments (repository_id, id);

CREATE TABLE webhooks (
    id           INTEGER PRIMARY KEY,
    namespace_id INTEGER NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    url          TEXT    NOT NULL,
    method       TEXT    NOT NULL CHECK (method IN ('GET', 'POST')),
    content_type TEXT    NOT NULL,
    username     TEXT,
    password     TEXT,
    enabled      INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    created_at   TEXT    NOT NULL
);
CREATE INDEX webhooks_by_namespace ON webhooks (namespace_id);

CREATE TABLE webhook_headers (
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    PRIMARY KEY (webhook_id, name)
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    uuid            TEXT    NOT NULL,
    status          INTEGER,
    request_header  TEXT,
    request_body    TEXT,
    response_header TEXT,
    response_body   TEXT,
    created_at      TEXT    NOT NULL,
    UNIQUE (webhook_id, uuid)
);

CREATE TABLE imported_rows (
    source     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    source_key TEXT NOT NULL,
    PRIMARY KEY (source, kind, source_key)
);
