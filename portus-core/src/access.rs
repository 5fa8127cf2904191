//! Turning requested scopes into granted access: every action of every scope is decided on its
//! own by [`crate::policy::authorize`]; unknown types and actions are dropped.

use std::collections::HashMap;

use serde::Serialize;

use crate::Result;
use crate::model::NamespaceRef;
use crate::policy::{Action, Caller, NamespaceFacts, PolicyConfig, authorize, authorize_catalog};
use crate::scope::Scope;
use crate::traits::PolicyStore;

/// One entry of a token's `access` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantedAccess {
    /// Resource type (`repository` or `registry`).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Resource name.
    pub name: String,
    /// Granted actions, in request order, without duplicates.
    pub actions: Vec<String>,
}

impl GrantedAccess {
    /// The granted access as single-action scope strings (`repository:a/b:pull`), as OAuth2
    /// responses list them.
    pub fn scope_strings(&self) -> impl Iterator<Item = String> + '_ {
        self.actions
            .iter()
            .map(|a| format!("{}:{}:{}", self.resource_type, self.name, a))
    }
}

/// What policy needs to know about `namespace` for `caller`; `None` when it does not exist.
async fn namespace_facts(
    store: &dyn PolicyStore,
    namespace: NamespaceRef<'_>,
    caller: Caller,
) -> Result<Option<NamespaceFacts>> {
    let user_id = caller.user_id();
    Ok(store
        .namespace_access(namespace, user_id)
        .await?
        .map(|a| facts_of(a, user_id)))
}

fn facts_of(access: crate::model::NamespaceAccess, user_id: Option<crate::model::UserId>) -> NamespaceFacts {
    NamespaceFacts::of(&access.namespace, access.role, user_id)
}

/// Whether `caller` may do `action` on `repository` (e.g. see its tags: `Action::Pull`).
pub async fn may(
    store: &dyn PolicyStore,
    caller: Caller,
    repository: &str,
    action: Action,
    config: &PolicyConfig,
) -> Result<bool> {
    let (namespace, _) = NamespaceRef::of_repository(repository);
    let facts = namespace_facts(store, namespace, caller).await?;
    Ok(authorize(caller, facts.as_ref(), action, config).is_allowed())
}

/// Decides every action of every requested scope for `caller`.
///
/// Scopes naming the same resource are merged, keeping request order; scopes left with no
/// granted action are omitted. All namespaces are looked up in one call to the store.
pub async fn authorize_scopes(
    store: &dyn PolicyStore,
    caller: Caller,
    scopes: &[Scope],
    config: &PolicyConfig,
) -> Result<Vec<GrantedAccess>> {
    // Every namespace the scopes name, looked up together: one store round trip per request,
    // not one per scope.
    let wanted = wanted_namespaces(scopes);
    let found = if wanted.is_empty() {
        Vec::new()
    } else {
        store.namespaces_access(&wanted, caller.user_id()).await?
    };
    Ok(decide_scopes(caller, scopes, &wanted, found, config))
}

/// The namespaces `scopes` name, each once, in request order.
pub fn wanted_namespaces(scopes: &[Scope]) -> Vec<NamespaceRef<'_>> {
    let mut wanted: Vec<NamespaceRef<'_>> = Vec::new();
    for scope in scopes.iter().filter(|s| s.resource_type == "repository") {
        let (namespace, _) = NamespaceRef::of_repository(&scope.name);
        if !wanted.contains(&namespace) {
            wanted.push(namespace);
        }
    }
    wanted
}

/// [`authorize_scopes`] with the namespaces already looked up: `found[i]` is the caller's
/// access to `wanted[i]` (from [`wanted_namespaces`]), as
/// [`NamespaceStore::namespaces_access`](crate::traits::NamespaceStore::namespaces_access) answers.
pub fn decide_scopes(
    caller: Caller,
    scopes: &[Scope],
    wanted: &[NamespaceRef<'_>],
    found: Vec<Option<crate::model::NamespaceAccess>>,
    config: &PolicyConfig,
) -> Vec<GrantedAccess> {
    let user_id = caller.user_id();
    let facts_cache: HashMap<NamespaceRef<'_>, Option<NamespaceFacts>> = wanted
        .iter()
        .copied()
        .zip(found)
        .map(|(namespace, access)| (namespace, access.map(|a| facts_of(a, user_id))))
        .collect();
    let mut granted: Vec<GrantedAccess> = Vec::new();

    for scope in scopes {
        let allowed: Vec<&str> = match scope.resource_type.as_str() {
            "repository" => {
                let (namespace, _) = NamespaceRef::of_repository(&scope.name);
                let facts = facts_cache.get(&namespace).copied().flatten();
                scope
                    .actions
                    .iter()
                    .filter(|a| {
                        Action::from_scope(a)
                            .is_some_and(|action| authorize(caller, facts.as_ref(), action, config).is_allowed())
                    })
                    .map(String::as_str)
                    .collect()
            }
            "registry" if scope.name == "catalog" => scope
                .actions
                .iter()
                .filter(|a| *a == "*" && authorize_catalog(caller).is_allowed())
                .map(String::as_str)
                .collect(),
            _ => Vec::new(),
        };
        if allowed.is_empty() {
            continue;
        }
        let entry = match granted
            .iter_mut()
            .position(|g| g.resource_type == scope.resource_type && g.name == scope.name)
        {
            Some(index) => &mut granted[index],
            None => {
                granted.push(GrantedAccess {
                    resource_type: scope.resource_type.clone(),
                    name: scope.name.clone(),
                    actions: Vec::new(),
                });
                granted.last_mut().expect("just pushed")
            }
        };
        for action in allowed {
            if !entry.actions.iter().any(|a| a == action) {
                entry.actions.push(action.to_owned());
            }
        }
    }
    granted
}
