-- Security scan state per manifest digest and backend. Mirrors migrations/sqlite/0003_scans.sql.
CREATE TABLE scan_records (
    digest          TEXT        NOT NULL,
    backend         TEXT        NOT NULL,
    state           TEXT        NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    report          TEXT,
    error           TEXT,
    attempts        BIGINT      NOT NULL DEFAULT 0,
    updated_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ,
    PRIMARY KEY (digest, backend)
);
