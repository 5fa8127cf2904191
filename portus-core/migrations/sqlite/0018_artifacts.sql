-- Artifacts beyond images: what a tag's manifest holds (image, helm_chart, signature,
-- attestation, sbom, referrers, artifact; NULL until the manifest was read), its artifact type,
-- a Helm chart's name and version, and the digest a signature/attestation/SBOM refers to.
ALTER TABLE tags ADD COLUMN artifact_kind TEXT;
ALTER TABLE tags ADD COLUMN artifact_type TEXT;
ALTER TABLE tags ADD COLUMN chart_name TEXT;
ALTER TABLE tags ADD COLUMN chart_version TEXT;
ALTER TABLE tags ADD COLUMN artifact_subject TEXT;
-- "Is this digest signed in this repository?" is asked for every tag listed.
CREATE INDEX tags_signatures ON tags (repository_id, artifact_subject) WHERE artifact_kind = 'signature';

-- Manifests pushed by digest that refer to another one (OCI 1.1 `subject`: `oras attach`,
-- cosign with the referrers API); they have no tag, so they are kept here.
CREATE TABLE referrers (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    artifact_type TEXT,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX referrers_by_subject ON referrers (repository_id, subject, kind);
