//! An in-memory [`PolicyStore`], for embedding, examples and tests.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{
    Activity, ActivityFilter, AppToken, AppTokenId, EventStatus, ManifestRecord, MissingNamespace, Namespace,
    NamespaceAccess, NamespaceId, NamespaceRef, NamespaceUpdate, NewActivity, NewNamespace, NewUser, PasswordHash,
    RefreshToken, RefreshTokenId, Repository, RepositoryId, Role, ScanRecord, ScanState, StoredEvent, TagChange, TagId,
    TagRecord, Team, TeamId, TeamMember, TeamUpdate, User, UserId, Visibility,
};
use crate::naming::{
    first_free_name, namespace_name_for_user, validate_namespace_name, validate_team_name, validate_username,
};
use crate::traits::PolicyStore;
use crate::{Error, Result};

/// A [`PolicyStore`] that keeps everything in memory. Cheap to create; state is lost on drop.
#[derive(Debug)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

#[derive(Debug)]
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
    events: Vec<(StoredEvent, EventStatus, Option<String>)>,
    activities: Vec<Activity>,
    scans: Vec<ScanRecord>,
}

impl State {
    fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn user_mut(&mut self, id: UserId) -> Result<&mut User> {
        self.users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or_else(|| Error::not_found("user", id.to_string()))
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
                events: Vec::new(),
                activities: Vec::new(),
                scans: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half-applied changes: every method
        // validates before mutating, so the state is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl PolicyStore for InMemoryStore {
    async fn create_user(&self, new: NewUser) -> Result<User> {
        validate_username(&new.username)?;
        let mut state = self.lock();
        if state.users.iter().any(|u| u.username == new.username) {
            return Err(Error::Conflict(format!("user '{}' already exists", new.username)));
        }
        let user_id = UserId(state.next_id());
        let personal_namespace = match namespace_name_for_user(&new.username) {
            Some(base) => {
                let ns_name = first_free_name(&base, |n| state.namespace_named(n).is_some());
                let team_name = first_free_name(&new.username, |n| state.teams.iter().any(|t| t.name == n));
                let team = state.add_team(&team_name, None, true);
                state.members.push((team.id, user_id, Role::Owner));
                let id = NamespaceId(state.next_id());
                state.namespaces.push(Namespace {
                    id,
                    name: ns_name,
                    description: Some(format!("This personal namespace belongs to {}.", new.username)),
                    team_id: Some(team.id),
                    visibility: Visibility::Private,
                    global: false,
                    personal_owner: Some(user_id),
                });
                Some(id)
            }
            None => None,
        };
        let user = User {
            id: user_id,
            username: new.username,
            email: new.email,
            admin: new.admin,
            enabled: true,
            password_hash: new.password_hash,
            personal_namespace,
            failed_logins: 0,
            locked_until: None,
            created_at: crate::model::now(),
        };
        state.users.push(user.clone());
        Ok(user)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        Ok(self.lock().users.iter().find(|u| u.username == username).cloned())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        Ok(self.lock().users.iter().find(|u| u.id == id).cloned())
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let mut users = self.lock().users.clone();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }

    async fn set_user_enabled(&self, id: UserId, enabled: bool) -> Result<()> {
        self.lock().user_mut(id)?.enabled = enabled;
        Ok(())
    }

    async fn set_user_admin(&self, id: UserId, admin: bool) -> Result<()> {
        self.lock().user_mut(id)?.admin = admin;
        Ok(())
    }

    async fn set_password_hash(&self, id: UserId, hash: Option<PasswordHash>) -> Result<()> {
        let mut state = self.lock();
        state.user_mut(id)?.password_hash = hash;
        state.refresh_tokens.retain(|(t, _)| t.user_id != id);
        Ok(())
    }

    async fn set_user_email(&self, id: UserId, email: Option<String>) -> Result<()> {
        self.lock().user_mut(id)?.email = email;
        Ok(())
    }

    async fn delete_user(&self, id: UserId) -> Result<()> {
        let mut state = self.lock();
        state.user_mut(id)?;
        state.users.retain(|u| u.id != id);
        state.members.retain(|(_, u, _)| *u != id);
        state.app_tokens.retain(|(t, _)| t.user_id != id);
        state.refresh_tokens.retain(|(t, _)| t.user_id != id);
        state.stars.retain(|(u, _)| *u != id);
        for namespace in state.namespaces.iter_mut() {
            if namespace.personal_owner == Some(id) {
                namespace.personal_owner = None;
            }
        }
        Ok(())
    }

    async fn record_login_failure(&self, id: UserId) -> Result<u32> {
        let mut state = self.lock();
        let user = state.user_mut(id)?;
        user.failed_logins = user.failed_logins.saturating_add(1);
        Ok(user.failed_logins)
    }

    async fn set_user_lock(&self, id: UserId, until: Option<DateTime<Utc>>) -> Result<()> {
        let mut state = self.lock();
        let user = state.user_mut(id)?;
        user.locked_until = until.map(crate::model::at_store_precision);
        if until.is_none() {
            user.failed_logins = 0;
        }
        Ok(())
    }

    async fn create_team(&self, name: &str, owner: UserId, description: Option<String>) -> Result<Team> {
        validate_team_name(name)?;
        let mut state = self.lock();
        state.user_mut(owner)?;
        if state.teams.iter().any(|t| t.name == name) {
            return Err(Error::Conflict(format!("team '{name}' already exists")));
        }
        let team = state.add_team(name, description, false);
        state.members.push((team.id, owner, Role::Owner));
        Ok(team)
    }

    async fn team_by_name(&self, name: &str) -> Result<Option<Team>> {
        Ok(self.lock().teams.iter().find(|t| t.name == name).cloned())
    }

    async fn set_team_member(&self, team: TeamId, user: UserId, role: Role) -> Result<()> {
        let mut state = self.lock();
        state.user_mut(user)?;
        if !state.teams.iter().any(|t| t.id == team) {
            return Err(Error::not_found("team", team.to_string()));
        }
        match state.members.iter_mut().find(|(t, u, _)| *t == team && *u == user) {
            Some(member) => member.2 = role,
            None => state.members.push((team, user, role)),
        }
        Ok(())
    }

    async fn team_members(&self, team: TeamId) -> Result<Vec<TeamMember>> {
        let state = self.lock();
        let mut members: Vec<TeamMember> = state
            .members
            .iter()
            .filter(|(t, _, _)| *t == team)
            .filter_map(|(_, user_id, role)| {
                let user = state.users.iter().find(|u| u.id == *user_id)?;
                Some(TeamMember {
                    user_id: *user_id,
                    username: user.username.clone(),
                    role: *role,
                })
            })
            .collect();
        members.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(members)
    }

    async fn remove_team_member(&self, team: TeamId, user: UserId) -> Result<()> {
        let mut state = self.lock();
        let before = state.members.len();
        state.members.retain(|(t, u, _)| !(*t == team && *u == user));
        if state.members.len() == before {
            return Err(Error::not_found("team member", user.to_string()));
        }
        Ok(())
    }

    async fn team_by_id(&self, id: TeamId) -> Result<Option<Team>> {
        Ok(self.lock().teams.iter().find(|t| t.id == id).cloned())
    }

    async fn list_teams(&self) -> Result<Vec<Team>> {
        let mut teams = self.lock().teams.clone();
        teams.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(teams)
    }

    async fn update_team(&self, id: TeamId, update: TeamUpdate) -> Result<Team> {
        let mut state = self.lock();
        if let Some(name) = &update.name {
            validate_team_name(name)?;
            if state.teams.iter().any(|t| t.id != id && &t.name == name) {
                return Err(Error::Conflict(format!("team '{name}' already exists")));
            }
        }
        let team = state
            .teams
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::not_found("team", id.to_string()))?;
        if let Some(name) = update.name {
            team.name = name;
        }
        if let Some(description) = update.description {
            team.description = description;
        }
        Ok(team.clone())
    }

