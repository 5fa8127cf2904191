//! In-memory backends, for embedding, examples and tests: the [`PolicyStore`](crate::PolicyStore)
//! [`InMemoryStore`], the [`RegistryClient`](crate::RegistryClient) [`InMemoryRegistry`] and the
//! [`Authenticator`](crate::Authenticator) [`StaticAuthenticator`].

mod accounts;
mod activity;
mod authenticator;
mod catalog;
mod comments;
mod events;
mod identities;
mod import;
mod namespaces;
mod profiles;
mod registry;
mod scans;
mod sessions;
mod teams;
mod webhooks;

pub use authenticator::{StaticAuthenticator, constant_time_eq};
pub use registry::{InMemoryRegistry, OCI_INDEX, OCI_MANIFEST, RegistryCall, image_manifest, index_manifest};

use std::sync::Mutex;

use crate::model::{
    Activity, AppToken, Comment, EventStatus, ImportedWebhook, MissingNamespace, Namespace, NamespaceId, NamespaceRef,
    RefreshToken, Repository, RepositoryId, Role, ScanRecord, StoredEvent, TagRecord, Team, TeamId, User, UserId,
    Visibility,
};
use crate::naming::validate_namespace_name;
use crate::{Error, Result};

/// A [`PolicyStore`](crate::PolicyStore) that keeps everything in memory. Cheap to create; state is lost on drop.
#[derive(Debug)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Clone)]
struct State {
    next_id: i64,
    users: Vec<User>,
    teams: Vec<Team>,
    members: Vec<(TeamId, UserId, Role)>,
    namespaces: Vec<Namespace>,
    app_tokens: Vec<(AppToken, String)>,
    refresh_tokens: Vec<(RefreshToken, String)>,
    repositories: Vec<Repository>,
    stars: Vec<(UserId, RepositoryId)>,
    tags: Vec<TagRecord>,
    /// Manifests pushed by digest that refer to another (OCI 1.1 `subject`).
    referrers: Vec<crate::model::Referrer>,
    events: Vec<(StoredEvent, EventStatus, Option<String>)>,
    activities: Vec<Activity>,
    scans: Vec<ScanRecord>,
    /// The scanners whose records count in repository figures.
    scan_scope: Vec<String>,
    identities: Vec<(UserId, String, String, String)>,
    /// Password-reset tokens: the user, the token's hash, its expiry.
    password_resets: Vec<(UserId, String, chrono::DateTime<chrono::Utc>)>,
    comments: Vec<Comment>,
    webhooks: Vec<(NamespaceId, ImportedWebhook)>,
    /// Outgoing webhooks and their delivery queue.
    outgoing: Vec<crate::model::Webhook>,
    deliveries: Vec<crate::model::Delivery>,
    /// Web sessions by the hash of their identifier.
    sessions: std::collections::HashMap<String, crate::model::WebSession>,
    /// Sign-in attempts by the hash of their state: the value and its expiry.
    sign_in_attempts: std::collections::HashMap<String, (String, chrono::DateTime<chrono::Utc>)>,
    /// The import ledger: `(source, kind, source key)` of every row an import wrote.
    imported: std::collections::HashSet<(String, &'static str, String)>,
}

impl State {
    fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Counts a pull of `repository:tag` at `at` (the latest pull time kept); `false` when
    /// the tag is unknown. Shared by `record_pull` and `finish_pull_event`.
    fn count_pull(&mut self, repository: &str, tag: &str, at: chrono::DateTime<chrono::Utc>) -> bool {
        let Some(found) = self
            .tags
            .iter_mut()
            .find(|t| t.repository == repository && t.name == tag)
        else {
            return false;
        };
        let at = crate::model::at_store_precision(at);
        found.pulled_at = Some(found.pulled_at.map_or(at, |last| last.max(at)));
        found.pull_count = found.pull_count.saturating_add(1);
        true
    }

    fn user_mut(&mut self, id: UserId) -> Result<&mut User> {
        self.users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or_else(|| Error::not_found("user", id.to_string()))
    }

    /// Whether the namespace `id` is among `visible`.
    fn namespace_admitted(&self, visible: &crate::model::VisibleNamespaces, id: NamespaceId) -> bool {
        self.namespaces.iter().any(|n| n.id == id && visible.admits(n))
    }

    fn namespace_named(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| !n.global && n.name == name)
    }

    /// Makes sure `repository` and its namespace exist; `false` when the namespace is missing
    /// and must not be created.
    fn ensure_repository(&mut self, repository: &str, missing: MissingNamespace) -> Result<bool> {
        if self.repositories.iter().any(|r| r.name == repository) {
            return Ok(true);
        }
        let (namespace, _) = NamespaceRef::of_repository(repository);
        let existing = match namespace {
            NamespaceRef::Global => self.namespaces.iter().find(|n| n.global).map(|n| n.id),
            NamespaceRef::Named(name) => self.namespace_named(name).map(|n| n.id),
        };
        let namespace_id = if let Some(id) = existing {
            id
        } else {
            let NamespaceRef::Named(name) = namespace else {
                return Err(Error::not_found("namespace", "global"));
            };
            if missing == MissingNamespace::Ignore {
                return Ok(false);
            }
            validate_namespace_name(name)?;
            let id = NamespaceId(self.next_id());
            self.namespaces.push(Namespace {
                id,
                name: name.to_owned(),
                description: Some("Created for a repository pushed to the registry".into()),
                team_id: None,
                visibility: Visibility::Private,
                global: false,
                personal_owner: None,
            });
            id
        };
        let id = RepositoryId(self.next_id());
        self.repositories.push(Repository {
            id,
            name: repository.to_owned(),
            namespace_id,
            stars: 0,
            description: None,
            created_at: crate::model::now(),
        });
        Ok(true)
    }

    /// `repository` with its current star count.
    fn with_stars(&self, repository: &Repository) -> Repository {
        Repository {
            stars: self.stars.iter().filter(|(_, id)| *id == repository.id).count() as u64,
            ..repository.clone()
        }
    }

    fn add_team(&mut self, name: &str, description: Option<String>, hidden: bool) -> Team {
        let team = Team {
            id: TeamId(self.next_id()),
            name: name.to_owned(),
            description,
            hidden,
        };
        self.teams.push(team.clone());
        team
    }
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryStore {
    /// An empty store holding only the global namespace (public).
    pub fn new() -> Self {
        let global = Namespace {
            id: NamespaceId(1),
            name: String::new(),
            description: Some("The global namespace: repositories without a '/'".into()),
            team_id: None,
            visibility: Visibility::Public,
            global: true,
            personal_owner: None,
        };
        InMemoryStore {
            state: Mutex::new(State {
                next_id: 1,
                users: Vec::new(),
                teams: Vec::new(),
                members: Vec::new(),
                namespaces: vec![global],
                app_tokens: Vec::new(),
                refresh_tokens: Vec::new(),
                repositories: Vec::new(),
                stars: Vec::new(),
                tags: Vec::new(),
                referrers: Vec::new(),
                events: Vec::new(),
                activities: Vec::new(),
                scans: Vec::new(),
                scan_scope: Vec::new(),
                identities: Vec::new(),
                password_resets: Vec::new(),
                comments: Vec::new(),
                webhooks: Vec::new(),
                outgoing: Vec::new(),
                deliveries: Vec::new(),
                sessions: Default::default(),
                sign_in_attempts: Default::default(),
                imported: Default::default(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half-applied changes: every method
        // validates before mutating, so the state is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(all(test, feature = "testing"))]
mod conformance {
    use super::InMemoryStore;
    crate::policy_store_conformance!(async { InMemoryStore::new() });
}
