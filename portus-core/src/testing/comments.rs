//! The [`CommentStore`] checks: comments on repositories.

use super::lists::check_pages;
use crate::ErrorKind;
use crate::model::{Comment, CommentId, CommentSort, ManifestRecord, MissingNamespace, RepositoryId};
use crate::prelude::*;

/// Comments are added, listed oldest first per repository, deleted, and go with their
/// repository.
pub async fn comments_are_added_listed_and_deleted(store: &dyn PolicyStore) {
    let manifest = ManifestRecord {
        digest: "sha256:1".into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    for repository in ["app", "web"] {
        store
            .put_tag(repository, "1", &manifest, None, MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    let repositories = store.list_repositories().await.unwrap();
    let (app, web) = (repositories[0].id, repositories[1].id);
    let first = store.add_comment(app, "alice", "Looks *good*.").await.unwrap();
    let second = store.add_comment(app, "bob", "Ship it").await.unwrap();
    store.add_comment(web, "carol", "Elsewhere").await.unwrap();
    let listed = store.comments(app).await.unwrap();
    assert_eq!(listed, vec![first.clone(), second.clone()]);
    assert_eq!(listed[0].author.as_deref(), Some("alice"));
    assert_eq!(
        store
            .add_comment(RepositoryId(9999), "alice", "x")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    store.delete_comment(first.id).await.unwrap();
    assert_eq!(store.comments(app).await.unwrap(), vec![second]);
    assert_eq!(
        store.delete_comment(first.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store.delete_comment(CommentId(9999)).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    store.delete_repository("app").await.unwrap();
    assert_eq!(store.comments(app).await.unwrap(), vec![]);
    assert_eq!(store.comments(web).await.unwrap().len(), 1);
}

/// A repository's comments are paged by time and id, both ways, without other repositories'.
pub async fn comments_are_paged_per_repository(store: &dyn PolicyStore) {
    let manifest = ManifestRecord {
        digest: "sha256:1".into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    for repository in ["app", "web"] {
        store
            .put_tag(repository, "1", &manifest, None, MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    let repositories = store.list_repositories().await.unwrap();
    let (app, web) = (repositories[0].id, repositories[1].id);
    let mut written = Vec::new();
    for body in ["one", "two", "three", "four"] {
        written.push(store.add_comment(app, "alice", body).await.unwrap().id);
        store.add_comment(web, "bob", body).await.unwrap();
    }
    for sort in [CommentSort::CreatedAt, CommentSort::Id] {
        check_pages(
            &format!("comments by {sort:?}"),
            sort,
            &written,
            |c: &Comment| c.id,
            |query| async move { store.comments_page(app, &query).await.unwrap() },
        )
        .await;
    }
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! comment_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; comments;
            comments_are_added_listed_and_deleted,
            comments_are_paged_per_repository,
        );
    };
}
