-- Our view of the registry (repositories and tags), the notification event queue and the
-- activity (audit) log.
CREATE TABLE repositories (
    id           INTEGER PRIMARY KEY,
    namespace_id INTEGER NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL UNIQUE,
    created_at   TEXT    NOT NULL
);
CREATE INDEX repositories_by_namespace ON repositories (namespace_id);

CREATE TABLE tags (
    id            INTEGER PRIMARY KEY,
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    media_type    TEXT    NOT NULL,
    size          INTEGER,
    pushed_by     TEXT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    UNIQUE (repository_id, name)
);
CREATE INDEX tags_by_digest ON tags (repository_id, digest);

CREATE TABLE registry_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT NOT NULL UNIQUE,
    payload     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'ignored', 'failed')),
    error       TEXT,
    received_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX registry_events_pending ON registry_events (seq) WHERE status = 'pending';

CREATE TABLE activities (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT
);
CREATE INDEX activities_by_actor ON activities (actor, id);
CREATE INDEX activities_by_action ON activities (action, id);