    async fn memberships(&self, user: UserId) -> Result<Vec<(TeamId, Role)>> {
        let state = self.lock();
        let mut memberships: Vec<(TeamId, Role)> = state
            .members
            .iter()
            .filter(|(_, u, _)| *u == user)
            .map(|(t, _, role)| (*t, *role))
            .collect();
        memberships.sort();
        Ok(memberships)
    }

    async fn create_namespace(&self, new: NewNamespace) -> Result<Namespace> {
        validate_namespace_name(&new.name)?;
        let mut state = self.lock();
        if !state.teams.iter().any(|t| t.id == new.team_id) {
            return Err(Error::not_found("team", new.team_id.to_string()));
        }
        if state.namespace_named(&new.name).is_some() {
            return Err(Error::Conflict(format!("namespace '{}' already exists", new.name)));
        }
        let namespace = Namespace {
            id: NamespaceId(state.next_id()),
            name: new.name,
            description: new.description,
            team_id: Some(new.team_id),
            visibility: new.visibility,
            global: false,
            personal_owner: None,
        };
        state.namespaces.push(namespace.clone());
        Ok(namespace)
    }

    async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> Result<Option<Namespace>> {
        let state = self.lock();
        Ok(match namespace {
            NamespaceRef::Global => state.namespaces.iter().find(|n| n.global).cloned(),
            NamespaceRef::Named(name) => state.namespace_named(name).cloned(),
        })
    }

