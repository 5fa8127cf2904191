//! What a tag holds beyond "an image": Helm charts, signatures, attestations, SBOMs and other
//! OCI artifacts, recognized by their media types ([`classify`], a pure function).
//!
//! Only images are sent to the security scanners: a chart or a signature scanned as an image
//! would come back "clean", which says nothing about it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The config media type of a Helm chart pushed as an OCI artifact (`helm push`).
pub const HELM_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";

/// Config media types of container images (OCI and Docker); any other marks an artifact.
const IMAGE_CONFIG_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// Index and manifest-list media types.
const INDEX_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// What a tag's manifest holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// A container image (or an index of images): the only kind that is scanned.
    Image,
    /// A Helm chart (config media type [`HELM_CONFIG_MEDIA_TYPE`]).
    HelmChart,
    /// A signature of another manifest (cosign `sha256-<hex>.sig`, or a referrer with a
    /// signature artifact type such as Notary's or cosign's).
    Signature,
    /// An attestation about another manifest (cosign `.att`, in-toto/DSSE envelopes).
    Attestation,
    /// A software bill of materials (cosign `.sbom`, SPDX, CycloneDX, Syft).
    Sbom,
    /// The referrers-tag fallback index (`sha256-<hex>` listing the referrers of a manifest on
    /// registries without the referrers API, as the OCI 1.1 distribution specification says).
    Referrers,
    /// Any other OCI artifact; its type is in [`Artifact::artifact_type`].
    Artifact,
}

impl ArtifactKind {
    /// Every kind, in a stable order.
    pub const ALL: [ArtifactKind; 7] = [
        ArtifactKind::Image,
        ArtifactKind::HelmChart,
        ArtifactKind::Signature,
        ArtifactKind::Attestation,
        ArtifactKind::Sbom,
        ArtifactKind::Referrers,
        ArtifactKind::Artifact,
    ];

    /// The stored and serialized name (`image`, `helm_chart`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Image => "image",
            ArtifactKind::HelmChart => "helm_chart",
            ArtifactKind::Signature => "signature",
            ArtifactKind::Attestation => "attestation",
            ArtifactKind::Sbom => "sbom",
            ArtifactKind::Referrers => "referrers",
            ArtifactKind::Artifact => "artifact",
        }
    }

    /// How people read it (`Helm chart`, `SBOM`, ...).
    pub fn label(self) -> &'static str {
        match self {
            ArtifactKind::Image => "image",
            ArtifactKind::HelmChart => "Helm chart",
            ArtifactKind::Signature => "signature",
            ArtifactKind::Attestation => "attestation",
            ArtifactKind::Sbom => "SBOM",
            ArtifactKind::Referrers => "referrers index",
            ArtifactKind::Artifact => "OCI artifact",
        }
    }

    /// Whether security scanners read it (images only).
    pub fn is_scannable(self) -> bool {
        self == ArtifactKind::Image
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ArtifactKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ArtifactKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown artifact kind {s:?}"))
    }
}

/// A Helm chart's name and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartInfo {
    /// Chart name (`Chart.yaml` `name`).
    pub name: String,
    /// Chart version (`Chart.yaml` `version`).
    pub version: String,
}

/// What a tag's manifest was recognized as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// The kind.
    pub kind: ArtifactKind,
    /// The manifest's `artifactType`, else its config media type when that is not an image's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Name and version of a Helm chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<ChartInfo>,
    /// The digest of the manifest this one refers to (an OCI `subject`, or the digest a
    /// cosign-style `sha256-<hex>.sig` tag names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Artifact {
    /// A plain image.
    pub fn image() -> Self {
        Artifact {
            kind: ArtifactKind::Image,
            artifact_type: None,
            chart: None,
            subject: None,
        }
    }

    /// How people read it: `Helm chart mychart 0.1.0`, `OCI artifact (application/x.foo)`.
    pub fn describe(&self) -> String {
        match (&self.chart, &self.artifact_type) {
            (Some(chart), _) => format!("{} {} {}", self.kind.label(), chart.name, chart.version),
            (None, Some(t)) if self.kind != ArtifactKind::Image => format!("{} ({t})", self.kind.label()),
            _ => self.kind.label().to_owned(),
        }
    }
}

