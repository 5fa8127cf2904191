-- Users, teams, namespaces and credentials: the state behind authorization.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT,
    admin         INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    password_hash TEXT,
    created_at    TEXT    NOT NULL
);

CREATE TABLE teams (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT,
    hidden      INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    created_at  TEXT    NOT NULL
);

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT    NOT NULL CHECK (role IN ('viewer', 'contributor', 'owner')),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);

CREATE TABLE namespaces (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL,
    description       TEXT,
    team_id           INTEGER REFERENCES teams (id),
    visibility        TEXT    NOT NULL CHECK (visibility IN ('private', 'protected', 'public')),
    global            INTEGER NOT NULL DEFAULT 0 CHECK (global IN (0, 1)),
    personal_owner_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at        TEXT    NOT NULL,
    CHECK (global = 0 OR visibility <> 'private')
);
CREATE UNIQUE INDEX namespaces_by_name ON namespaces (name) WHERE global = 0;
CREATE UNIQUE INDEX namespaces_one_global ON namespaces (global) WHERE global = 1;
CREATE INDEX namespaces_by_personal_owner ON namespaces (personal_owner_id);

CREATE TABLE app_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label       TEXT    NOT NULL,
    secret_hash TEXT    NOT NULL UNIQUE,
    created_at  TEXT    NOT NULL,
    UNIQUE (user_id, label)
);

CREATE TABLE refresh_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    service      TEXT    NOT NULL,
    app_token_id INTEGER REFERENCES app_tokens (id) ON DELETE CASCADE,
    secret_hash  TEXT    NOT NULL UNIQUE,
    created_at   TEXT    NOT NULL
);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);

INSERT INTO namespaces (name, description, team_id, visibility, global, created_at)
VALUES ('', 'The global namespace: repositories without a ''/''', NULL, 'public', 1,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
