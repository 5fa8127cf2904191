-- Web sessions and sign-in attempts, shared by every process on the database (a restart signs
-- nobody out). Both are stored by the SHA-256 of their random identifier: the identifier itself
-- is only in the browser's cookie.
CREATE TABLE web_sessions (
    id_hash              TEXT        PRIMARY KEY,
    user_id              BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_fingerprint TEXT,
    expires_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

CREATE TABLE sign_in_attempts (
    state_hash TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_attempts_by_expiry ON sign_in_attempts (expires_at);

-- Change notifications: every statement that writes a table a token request's lookup reads
-- (users, namespaces, teams, team members) sends NOTIFY portus_changes in its own transaction,
-- delivered at commit. Each instance listens and answers repeated logins from memory only
-- while it has heard of no change since (the store's change marker); triggers catch every
-- writer, other tools included.
CREATE FUNCTION portus_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portus_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER users_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION portus_notify_change();
CREATE TRIGGER namespaces_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON namespaces
    FOR EACH STATEMENT EXECUTE FUNCTION portus_notify_change();
CREATE TRIGGER teams_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON teams
    FOR EACH STATEMENT EXECUTE FUNCTION portus_notify_change();
CREATE TRIGGER team_members_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON team_members
    FOR EACH STATEMENT EXECUTE FUNCTION portus_notify_change();
