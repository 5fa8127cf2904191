//! The [`CatalogStore`] checks: tags, repositories, stars and search.

use super::user;
use crate::ErrorKind;
use crate::model::{
    ManifestRecord, MissingNamespace, NamespaceRef, NewNamespace, RepositoryId, TagChange, UserId, Visibility,
};
use crate::prelude::*;

fn manifest(digest: &str) -> ManifestRecord {
    ManifestRecord {
        digest: digest.into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: Some(1234),
    }
}

/// What a tag holds is recorded on that tag while it points at the digest read, forgotten
/// when it moves; a cosign-style signature tag or a signature referrer marks the tags of its
/// subject in the same repository (only there) as signed.
pub async fn artifacts_and_signatures_are_recorded_per_tag(store: &dyn PolicyStore) {
    use crate::model::{Artifact, ArtifactKind, ChartInfo, Referrer};
    user(store, "alice").await;
    let hex = "ab".repeat(32);
    let image = format!("sha256:{hex}");
    for (repository, tag, digest) in [
        ("alice/app", "1.0", image.as_str()),
        ("alice/other", "1.0", image.as_str()),
        ("alice/charts", "0.1.0", "sha256:c1"),
        ("alice/app", &format!("sha256-{hex}.sig"), "sha256:51"),
    ] {
        store
            .put_tag(repository, tag, &manifest(digest), None, MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    let tag =
        |repository: &'static str, tag: String| async move { store.tag(repository, &tag).await.unwrap().unwrap() };
    assert_eq!(tag("alice/charts", "0.1.0".into()).await.artifact, None, "not read yet");
    let chart = Artifact {
        kind: ArtifactKind::HelmChart,
        artifact_type: Some(crate::model::HELM_CONFIG_MEDIA_TYPE.into()),
        chart: Some(ChartInfo {
            name: "demo".into(),
            version: "0.1.0".into(),
        }),
        subject: None,
    };
    assert!(
        !store
            .record_artifact("alice/charts", "0.1.0", "sha256:other", &chart)
            .await
            .unwrap(),
        "the tag moved meanwhile"
    );
    assert!(
        store
            .record_artifact("alice/charts", "0.1.0", "sha256:c1", &chart)
            .await
            .unwrap()
    );
    assert_eq!(tag("alice/charts", "0.1.0".into()).await.artifact, Some(chart.clone()));
    assert!(!tag("alice/app", "1.0".into()).await.signed);
    let signature = Artifact {
        kind: ArtifactKind::Signature,
        artifact_type: None,
        chart: None,
        subject: Some(image.clone()),
    };
    let sig_tag = format!("sha256-{hex}.sig");
    assert!(
        store
            .record_artifact("alice/app", &sig_tag, "sha256:51", &signature)
            .await
            .unwrap()
    );
    assert!(tag("alice/app", "1.0".into()).await.signed, "signed by the .sig tag");
    assert!(!tag("alice/other", "1.0".into()).await.signed, "another repository");
    assert!(!tag("alice/app", sig_tag.clone()).await.signed);
    let listed = store.tags(Some("alice/app")).await.unwrap();
    assert!(listed.iter().any(|t| t.name == "1.0" && t.signed));
    // A referrer pushed by digest signs the other repository's tag.
    let referrer = Referrer {
        repository: "alice/other".into(),
        digest: "sha256:52".into(),
        artifact: Artifact {
            artifact_type: Some("application/vnd.cncf.notary.signature".into()),
            ..signature.clone()
        },
    };
    assert!(store.put_referrer(&referrer).await.unwrap());
    assert!(!store.put_referrer(&referrer).await.unwrap(), "recorded once");
    assert!(tag("alice/other", "1.0".into()).await.signed);
    let nowhere = Referrer {
        repository: "alice/missing".into(),
        ..referrer.clone()
    };
    assert!(!store.put_referrer(&nowhere).await.unwrap(), "no such repository");
    // An SBOM referrer signs nothing.
    let sbom = Referrer {
        repository: "alice/charts".into(),
        digest: "sha256:53".into(),
        artifact: Artifact {
            kind: ArtifactKind::Sbom,
            subject: Some("sha256:c1".into()),
            ..signature.clone()
        },
    };
    assert!(store.put_referrer(&sbom).await.unwrap());
    assert!(!tag("alice/charts", "0.1.0".into()).await.signed);
    // Moving the tag forgets what it held; deleting the signature tag unsigns.
    store
        .put_tag(
            "alice/charts",
            "0.1.0",
            &manifest("sha256:c2"),
            None,
            MissingNamespace::Ignore,
        )
        .await
        .unwrap();
    assert_eq!(tag("alice/charts", "0.1.0".into()).await.artifact, None);
    store.delete_tag("alice/app", &sig_tag).await.unwrap();
    assert!(!tag("alice/app", "1.0".into()).await.signed);
}

/// An image's size is recorded on every tag of it (the registry's measure replaces what was
/// there), and lost when a tag moves.
pub async fn image_sizes_are_recorded_per_image(store: &dyn PolicyStore) {
    user(store, "alice").await;
    for (repository, tag, digest) in [
        ("alice/app", "1.0", "sha256:aa"),
        ("alice/app", "latest", "sha256:aa"),
        ("alice/other", "1", "sha256:aa"),
        ("alice/app", "2.0", "sha256:bb"),
    ] {
        store
            .put_tag(repository, tag, &manifest(digest), None, MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    let total = |total: u64| crate::model::ImageSizes {
        total,
        platforms: Vec::new(),
    };
    assert_eq!(store.record_image_sizes("sha256:aa", &total(1234)).await.unwrap(), 3);
    let size_of = |repository: &'static str, tag: &'static str| async move {
        store.tag(repository, tag).await.unwrap().unwrap().image_size
    };
    assert_eq!(size_of("alice/app", "1.0").await, Some(1234));
    assert_eq!(size_of("alice/other", "1").await, Some(1234));
    assert_eq!(size_of("alice/app", "2.0").await, None, "another image");
    assert_eq!(
        store.record_image_sizes("sha256:aa", &total(1234)).await.unwrap(),
        3,
        "measured again, replaced"
    );
    assert_eq!(store.record_image_sizes("sha256:none", &total(5)).await.unwrap(), 0);
    store
        .put_tag(
            "alice/app",
            "latest",
            &manifest("sha256:bb"),
            None,
            MissingNamespace::Ignore,
        )
        .await
        .unwrap();
    assert_eq!(
        size_of("alice/app", "latest").await,
        None,
        "moved to an image of unknown size"
    );
}

/// Tags are created, moved, left unchanged and deleted; repositories are recorded.
pub async fn tags_are_recorded_moved_and_deleted(store: &dyn PolicyStore) {
    user(store, "alice").await;
    let put = |tag: &'static str, digest: &'static str| async move {
        store
            .put_tag(
                "alice/app",
                tag,
                &manifest(digest),
                Some("alice"),
                MissingNamespace::Ignore,
            )
            .await
            .unwrap()
    };
    assert_eq!(put("1.0", "sha256:aa").await, TagChange::Created);
    assert_eq!(put("1.0", "sha256:aa").await, TagChange::Unchanged);
    assert_eq!(put("latest", "sha256:aa").await, TagChange::Created);
    assert_eq!(put("2.0", "sha256:bb").await, TagChange::Created);
    assert_eq!(
        put("latest", "sha256:bb").await,
        TagChange::Updated {
            previous_digest: "sha256:aa".into()
        }
    );
    store
        .put_tag("app", "1", &manifest("sha256:cc"), None, MissingNamespace::Ignore)
        .await
        .unwrap();
    // A tag recorded without a pusher takes the one a later push of the same image names.
    let again = |pusher: Option<&'static str>| async move {
        store
            .put_tag("app", "1", &manifest("sha256:cc"), pusher, MissingNamespace::Ignore)
            .await
            .unwrap()
    };
    assert_eq!(again(None).await, TagChange::Unchanged);
    assert_eq!(again(Some("alice")).await, TagChange::PusherRestored);
    assert_eq!(again(Some("bob")).await, TagChange::Unchanged);
    let restored = store.tag("app", "1").await.unwrap().expect("tag");
    assert_eq!(restored.pushed_by.as_deref(), Some("alice"));
    let one = store.tag("alice/app", "1.0").await.unwrap().expect("tag");
    assert_eq!(store.tag_by_id(one.id).await.unwrap().as_ref(), Some(&one));
    assert_eq!(store.tag_by_id(crate::model::TagId(987_654)).await.unwrap(), None);
    assert_eq!((one.repository.as_str(), one.name.as_str()), ("alice/app", "1.0"));
    assert_eq!(one.manifest, manifest("sha256:aa"));
    assert_eq!(one.pushed_by.as_deref(), Some("alice"));
    let names: Vec<String> = store
        .tags(Some("alice/app"))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["1.0", "2.0", "latest"]);
    assert_eq!(store.tags(None).await.unwrap().len(), 4);
    assert_eq!(store.repositories().await.unwrap(), ["alice/app", "app"]);
    let gone = store.delete_tags_by_digest("alice/app", "sha256:bb").await.unwrap();
    let mut gone: Vec<String> = gone.into_iter().map(|t| t.name).collect();
    gone.sort();
    assert_eq!(gone, ["2.0", "latest"]);
    assert_eq!(
        store.delete_tag("alice/app", "1.0").await.unwrap().map(|t| t.name),
        Some("1.0".into())
    );
    assert_eq!(store.delete_tag("alice/app", "1.0").await.unwrap(), None);
    assert!(store.tags(Some("alice/app")).await.unwrap().is_empty());
    assert_eq!(
        store.repositories().await.unwrap(),
        ["alice/app", "app"],
        "an empty repository stays, as in the registry"
    );
    assert_eq!(store.delete_repository("app").await.unwrap().len(), 1);
    assert_eq!(store.repositories().await.unwrap(), ["alice/app"]);
}

/// Pushes into a missing namespace create it (private, no team) or are ignored.
pub async fn missing_namespaces_are_created_or_ignored(store: &dyn PolicyStore) {
    let ignored = store
        .put_tag("ghost/app", "1", &manifest("sha256:aa"), None, MissingNamespace::Ignore)
        .await
        .unwrap();
    assert_eq!(ignored, TagChange::NamespaceMissing);
    assert!(
        !store
            .ensure_repository("ghost/app", MissingNamespace::Ignore)
            .await
            .unwrap()
    );
    assert!(store.repositories().await.unwrap().is_empty());
    assert_eq!(store.namespace(NamespaceRef::Named("ghost")).await.unwrap(), None);
    let created = store
        .put_tag("ghost/app", "1", &manifest("sha256:aa"), None, MissingNamespace::Create)
        .await
        .unwrap();
    assert_eq!(created, TagChange::Created);
    let ns = store
        .namespace(NamespaceRef::Named("ghost"))
        .await
        .unwrap()
        .expect("created namespace");
    assert_eq!(
        (ns.visibility, ns.team_id, ns.global),
        (Visibility::Private, None, false)
    );
    assert!(
        store
            .ensure_repository("ghost/other", MissingNamespace::Ignore)
            .await
            .unwrap()
    );
    assert_eq!(store.repositories().await.unwrap(), ["ghost/app", "ghost/other"]);
}

/// Repositories get ids and namespaces; stars are per user, idempotent, counted, and go with
/// the repository.
pub async fn repositories_have_ids_and_stars(store: &dyn PolicyStore) {
    let sam = user(store, "sam").await;
    let tia = user(store, "tia").await;
    store
        .put_tag("sam/app", "1", &manifest("sha256:1"), None, MissingNamespace::Ignore)
        .await
        .unwrap();
    store
        .put_tag("base", "1", &manifest("sha256:2"), None, MissingNamespace::Ignore)
        .await
        .unwrap();
    let repositories = store.list_repositories().await.unwrap();
    let names: Vec<&str> = repositories.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["base", "sam/app"]);
    let global = store.namespace(NamespaceRef::Global).await.unwrap().unwrap();
    assert_eq!(repositories[0].namespace_id, global.id);
    assert_eq!(Some(repositories[1].namespace_id), sam.personal_namespace);
    let app = repositories[1].id;
    store.set_star(sam.id, app, true).await.unwrap();
    store.set_star(sam.id, app, true).await.unwrap();
    store.set_star(tia.id, app, true).await.unwrap();
    assert_eq!(store.repository_by_id(app).await.unwrap().unwrap().stars, 2);
    assert_eq!(store.starred(sam.id).await.unwrap(), vec![app]);
    store.set_star(tia.id, app, false).await.unwrap();
    store.set_star(tia.id, app, false).await.unwrap();
    assert_eq!(store.repository_by_id(app).await.unwrap().unwrap().stars, 1);
    assert_eq!(store.starred(tia.id).await.unwrap(), vec![]);
    assert_eq!(
        store
            .set_star(sam.id, RepositoryId(9999), true)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store.set_star(UserId(9999), app, true).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(store.repository_by_id(app).await.unwrap().unwrap().description, None);
    store
        .set_repository_description(app, Some("The *app*.".into()))
        .await
        .unwrap();
    assert_eq!(
        store
            .repository_by_id(app)
            .await
            .unwrap()
            .unwrap()
            .description
            .as_deref(),
        Some("The *app*.")
    );
    assert_eq!(
        store
            .set_repository_description(RepositoryId(9999), None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    store.delete_repository("sam/app").await.unwrap();
    assert_eq!(store.repository_by_id(app).await.unwrap(), None);
    assert_eq!(store.starred(sam.id).await.unwrap(), vec![]);
}

/// Search matches substrings of names case-insensitively, takes `%` and `_` literally, and
/// returns at most `limit` of each kind in name order.
pub async fn names_are_searched_case_insensitively_with_literal_wildcards(store: &dyn PolicyStore) {
    let owner = user(store, "wes").await;
    let team = store.create_team("search", owner.id, None).await.unwrap();
    for name in ["web-app", "web_x", "webxx", "other"] {
        store
            .create_namespace(NewNamespace {
                name: name.into(),
                team_id: team.id,
                visibility: Visibility::Public,
                description: None,
            })
            .await
            .unwrap();
    }
    for (repository, tag) in [
        ("web-app/api", "Release-1"),
        ("web-app/ui", "release-2"),
        ("other/db", "v1"),
    ] {
        store
            .put_tag(repository, tag, &manifest("sha256:s"), None, MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    let hits = store.search_names("WEB", 10).await.unwrap();
    let names: Vec<&str> = hits.namespaces.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["web-app", "web_x", "webxx"]);
    let repositories: Vec<&str> = hits.repositories.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(repositories, ["web-app/api", "web-app/ui"]);
    let literal = store.search_names("b_", 10).await.unwrap();
    let names: Vec<&str> = literal.namespaces.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["web_x"], "'_' is not a wildcard");
    assert!(
        store.search_names("%", 10).await.unwrap().namespaces.is_empty(),
        "'%' is not a wildcard"
    );
    let limited = store.search_names("release", 1).await.unwrap();
    let tags: Vec<&str> = limited.tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tags, ["Release-1"], "limit, in repository and name order");
}

/// The registry's sizes replace what a tag had, on every tag of the image, with each
/// platform's for an index; a moved tag loses them. Pulls count per tag and keep the latest
/// time even when applied out of order.
pub async fn image_sizes_and_pulls_are_recorded_per_tag(store: &dyn PolicyStore) {
    use crate::model::{ImageSizes, PlatformSize};
    use chrono::TimeZone;
    user(store, "alice").await;
    for (tag, digest) in [("1.0", "sha256:aa"), ("latest", "sha256:aa"), ("2.0", "sha256:bb")] {
        store
            .put_tag("alice/app", tag, &manifest(digest), None, MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    let sizes = ImageSizes {
        total: 300,
        platforms: vec![
            PlatformSize {
                platform: "linux/amd64".into(),
                digest: "sha256:c1".into(),
                size: 100,
            },
            PlatformSize {
                platform: "linux/arm/v7".into(),
                digest: "sha256:c2".into(),
                size: 200,
            },
        ],
    };
    assert_eq!(store.record_image_sizes("sha256:aa", &sizes).await.unwrap(), 2);
    let tag = |name: &'static str| async move { store.tag("alice/app", name).await.unwrap().unwrap() };
    for name in ["1.0", "latest"] {
        let t = tag(name).await;
        assert_eq!(
            (t.image_size, &t.platform_sizes),
            (Some(300), &sizes.platforms),
            "{name}"
        );
    }
    let other = tag("2.0").await;
    assert_eq!(
        (other.image_size, other.platform_sizes.len(), other.pull_count),
        (None, 0, 0)
    );
    assert_eq!(other.pulled_at, None);

    let at = |minute: u32| chrono::Utc.with_ymd_and_hms(2026, 11, 30, 12, minute, 0).unwrap();
    assert!(store.record_pull("alice/app", "1.0", at(10)).await.unwrap());
    assert!(
        store.record_pull("alice/app", "1.0", at(5)).await.unwrap(),
        "an older pull applied late"
    );
    assert!(!store.record_pull("alice/app", "nope", at(5)).await.unwrap());
    assert!(!store.record_pull("alice/other", "1.0", at(5)).await.unwrap());
    let pulled = tag("1.0").await;
    assert_eq!((pulled.pull_count, pulled.pulled_at), (2, Some(at(10))));
    assert_eq!(tag("latest").await.pull_count, 0, "counted per tag, not per image");

    store
        .put_tag(
            "alice/app",
            "latest",
            &manifest("sha256:bb"),
            None,
            MissingNamespace::Ignore,
        )
        .await
        .unwrap();
    let moved = tag("latest").await;
    assert_eq!(
        (moved.image_size, moved.platform_sizes.len()),
        (None, 0),
        "another image"
    );
    let single = ImageSizes {
        total: 42,
        platforms: Vec::new(),
    };
    assert_eq!(store.record_image_sizes("sha256:bb", &single).await.unwrap(), 2);
    assert_eq!(tag("latest").await.image_size, Some(42));
    assert_eq!(tag("1.0").await.pull_count, 2, "kept across other writes");
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! catalog_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; catalog;
            tags_are_recorded_moved_and_deleted,
            image_sizes_are_recorded_per_image,
            artifacts_and_signatures_are_recorded_per_tag,
            image_sizes_and_pulls_are_recorded_per_tag,
            missing_namespaces_are_created_or_ignored,
            repositories_have_ids_and_stars,
            names_are_searched_case_insensitively_with_literal_wildcards,
        );
    };
}
