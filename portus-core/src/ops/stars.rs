//! Stars on repositories.

use super::record;
use crate::Result;
use crate::model::{ActivityAction, Repository, User};
use crate::traits::{ActivityStore, CatalogStore};

/// Stars or unstars `repository` for `user`. Idempotent: only a change is recorded.
pub async fn set<S: CatalogStore + ActivityStore + ?Sized>(
    store: &S,
    user: &User,
    repository: &Repository,
    starred: bool,
) -> Result<()> {
    let was = store.starred(user.id).await?.contains(&repository.id);
    if was == starred {
        return Ok(());
    }
    store.set_star(user.id, repository.id, starred).await?;
    let action = if starred {
        ActivityAction::RepositoryStar
    } else {
        ActivityAction::RepositoryUnstar
    };
    record(store, Some(&user.username), action, repository.name.clone(), None).await
}
