-- Artifacts beyond images: what a tag's manifest holds (image, helm_chart, signature,
-- attestation, sbom, referrers, artifact; no row until the manifest was read), its artifact
-- type, a Helm chart's name and version, and the digest a signature/attestation/SBOM refers to.
-- A table of its own rather than columns of `tags`: the planner's estimates for `tags` (and the
-- plans its list pages rely on) stay as they were.
CREATE TABLE tag_artifacts (
    tag_id        BIGINT  PRIMARY KEY REFERENCES tags (id) ON DELETE CASCADE,
    repository_id BIGINT  NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    artifact_type TEXT,
    chart_name    TEXT,
    chart_version TEXT,
    subject       TEXT
);
-- "Is this digest signed in this repository?" is asked for every tag listed.
CREATE INDEX tag_artifacts_signatures ON tag_artifacts (repository_id, subject) WHERE kind = 'signature';

-- Manifests pushed by digest that refer to another one (OCI 1.1 `subject`: `oras attach`,
-- cosign with the referrers API); they have no tag, so they are kept here.
CREATE TABLE referrers (
    repository_id BIGINT  NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    artifact_type TEXT,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX referrers_by_subject ON referrers (repository_id, subject, kind);
