-- Password resets by e-mail: at most one pending token per user, stored by its SHA-256 (the
-- token itself is only in the mail), gone with the user.
CREATE TABLE password_resets (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    expires_at TEXT    NOT NULL
);
-- Display names are shown instead of user names: no two users show the same one (as Portus).
CREATE UNIQUE INDEX users_display_name ON users (display_name);
