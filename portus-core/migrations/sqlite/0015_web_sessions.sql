-- Web sessions and sign-in attempts, shared by every process on the database (a restart signs
-- nobody out). Both are stored by the SHA-256 of their random identifier: the identifier itself
-- is only in the browser's cookie.
CREATE TABLE web_sessions (
    id_hash              TEXT    PRIMARY KEY,
    user_id              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_fingerprint TEXT,
    expires_at           TEXT    NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

CREATE TABLE sign_in_attempts (
    state_hash TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sign_in_attempts_by_expiry ON sign_in_attempts (expires_at);
