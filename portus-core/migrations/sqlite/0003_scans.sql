-- Security scan state per manifest digest and backend.
CREATE TABLE scan_records (
    digest          TEXT    NOT NULL,
    backend         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    report          TEXT,
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    updated_at      TEXT    NOT NULL,
    next_attempt_at TEXT,
    PRIMARY KEY (digest, backend)
);
