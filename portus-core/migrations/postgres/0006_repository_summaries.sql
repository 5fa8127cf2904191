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
    failed     BIGINT  NOT NULL DEFAULT 0,
    done       BIGINT  NOT NULL DEFAULT 0,
    unknown    BIGINT  NOT NULL DEFAULT 0,
    negligible BIGINT  NOT NULL DEFAULT 0,
    low        BIGINT  NOT NULL DEFAULT 0,
    medium     BIGINT  NOT NULL DEFAULT 0,
    high       BIGINT  NOT NULL DEFAULT 0,
    critical   BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE repository_summaries (
    repository_id BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    tags          BIGINT  NOT NULL DEFAULT 0,
    latest_push   TIMESTAMPTZ,
    tags_failed   BIGINT  NOT NULL DEFAULT 0,
    tags_done     BIGINT  NOT NULL DEFAULT 0,
    unknown       BIGINT  NOT NULL DEFAULT 0,
    negligible    BIGINT  NOT NULL DEFAULT 0,
    low           BIGINT  NOT NULL DEFAULT 0,
    medium        BIGINT  NOT NULL DEFAULT 0,
    high          BIGINT  NOT NULL DEFAULT 0,
    critical      BIGINT  NOT NULL DEFAULT 0
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