/// The media-type facts of a manifest [`classify`] decides from, as the registry client reads
/// them from the manifest's JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestFacts {
    /// The manifest's media type.
    pub media_type: String,
    /// `config.mediaType`, when the manifest has a config.
    pub config_media_type: Option<String>,
    /// `artifactType` (OCI 1.1).
    pub artifact_type: Option<String>,
    /// `subject.digest` (OCI 1.1 referrers).
    pub subject: Option<String>,
    /// Each layer's `mediaType`.
    pub layer_media_types: Vec<String>,
    /// Each child manifest's `artifactType` (indexes), `None` for children without one.
    pub child_artifact_types: Vec<Option<String>>,
    /// The manifest's `annotations`.
    pub annotations: BTreeMap<String, String>,
}

/// Recognizes what `facts` (the manifest `tag` names, when it has a tag) holds.
///
/// In order: a Helm config is a chart (name and version from the standard
/// `org.opencontainers.image.title`/`.version` annotations `helm push` writes); a cosign-style
/// tag (`sha256-<64 hex>.sig`, `.att`, `.sbom`) is a signature, attestation or SBOM of the
/// digest it names; a manifest with an `artifactType` or a `subject`, or whose config is not an
/// image config, is an artifact whose type (or layer types) says whether it is a signature,
/// attestation or SBOM; a `sha256-<hex>` index is the referrers-tag fallback; anything else
/// (image manifests, indexes of images, Docker schema 1) is an image.
pub fn classify(tag: Option<&str>, facts: &ManifestFacts) -> Artifact {
    let config = facts.config_media_type.as_deref();
    if config == Some(HELM_CONFIG_MEDIA_TYPE) || facts.artifact_type.as_deref() == Some(HELM_CONFIG_MEDIA_TYPE) {
        let annotation = |key: &str| facts.annotations.get(key).filter(|v| !v.is_empty()).cloned();
        let chart = match (
            annotation("org.opencontainers.image.title"),
            annotation("org.opencontainers.image.version"),
        ) {
            (Some(name), Some(version)) => Some(ChartInfo { name, version }),
            _ => None,
        };
        return Artifact {
            kind: ArtifactKind::HelmChart,
            artifact_type: Some(HELM_CONFIG_MEDIA_TYPE.to_owned()),
            chart,
            subject: facts.subject.clone(),
        };
    }
    let artifact_type = facts.artifact_type.clone().or_else(|| {
        config
            .filter(|c| !IMAGE_CONFIG_MEDIA_TYPES.contains(c) && !is_empty_config(c))
            .map(str::to_owned)
    });
    if let Some((subject, suffix)) = tag.and_then(cosign_tag) {
        let kind = match suffix {
            "sig" => ArtifactKind::Signature,
            "att" => ArtifactKind::Attestation,
            _ => ArtifactKind::Sbom,
        };
        return Artifact {
            kind,
            artifact_type,
            chart: None,
            subject: Some(subject),
        };
    }
    let is_index = INDEX_MEDIA_TYPES.contains(&facts.media_type.as_str());
    if is_index {
        if let Some(subject) = tag.and_then(referrers_tag) {
            return Artifact {
                kind: ArtifactKind::Referrers,
                artifact_type,
                chart: None,
                subject: Some(subject),
            };
        }
        // An index of artifacts (every child typed) is an artifact; of images, an image.
        let all_typed =
            !facts.child_artifact_types.is_empty() && facts.child_artifact_types.iter().all(Option::is_some);
        if artifact_type.is_none() && facts.subject.is_none() && !all_typed {
            return Artifact::image();
        }
    } else if artifact_type.is_none() && facts.subject.is_none() && !config.is_some_and(is_empty_config) {
        return Artifact::image();
    }
    // An artifact: its type, then its layers' types, say what it is.
    let mut hints: Vec<&str> = artifact_type.iter().map(String::as_str).collect();
    hints.extend(facts.layer_media_types.iter().map(String::as_str));
    hints.extend(facts.child_artifact_types.iter().flatten().map(String::as_str));
    let kind = hints
        .iter()
        .find_map(|t| kind_of_type(t))
        .unwrap_or(ArtifactKind::Artifact);
    let artifact_type = artifact_type.or_else(|| facts.layer_media_types.first().cloned());
    Artifact {
        kind,
        artifact_type,
        chart: None,
        subject: facts.subject.clone(),
    }
}

