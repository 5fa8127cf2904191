//! What an activity's target is now: the object it names, when it still exists and the caller
//! may see it, so pages can link it. A deleted object and one the caller may not see get no
//! link alike.

use std::collections::HashMap;

use portus_core::model::NamespaceRef;
use portus_core::permissions::{self, Permission};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// The kind of object an activity names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum LinkKind {
    Tag,
    Repository,
    Namespace,
    Team,
    User,
}

/// The object an activity names, by kind and id (`/api/v1/tags/{id}`, ...).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub(super) struct ActivityLink {
    kind: LinkKind,
    id: i64,
}

/// Resolves the targets of a page of activities, each `(action, target)` once.
#[derive(Default)]
pub(super) struct Links(HashMap<(LinkKind, String), Option<ActivityLink>>);

/// The kind of object an action's target names (`tag.push` → a tag).
fn kind_of(action: &str) -> Option<LinkKind> {
    match action.split('.').next()? {
        "tag" => Some(LinkKind::Tag),
        "repository" => Some(LinkKind::Repository),
        "namespace" => Some(LinkKind::Namespace),
        "team" => Some(LinkKind::Team),
        "user" => Some(LinkKind::User),
        _ => None,
    }
}

impl Links {
    /// The object `target` names for `action`, if it exists and `caller` may see it.
    pub(super) async fn link(
        &mut self,
        state: &AppState,
        caller: &ApiCaller,
        action: &str,
        target: &str,
    ) -> Result<Option<ActivityLink>, ApiError> {
        let Some(kind) = kind_of(action) else {
            return Ok(None);
        };
        let key = (kind, target.to_owned());
        if let Some(known) = self.0.get(&key) {
            return Ok(*known);
        }
        let id = resolve(state, caller, kind, target).await?;
        let link = id.map(|id| ActivityLink { kind, id });
        self.0.insert(key, link);
        Ok(link)
    }
}

/// Whether the caller may see the namespace a repository name belongs to; its id when so.
async fn visible_namespace(
    state: &AppState,
    caller: &ApiCaller,
    namespace: NamespaceRef<'_>,
) -> Result<Option<portus_core::model::Namespace>, ApiError> {
    let Some(namespace) = state.store.namespace(namespace).await? else {
        return Ok(None);
    };
    let view = caller.namespace_view(&namespace, state);
    Ok((permissions::view_namespace(&view) == Permission::Allow).then_some(namespace))
}

async fn resolve(state: &AppState, caller: &ApiCaller, kind: LinkKind, target: &str) -> Result<Option<i64>, ApiError> {
    let store = &state.store;
    Ok(match kind {
        LinkKind::Tag => {
            let Some((repository, tag)) = target.rsplit_once(':') else {
                return Ok(None);
            };
            let (namespace, _) = NamespaceRef::of_repository(repository);
            if visible_namespace(state, caller, namespace).await?.is_none() {
                return Ok(None);
            }
            store.tag(repository, tag).await?.map(|t| t.id.0)
        }
        LinkKind::Repository => {
            let (namespace, _) = NamespaceRef::of_repository(target);
            match visible_namespace(state, caller, namespace).await? {
                Some(namespace) => super::findings::repository_id(state, &namespace, target).await?,
                None => None,
            }
        }
        LinkKind::Namespace => visible_namespace(state, caller, NamespaceRef::Named(target))
            .await?
            .map(|n| n.id.0),
        LinkKind::Team => store.team_by_name(target).await?.and_then(|team| {
            let seen = permissions::view_team(caller.caller, &team, caller.role(Some(team.id)));
            (seen == Permission::Allow).then_some(team.id.0)
        }),
        // Users have a page for administrators only.
        LinkKind::User if caller.caller.is_admin() => store.user_by_name(target).await?.map(|u| u.id.0),
        LinkKind::User => None,
    })
}
