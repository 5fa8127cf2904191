-- Login lockout, stars, and the `scanning` state that workers claim with a lease.
-- Mirrors migrations/sqlite/0004_accounts_stars_claims.sql.
ALTER TABLE users ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0, ADD COLUMN locked_until TIMESTAMPTZ;

CREATE TABLE stars (
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    repository_id BIGINT      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, repository_id)
);
CREATE INDEX stars_by_repository ON stars (repository_id);

ALTER TABLE scan_records DROP CONSTRAINT scan_records_state_check,
    ADD CONSTRAINT scan_records_state_check CHECK (state IN ('pending', 'scanning', 'done', 'failed'));