    async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> Result<()> {
        let mut state = self.lock();
        let namespace = state
            .namespaces
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| Error::not_found("namespace", id.to_string()))?;
        if namespace.global && visibility == Visibility::Private {
            return Err(Error::Invalid("the global namespace cannot be private".into()));
        }
        namespace.visibility = visibility;
        Ok(())
    }

    async fn namespace_by_id(&self, id: NamespaceId) -> Result<Option<Namespace>> {
        Ok(self.lock().namespaces.iter().find(|n| n.id == id).cloned())
    }

    async fn list_namespaces(&self) -> Result<Vec<Namespace>> {
        let mut namespaces = self.lock().namespaces.clone();
        namespaces.sort_by(|a, b| (!a.global, &a.name).cmp(&(!b.global, &b.name)));
        Ok(namespaces)
    }

    async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> Result<Namespace> {
        let mut state = self.lock();
        if let Some(team) = update.team_id
            && !state.teams.iter().any(|t| t.id == team)
        {
            return Err(Error::not_found("team", team.to_string()));
        }
        let namespace = state
            .namespaces
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| Error::not_found("namespace", id.to_string()))?;
        if update.team_id.is_some() && namespace.global {
            return Err(Error::Invalid(
                "the global namespace belongs to the administrators".into(),
            ));
        }
        if let Some(team) = update.team_id {
            namespace.team_id = Some(team);
        }
        if let Some(description) = update.description {
            namespace.description = description;
        }
        Ok(namespace.clone())
    }

    async fn namespace_access<'a>(
        &self,
        namespace: NamespaceRef<'a>,
        user: Option<UserId>,
    ) -> Result<Option<NamespaceAccess>> {
        let Some(namespace) = self.namespace(namespace).await? else {
            return Ok(None);
        };
        let state = self.lock();
        let role = match (namespace.team_id, user) {
            (Some(team), Some(user)) => state
                .members
                .iter()
                .find(|(t, u, _)| *t == team && *u == user)
                .map(|(_, _, role)| *role),
            _ => None,
        };
        Ok(Some(NamespaceAccess { namespace, role }))
    }

    async fn create_app_token(&self, user: UserId, label: &str, secret_hash: &str) -> Result<AppToken> {
        if label.trim().is_empty() {
            return Err(Error::Invalid("application token label must not be empty".into()));
        }
        let mut state = self.lock();
        state.user_mut(user)?;
        if state
            .app_tokens
            .iter()
            .any(|(t, _)| t.user_id == user && t.label == label)
        {
            return Err(Error::Conflict(format!(
                "an application token labelled '{label}' already exists"
            )));
        }
        let token = AppToken {
            id: AppTokenId(state.next_id()),
            user_id: user,
            label: label.to_owned(),
            created_at: crate::model::now(),
        };
        state.app_tokens.push((token.clone(), secret_hash.to_owned()));
        Ok(token)
    }

    async fn app_token_by_hash(&self, secret_hash: &str) -> Result<Option<AppToken>> {
        Ok(self
            .lock()
            .app_tokens
            .iter()
            .find(|(_, h)| h == secret_hash)
            .map(|(t, _)| t.clone()))
    }

    async fn list_app_tokens(&self, user: UserId) -> Result<Vec<AppToken>> {
        Ok(self
            .lock()
            .app_tokens
            .iter()
            .filter(|(t, _)| t.user_id == user)
            .map(|(t, _)| t.clone())
            .collect())
    }

    async fn revoke_app_token(&self, id: AppTokenId) -> Result<()> {
        let mut state = self.lock();
        let before = state.app_tokens.len();
        state.app_tokens.retain(|(t, _)| t.id != id);
        if state.app_tokens.len() == before {
            return Err(Error::not_found("application token", id.to_string()));
        }
        state.refresh_tokens.retain(|(t, _)| t.app_token_id != Some(id));
        Ok(())
    }

    async fn create_refresh_token(
        &self,
        user: UserId,
        service: &str,
        app_token: Option<AppTokenId>,
        secret_hash: &str,
    ) -> Result<RefreshToken> {
        let mut state = self.lock();
        state.user_mut(user)?;
        let token = RefreshToken {
            id: RefreshTokenId(state.next_id()),
            user_id: user,
            service: service.to_owned(),
            app_token_id: app_token,
            created_at: crate::model::now(),
        };
        state.refresh_tokens.push((token.clone(), secret_hash.to_owned()));
        Ok(token)
    }

    async fn refresh_token_by_hash(&self, secret_hash: &str) -> Result<Option<RefreshToken>> {
        Ok(self
            .lock()
            .refresh_tokens
            .iter()
            .find(|(_, h)| h == secret_hash)
            .map(|(t, _)| t.clone()))
    }

    async fn revoke_refresh_tokens(&self, user: UserId) -> Result<u64> {
        let mut state = self.lock();
        let before = state.refresh_tokens.len();
        state.refresh_tokens.retain(|(t, _)| t.user_id != user);
        Ok((before - state.refresh_tokens.len()) as u64)
    }

    async fn put_tag<'a>(
        &self,
        repository: &str,
        tag: &str,
        manifest: &ManifestRecord,
        pushed_by: Option<&'a str>,
        missing: MissingNamespace,
    ) -> Result<TagChange> {
        let mut state = self.lock();
        if !state.ensure_repository(repository, missing)? {
            return Ok(TagChange::NamespaceMissing);
        }
        let now = crate::model::now();
        if let Some(existing) = state
            .tags
            .iter_mut()
            .find(|t| t.repository == repository && t.name == tag)
        {
            if existing.manifest.digest == manifest.digest {
                if existing.manifest.size.is_none() {
                    existing.manifest.size = manifest.size;
                }
                return Ok(TagChange::Unchanged);
            }
            let previous_digest = std::mem::replace(&mut existing.manifest, manifest.clone()).digest;
            existing.pushed_by = pushed_by.map(str::to_owned).or(existing.pushed_by.take());
            existing.updated_at = now;
            return Ok(TagChange::Updated { previous_digest });
        }
        let id = TagId(state.next_id());
        state.tags.push(TagRecord {
            id,
            repository: repository.to_owned(),
            name: tag.to_owned(),
            manifest: manifest.clone(),
            pushed_by: pushed_by.map(str::to_owned),
            created_at: now,
            updated_at: now,
        });
        Ok(TagChange::Created)
    }

    async fn ensure_repository(&self, repository: &str, missing: MissingNamespace) -> Result<bool> {
        self.lock().ensure_repository(repository, missing)
    }

    async fn tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
        Ok(self
            .lock()
            .tags
            .iter()
            .find(|t| t.repository == repository && t.name == tag)
            .cloned())
    }

    async fn tag_by_id(&self, id: TagId) -> Result<Option<TagRecord>> {
        Ok(self.lock().tags.iter().find(|t| t.id == id).cloned())
    }

    async fn tags<'a>(&self, repository: Option<&'a str>) -> Result<Vec<TagRecord>> {
        let mut tags: Vec<TagRecord> = self
            .lock()
            .tags
            .iter()
            .filter(|t| repository.is_none_or(|r| t.repository == r))
            .cloned()
            .collect();
        tags.sort_by(|a, b| (&a.repository, &a.name).cmp(&(&b.repository, &b.name)));
        Ok(tags)
    }

    async fn repositories(&self) -> Result<Vec<String>> {
        let mut repositories: Vec<String> = self.lock().repositories.iter().map(|r| r.name.clone()).collect();
        repositories.sort();
        Ok(repositories)
    }

    async fn list_repositories(&self) -> Result<Vec<Repository>> {
        let state = self.lock();
        let mut repositories: Vec<Repository> = state.repositories.iter().map(|r| state.with_stars(r)).collect();
        repositories.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(repositories)
    }

    async fn repository_by_id(&self, id: RepositoryId) -> Result<Option<Repository>> {
        let state = self.lock();
        Ok(state
            .repositories
            .iter()
            .find(|r| r.id == id)
            .map(|r| state.with_stars(r)))
    }

    async fn set_star(&self, user: UserId, repository: RepositoryId, starred: bool) -> Result<()> {
        let mut state = self.lock();
        state.user_mut(user)?;
        if !state.repositories.iter().any(|r| r.id == repository) {
            return Err(Error::not_found("repository", repository.to_string()));
        }
        state.stars.retain(|star| *star != (user, repository));
        if starred {
            state.stars.push((user, repository));
        }
        Ok(())
    }

    async fn starred(&self, user: UserId) -> Result<Vec<RepositoryId>> {
        let mut starred: Vec<RepositoryId> = self
            .lock()
            .stars
            .iter()
            .filter(|(u, _)| *u == user)
            .map(|(_, r)| *r)
            .collect();
        starred.sort();
        Ok(starred)
    }

    async fn delete_tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
        let mut state = self.lock();
        let position = state
            .tags
            .iter()
            .position(|t| t.repository == repository && t.name == tag);
        Ok(position.map(|i| state.tags.remove(i)))
    }

    async fn delete_tags_by_digest(&self, repository: &str, digest: &str) -> Result<Vec<TagRecord>> {
        let mut state = self.lock();
        let (deleted, kept) = std::mem::take(&mut state.tags)
            .into_iter()
            .partition(|t| t.repository == repository && t.manifest.digest == digest);
        state.tags = kept;
        Ok(deleted)
    }

    async fn delete_repository(&self, repository: &str) -> Result<Vec<TagRecord>> {
        let mut state = self.lock();
        let removed: Vec<RepositoryId> = state
            .repositories
            .iter()
            .filter(|r| r.name == repository)
            .map(|r| r.id)
            .collect();
        state.repositories.retain(|r| r.name != repository);
        state.stars.retain(|(_, r)| !removed.contains(r));
        let (deleted, kept) = std::mem::take(&mut state.tags)
            .into_iter()
            .partition(|t| t.repository == repository);
        state.tags = kept;
        Ok(deleted)
    }

    async fn insert_events(&self, events: &[(String, String)]) -> Result<usize> {
        let mut state = self.lock();
        let mut inserted = 0;
        for (event_id, payload) in events {
            if state.events.iter().any(|(e, _, _)| &e.event_id == event_id) {
                continue;
            }
            let seq = state.next_id();
            state.events.push((
                StoredEvent {
                    seq,
                    event_id: event_id.clone(),
                    payload: payload.clone(),
                },
                EventStatus::Pending,
                None,
            ));
            inserted += 1;
        }
        Ok(inserted)
    }

    async fn pending_events(&self, limit: usize) -> Result<Vec<StoredEvent>> {
        Ok(self
            .lock()
            .events
            .iter()
            .filter(|(_, status, _)| *status == EventStatus::Pending)
            .take(limit)
            .map(|(e, _, _)| e.clone())
            .collect())
    }

    async fn finish_event<'a>(&self, seq: i64, status: EventStatus, error: Option<&'a str>) -> Result<()> {
        let mut state = self.lock();
        let event = state
            .events
            .iter_mut()
            .find(|(e, _, _)| e.seq == seq)
            .ok_or_else(|| Error::not_found("event", seq.to_string()))?;
        event.1 = status;
        event.2 = error.map(str::to_owned);
        Ok(())
    }

    async fn put_scan_record(&self, record: &ScanRecord) -> Result<()> {
        let mut state = self.lock();
        state
            .scans
            .retain(|r| !(r.digest == record.digest && r.backend == record.backend));
        state.scans.push(ScanRecord {
            updated_at: crate::model::at_store_precision(record.updated_at),
            next_attempt_at: record.next_attempt_at.map(crate::model::at_store_precision),
            ..record.clone()
        });
        Ok(())
    }

    async fn scan_records<'a>(&self, digest: Option<&'a str>) -> Result<Vec<ScanRecord>> {
        let mut records: Vec<ScanRecord> = self
            .lock()
            .scans
            .iter()
            .filter(|r| digest.is_none_or(|d| r.digest == d))
            .cloned()
            .collect();
        records.sort_by(|a, b| (&a.digest, &a.backend).cmp(&(&b.digest, &b.backend)));
        Ok(records)
    }

    async fn claim_scan(
        &self,
        digest: &str,
        backend: &str,
        seen: Option<DateTime<Utc>>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut state = self.lock();
        let now = crate::model::now();
        let current = state
            .scans
            .iter_mut()
            .find(|r| r.digest == digest && r.backend == backend);
        match current {
            None if seen.is_none() => {
                state.scans.push(ScanRecord {
                    digest: digest.to_owned(),
                    backend: backend.to_owned(),
                    state: ScanState::Scanning,
                    report: None,
                    error: None,
                    attempts: 0,
                    updated_at: now,
                    next_attempt_at: Some(crate::model::at_store_precision(lease_until)),
                });
                Ok(true)
            }
            Some(record)
                if Some(record.updated_at) == seen
                    && !(record.state == ScanState::Scanning && record.next_attempt_at.is_some_and(|t| t > now)) =>
            {
                record.state = ScanState::Scanning;
                record.updated_at = now;
                record.next_attempt_at = Some(crate::model::at_store_precision(lease_until));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn record_activity(&self, activity: NewActivity) -> Result<()> {
        let mut state = self.lock();
        let id = state.next_id();
        state.activities.push(Activity {
            id,
            at: crate::model::now(),
            actor: activity.actor,
            action: activity.action,
            target: activity.target,
            details: activity.details,
        });
        Ok(())
    }

    async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>> {
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        Ok(self
            .lock()
            .activities
            .iter()
            .rev()
            .filter(|a| crate::model::activity_matches(filter, a))
            .take(limit)
            .cloned()
            .collect())
    }
}

#[cfg(all(test, feature = "testing"))]
mod conformance {
    use super::InMemoryStore;
    crate::policy_store_conformance!(async { InMemoryStore::new() });
}
