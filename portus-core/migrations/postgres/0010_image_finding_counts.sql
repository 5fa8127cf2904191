-- A repository's findings count each of its images (manifest digests) once, not once per tag
-- of that image: the severity columns kept until now summed every tag, so they are recomputed
-- here from the kept image figures over each repository's distinct digests. The tag counts
-- (tags, tags_failed, tags_done) stay per tag and are left as they are. The existing index
-- tags_by_digest (repository_id, digest) answers the writes' "does another tag of this
-- repository point at this digest" check.
UPDATE repository_summaries SET
    unknown = CAST(COALESCE((SELECT SUM(d.unknown) FROM digest_summaries d WHERE d.digest IN
        (SELECT t.digest FROM tags t WHERE t.repository_id = repository_summaries.repository_id)), 0) AS BIGINT),
    negligible = CAST(COALESCE((SELECT SUM(d.negligible) FROM digest_summaries d WHERE d.digest IN
        (SELECT t.digest FROM tags t WHERE t.repository_id = repository_summaries.repository_id)), 0) AS BIGINT),
    low = CAST(COALESCE((SELECT SUM(d.low) FROM digest_summaries d WHERE d.digest IN
        (SELECT t.digest FROM tags t WHERE t.repository_id = repository_summaries.repository_id)), 0) AS BIGINT),
    medium = CAST(COALESCE((SELECT SUM(d.medium) FROM digest_summaries d WHERE d.digest IN
        (SELECT t.digest FROM tags t WHERE t.repository_id = repository_summaries.repository_id)), 0) AS BIGINT),
    high = CAST(COALESCE((SELECT SUM(d.high) FROM digest_summaries d WHERE d.digest IN
        (SELECT t.digest FROM tags t WHERE t.repository_id = repository_summaries.repository_id)), 0) AS BIGINT),
    critical = CAST(COALESCE((SELECT SUM(d.critical) FROM digest_summaries d WHERE d.digest IN
        (SELECT t.digest FROM tags t WHERE t.repository_id = repository_summaries.repository_id)), 0) AS BIGINT);
