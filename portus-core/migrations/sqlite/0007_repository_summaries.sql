-- Kept per-repository figures: lists read one row per repository instead of every tag and scan
-- report. `digest_summaries` holds what the scans of one image add up to over the scanners in
-- `scan_scope` (see portus_core::model::DigestFigures); `repository_summaries` the sums over a
-- repository's tags. Both are maintained by the store's writes, in their transactions.
CREATE TABLE scan_scope (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    scanners TEXT    NOT NULL
);

CREATE TABLE digest_summaries (
    digest     TEXT    PRIMARY KEY,
    failed     INTEGER NOT NULL DEFAULT 0,
    done       INTEGER NOT NULL DEFAULT 0,
    unknown    INTEGER NOT NULL DEFAULT 0,
    negligible INTEGER NOT NULL DEFAULT 0,
    low        INTEGER NOT NULL DEFAULT 0,
    medium     INTEGER NOT NULL DEFAULT 0,
    high       INTEGER NOT NULL DEFAULT 0,
    critical   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE repository_summaries (
    repository_id INTEGER PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    tags          INTEGER NOT NULL DEFAULT 0,
    latest_push   TEXT,
    tags_failed   INTEGER NOT NULL DEFAULT 0,
    tags_done     INTEGER NOT NULL DEFAULT 0,
    unknown       INTEGER NOT NULL DEFAULT 0,
    negligible    INTEGER NOT NULL DEFAULT 0,
    low           INTEGER NOT NULL DEFAULT 0,
    medium        INTEGER NOT NULL DEFAULT 0,
    high          INTEGER NOT NULL DEFAULT 0,
    critical      INTEGER NOT NULL DEFAULT 0
);

-- A scan's figures reach every tag of its image; a deleted tag's repository finds its newest
-- remaining push.
CREATE INDEX tags_by_manifest ON tags (digest, repository_id);
CREATE INDEX tags_by_push ON tags (repository_id, updated_at);

-- No scanner is in scope yet (the first start sets them and rebuilds): tags only.
INSERT INTO repository_summaries (repository_id, tags, latest_push)
SELECT r.id, COUNT(t.id), MAX(t.updated_at)
FROM repositories r LEFT JOIN tags t ON t.repository_id = r.id
GROUP BY r.id;
