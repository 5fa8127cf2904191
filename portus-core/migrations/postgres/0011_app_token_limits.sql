-- Application tokens may expire and be limited to repositories and actions; their last use is
-- shown. NULL: no expiry, the owner's full rights, never used.
ALTER TABLE app_tokens ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE app_tokens ADD COLUMN scope TEXT;
ALTER TABLE app_tokens ADD COLUMN last_used_at TIMESTAMPTZ;
