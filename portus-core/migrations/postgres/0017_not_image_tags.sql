-- Tags holding no image (Helm charts, signatures, SBOMs, other OCI artifacts: a
-- `tag_artifacts` row of another kind than 'image'), kept per repository like the other tag
-- counts: scanners never read them, so a repository's scan status leaves them out instead of
-- counting them as pending, and one holding nothing else is "not an image".
ALTER TABLE repository_summaries ADD COLUMN tags_not_images BIGINT NOT NULL DEFAULT 0;
UPDATE repository_summaries SET tags_not_images =
    (SELECT COUNT(*) FROM tag_artifacts a WHERE a.repository_id = repository_summaries.repository_id AND a.kind <> 'image');