/// The OCI empty config (`application/vnd.oci.empty.v1+json`): artifacts without a config.
fn is_empty_config(media_type: &str) -> bool {
    media_type == "application/vnd.oci.empty.v1+json"
}

/// Signature, attestation and SBOM media types (and the families they belong to).
fn kind_of_type(media_type: &str) -> Option<ArtifactKind> {
    let t = media_type.to_ascii_lowercase();
    if t.contains("signature") || t.contains("cosign.simplesigning") || t.contains("cosign.artifact.sig") {
        Some(ArtifactKind::Signature)
    } else if t.contains("in-toto") || t.contains("dsse.envelope") || t.contains("attestation") {
        Some(ArtifactKind::Attestation)
    } else if t.contains("spdx") || t.contains("cyclonedx") || t.contains("syft") || t.contains("sbom") {
        Some(ArtifactKind::Sbom)
    } else {
        None
    }
}

/// `sha256-<64 hex>.<sig|att|sbom>` → (`sha256:<hex>`, suffix).
pub fn cosign_tag(tag: &str) -> Option<(String, &str)> {
    let (digest, suffix) = tag.rsplit_once('.')?;
    if !matches!(suffix, "sig" | "att" | "sbom") {
        return None;
    }
    Some((referrers_tag(digest)?, suffix))
}

