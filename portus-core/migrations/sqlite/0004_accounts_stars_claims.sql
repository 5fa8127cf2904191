-- Login lockout, stars, and the `scanning` state that workers claim with a lease.
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TEXT;

CREATE TABLE stars (
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    created_at    TEXT    NOT NULL,
    PRIMARY KEY (user_id, repository_id)
);
CREATE INDEX stars_by_repository ON stars (repository_id);

-- SQLite cannot change a CHECK constraint in place: rebuild the table.
CREATE TABLE scan_records_new (
    digest          TEXT    NOT NULL,
    backend         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'scanning', 'done', 'failed')),
    report          TEXT,
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    updated_at      TEXT    NOT NULL,
    next_attempt_at TEXT,
    PRIMARY KEY (digest, backend)
);
INSERT INTO scan_records_new (digest, backend, state, report, error, attempts, updated_at, next_attempt_at)
SELECT digest, backend, state, report, error, attempts, updated_at, next_attempt_at FROM scan_records;
DROP TABLE scan_records;
ALTER TABLE scan_records_new RENAME TO scan_records;