/// `sha256-<64 hex>` → `sha256:<hex>` (the OCI 1.1 referrers tag schema).
pub fn referrers_tag(tag: &str) -> Option<String> {
    let hex = tag.strip_prefix("sha256-")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| format!("sha256:{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn manifest(config: &str) -> ManifestFacts {
        ManifestFacts {
            media_type: OCI_MANIFEST.into(),
            config_media_type: Some(config.into()),
            layer_media_types: vec!["application/vnd.oci.image.layer.v1.tar+gzip".into()],
            ..ManifestFacts::default()
        }
    }

    #[test]
    fn images_and_indexes_of_images_are_images() {
        for config in IMAGE_CONFIG_MEDIA_TYPES {
            assert_eq!(classify(Some("latest"), &manifest(config)), Artifact::image());
        }
        let index = ManifestFacts {
            media_type: OCI_INDEX.into(),
            child_artifact_types: vec![None, None],
            ..ManifestFacts::default()
        };
        assert_eq!(classify(Some("v1"), &index).kind, ArtifactKind::Image);
        let schema1 = ManifestFacts {
            media_type: "application/vnd.docker.distribution.manifest.v1+prettyjws".into(),
            ..ManifestFacts::default()
        };
        assert_eq!(classify(Some("old"), &schema1).kind, ArtifactKind::Image);
        // A tag that merely looks like a digest but is an image index without typed children
        // and not the referrers schema (wrong length) stays an image.
        assert_eq!(classify(Some("sha256-abc"), &index).kind, ArtifactKind::Image);
    }

    #[test]
    fn helm_charts_carry_name_and_version_from_the_annotations() {
        let mut facts = manifest(HELM_CONFIG_MEDIA_TYPE);
        facts.layer_media_types = vec!["application/vnd.cncf.helm.chart.content.v1.tar+gzip".into()];
        facts
            .annotations
            .insert("org.opencontainers.image.title".into(), "demo".into());
        facts
            .annotations
            .insert("org.opencontainers.image.version".into(), "0.1.0".into());
        let chart = classify(Some("0.1.0"), &facts);
        assert_eq!(chart.kind, ArtifactKind::HelmChart);
        assert_eq!(
            chart.chart,
            Some(ChartInfo {
                name: "demo".into(),
                version: "0.1.0".into()
            })
        );
        assert_eq!(chart.describe(), "Helm chart demo 0.1.0");
        assert!(!chart.kind.is_scannable());
        facts.annotations.clear();
        assert_eq!(classify(Some("0.1.0"), &facts).chart, None);
    }

    #[test]
    fn cosign_tags_name_their_subject() {
        let facts = manifest("application/vnd.oci.image.config.v1+json");
        for (suffix, kind) in [
            ("sig", ArtifactKind::Signature),
            ("att", ArtifactKind::Attestation),
            ("sbom", ArtifactKind::Sbom),
        ] {
            let found = classify(Some(&format!("sha256-{HEX}.{suffix}")), &facts);
            assert_eq!(found.kind, kind, "{suffix}");
            assert_eq!(found.subject.as_deref(), Some(format!("sha256:{HEX}").as_str()));
        }
        assert_eq!(
            classify(Some(&format!("sha256-{HEX}.txt")), &facts).kind,
            ArtifactKind::Image
        );
        assert_eq!(classify(Some("sha256-ABC.sig"), &facts).kind, ArtifactKind::Image);
        assert_eq!(
            classify(Some(&format!("sha256-{}.sig", HEX.to_uppercase())), &facts).kind,
            ArtifactKind::Image
        );
    }

    #[test]
    fn referrers_are_typed_by_artifact_type_or_layers() {
        let referrer = |artifact_type: Option<&str>, layer: &str| ManifestFacts {
            media_type: OCI_MANIFEST.into(),
            config_media_type: Some("application/vnd.oci.empty.v1+json".into()),
            artifact_type: artifact_type.map(str::to_owned),
            subject: Some(format!("sha256:{HEX}")),
            layer_media_types: vec![layer.into()],
            ..ManifestFacts::default()
        };
        let sig = classify(
            None,
            &referrer(Some("application/vnd.cncf.notary.signature"), "application/jose+json"),
        );
        assert_eq!(sig.kind, ArtifactKind::Signature);
        assert_eq!(sig.subject.as_deref(), Some(format!("sha256:{HEX}").as_str()));
        assert_eq!(
            classify(None, &referrer(Some("application/spdx+json"), "application/spdx+json")).kind,
            ArtifactKind::Sbom
        );
        assert_eq!(
            classify(None, &referrer(None, "application/vnd.dsse.envelope.v1+json")).kind,
            ArtifactKind::Attestation
        );
        let other = classify(None, &referrer(Some("application/vnd.example.thing"), "text/plain"));
        assert_eq!(other.kind, ArtifactKind::Artifact);
        assert_eq!(other.artifact_type.as_deref(), Some("application/vnd.example.thing"));
    }

    #[test]
    fn artifacts_without_subject_show_their_type() {
        let mut facts = manifest("application/vnd.example.config.v1+json");
        facts.layer_media_types = vec!["text/plain".into()];
        let found = classify(Some("v1"), &facts);
        assert_eq!(found.kind, ArtifactKind::Artifact);
        assert_eq!(
            found.artifact_type.as_deref(),
            Some("application/vnd.example.config.v1+json")
        );
        assert_eq!(
            found.describe(),
            "OCI artifact (application/vnd.example.config.v1+json)"
        );
        // `oras push --artifact-type`: empty config, typed manifest.
        let oras = ManifestFacts {
            media_type: OCI_MANIFEST.into(),
            config_media_type: Some("application/vnd.oci.empty.v1+json".into()),
            artifact_type: Some("application/vnd.example.readme".into()),
            layer_media_types: vec!["application/vnd.oci.image.layer.v1.tar".into()],
            ..ManifestFacts::default()
        };
        let found = classify(Some("v1"), &oras);
        assert_eq!(found.kind, ArtifactKind::Artifact);
        assert_eq!(found.artifact_type.as_deref(), Some("application/vnd.example.readme"));
        assert!(!found.kind.is_scannable());
    }

    #[test]
    fn the_referrers_tag_fallback_is_recognized() {
        let index = ManifestFacts {
            media_type: OCI_INDEX.into(),
            child_artifact_types: vec![Some("application/vnd.cncf.notary.signature".into())],
            ..ManifestFacts::default()
        };
        let found = classify(Some(&format!("sha256-{HEX}")), &index);
        assert_eq!(found.kind, ArtifactKind::Referrers);
        assert_eq!(found.subject, Some(format!("sha256:{HEX}")));
        assert_eq!(classify(Some("list"), &index).kind, ArtifactKind::Signature);
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in ArtifactKind::ALL {
            assert_eq!(kind.as_str().parse::<ArtifactKind>(), Ok(kind));
        }
        assert!("picture".parse::<ArtifactKind>().is_err());
    }
}
