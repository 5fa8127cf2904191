use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use chrono::{DateTime, Utc};

use crate::model::{
    Activity, ActivityFilter, AppToken, AppTokenId, EventStatus, ManifestRecord, MissingNamespace, Namespace,
    NamespaceAccess, NamespaceId, NamespaceRef, NamespaceUpdate, NewActivity, NewNamespace, NewUser, PasswordHash,
    RefreshToken, Repository, RepositoryId, Role, ScanRecord, SearchHits, StoredEvent, TagChange, TagId, TagRecord,
    Team, TeamId, TeamMember, TeamUpdate, User, UserId, Visibility,
};

/// Persistent state behind authorization: users, teams, namespaces and credentials.
///
/// Every implementation runs the shared conformance suite in [`crate::testing`]. Secrets are
/// never stored: application and refresh tokens are looked up by a hash the caller computes.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// Creates a user together with a personal namespace (private, owned by a hidden team whose
    /// only owner is the user). Fails with `Conflict` if the user name is taken.
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// Looks a user up by login name.
    async fn user_by_name(&self, username: &str) -> Result<Option<User>>;
    /// Looks a user up by id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    /// All users, ordered by name.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Enables or disables a user.
    async fn set_user_enabled(&self, id: UserId, enabled: bool) -> Result<()>;
    /// Grants or revokes administrator rights.
    async fn set_user_admin(&self, id: UserId, admin: bool) -> Result<()>;
    /// Replaces the local password hash and revokes the user's refresh tokens.
    async fn set_password_hash(&self, id: UserId, hash: Option<PasswordHash>) -> Result<()>;
    /// Replaces the user's e-mail.
    async fn set_user_email(&self, id: UserId, email: Option<String>) -> Result<()>;
    /// Deletes a user with their memberships and credentials. Their personal namespace stays,
    /// without an owner (administrators only), so nothing pushed is lost.
    async fn delete_user(&self, id: UserId) -> Result<()>;
    /// Counts one failed login atomically; returns the new count.
    async fn record_login_failure(&self, id: UserId) -> Result<u32>;
    /// Locks the account until `until`, or with `None` unlocks it and resets the failure count
    /// (what a successful login does).
    async fn set_user_lock(&self, id: UserId, until: Option<DateTime<Utc>>) -> Result<()>;

    /// Creates a (visible) team with `owner` as its first owner.
    async fn create_team(&self, name: &str, owner: UserId, description: Option<String>) -> Result<Team>;
    /// Looks a team up by name.
    async fn team_by_name(&self, name: &str) -> Result<Option<Team>>;
    /// Adds a member or changes an existing member's role.
    async fn set_team_member(&self, team: TeamId, user: UserId, role: Role) -> Result<()>;
    /// Members of a team, ordered by user name.
    async fn team_members(&self, team: TeamId) -> Result<Vec<TeamMember>>;
    /// Removes a member; `NotFound` if the user was not a member.
    async fn remove_team_member(&self, team: TeamId, user: UserId) -> Result<()>;
    /// Looks a team up by id.
    async fn team_by_id(&self, id: TeamId) -> Result<Option<Team>>;
    /// All teams, hidden ones included, ordered by name.
    async fn list_teams(&self) -> Result<Vec<Team>>;
    /// Renames a team or changes its description.
    async fn update_team(&self, id: TeamId, update: TeamUpdate) -> Result<Team>;
    /// The teams a user belongs to, with the user's role in each.
    async fn memberships(&self, user: UserId) -> Result<Vec<(TeamId, Role)>>;

    /// Creates a namespace owned by a team. Fails with `Conflict` if the name is taken.
    async fn create_namespace(&self, namespace: NewNamespace) -> Result<Namespace>;
    /// Looks a namespace up (the global namespace always exists).
    async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> Result<Option<Namespace>>;
    /// Changes who may pull from a namespace. The global namespace cannot be private.
    async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> Result<()>;
    /// Looks a namespace up by id.
    async fn namespace_by_id(&self, id: NamespaceId) -> Result<Option<Namespace>>;
    /// All namespaces, the global one first, then by name.
    async fn list_namespaces(&self) -> Result<Vec<Namespace>>;
    /// Changes a namespace's description or team. The global namespace has no team.
    async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> Result<Namespace>;
    /// A namespace plus the given user's role in its team, in one lookup: what the token
    /// endpoint needs per scope.
    async fn namespace_access<'a>(
        &self,
        namespace: NamespaceRef<'a>,
        user: Option<UserId>,
    ) -> Result<Option<NamespaceAccess>>;

    /// [`PolicyStore::namespace_access`] for several namespaces in one lookup (one query in SQL
    /// stores): a token request asks for a few scopes at once. Answers in the order asked.
    async fn namespaces_access<'a>(
        &self,
        namespaces: &[NamespaceRef<'a>],
        user: Option<UserId>,
    ) -> Result<Vec<Option<NamespaceAccess>>> {
        let mut found = Vec::with_capacity(namespaces.len());
        for namespace in namespaces {
            found.push(self.namespace_access(*namespace, user).await?);
        }
        Ok(found)
    }

    /// An opaque value that changes whenever anything in the store may have changed, read
    /// without a query; `None` when the store offers none. A caller may keep what it read
    /// while the marker it took *before* reading is still the current one.
    fn change_marker(&self) -> Option<Vec<u8>> {
        None
    }

    /// The user named `username` and their access to `namespaces` (as
    /// [`namespaces_access`](Self::namespaces_access)), in one lookup (one query in SQL stores
    /// for named namespaces): what a token request of a known user needs. `None` when there is
    /// no such user.
    async fn user_and_namespaces_access<'a>(
        &self,
        username: &str,
        namespaces: &[NamespaceRef<'a>],
    ) -> Result<Option<(User, Vec<Option<NamespaceAccess>>)>> {
        user_then_namespaces_access(self, username, namespaces).await
    }

    /// Stores a new application token by the hash of its secret. Labels are unique per user.
    async fn create_app_token(&self, user: UserId, label: &str, secret_hash: &str) -> Result<AppToken>;
    /// Finds an application token by the hash of its secret.
    async fn app_token_by_hash(&self, secret_hash: &str) -> Result<Option<AppToken>>;
    /// A user's application tokens, oldest first.
    async fn list_app_tokens(&self, user: UserId) -> Result<Vec<AppToken>>;
    /// Deletes an application token and the refresh tokens obtained with it.
    async fn revoke_app_token(&self, id: AppTokenId) -> Result<()>;

    /// Stores a refresh token by the hash of its secret.
    async fn create_refresh_token(
        &self,
        user: UserId,
        service: &str,
        app_token: Option<AppTokenId>,
        secret_hash: &str,
    ) -> Result<RefreshToken>;
    /// Finds a refresh token by the hash of its secret.
    async fn refresh_token_by_hash(&self, secret_hash: &str) -> Result<Option<RefreshToken>>;
    /// Deletes all refresh tokens of a user; returns how many were deleted.
    async fn revoke_refresh_tokens(&self, user: UserId) -> Result<u64>;

    /// Records that `repository:tag` points at `manifest`, creating the repository and, per
    /// `missing`, its namespace (private, no team: administrators only).
    async fn put_tag<'a>(
        &self,
        repository: &str,
        tag: &str,
        manifest: &ManifestRecord,
        pushed_by: Option<&'a str>,
        missing: MissingNamespace,
    ) -> Result<TagChange>;
    /// Records that a repository exists (a push by digest). Returns `false` when its namespace
    /// is missing and `missing` says to ignore it.
    async fn ensure_repository(&self, repository: &str, missing: MissingNamespace) -> Result<bool>;
    /// One tag.
    async fn tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>>;
    /// One tag by id.
    async fn tag_by_id(&self, id: TagId) -> Result<Option<TagRecord>>;
    /// All tags of one repository, or of all repositories; ordered by repository and name.
    async fn tags<'a>(&self, repository: Option<&'a str>) -> Result<Vec<TagRecord>>;
    /// All repository names, ordered.
    async fn repositories(&self) -> Result<Vec<String>>;
    /// All repositories with their star counts, ordered by name.
    async fn list_repositories(&self) -> Result<Vec<Repository>>;
    /// One repository by id.
    async fn repository_by_id(&self, id: RepositoryId) -> Result<Option<Repository>>;
    /// Namespaces, repositories and tags whose names contain `text` (case-insensitive), at
    /// most `limit` of each, ordered by name. The caller filters by visibility.
    async fn search_names(&self, text: &str, limit: usize) -> Result<SearchHits> {
        let text = text.to_lowercase();
        let matches = |name: &str| name.to_lowercase().contains(&text);
        let mut namespaces: Vec<Namespace> = self
            .list_namespaces()
            .await?
            .into_iter()
            .filter(|n| !n.global && matches(&n.name))
            .collect();
        namespaces.truncate(limit);
        let mut repositories: Vec<Repository> = self
            .list_repositories()
            .await?
            .into_iter()
            .filter(|r| matches(&r.name))
            .collect();
        repositories.truncate(limit);
        let mut tags: Vec<TagRecord> = self
            .tags(None)
            .await?
            .into_iter()
            .filter(|t| matches(&t.name))
            .collect();
        tags.truncate(limit);
        Ok(SearchHits {
            namespaces,
            repositories,
            tags,
        })
    }
    /// Stars or unstars a repository for a user (idempotent).
    async fn set_star(&self, user: UserId, repository: RepositoryId, starred: bool) -> Result<()>;
    /// The repositories a user starred.
    async fn starred(&self, user: UserId) -> Result<Vec<RepositoryId>>;
    /// Deletes one tag; returns it if it existed.
    async fn delete_tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>>;
    /// Deletes every tag of `repository` pointing at `digest`; returns them.
    async fn delete_tags_by_digest(&self, repository: &str, digest: &str) -> Result<Vec<TagRecord>>;
    /// Deletes a repository and its tags; returns the deleted tags.
    async fn delete_repository(&self, repository: &str) -> Result<Vec<TagRecord>>;

    /// Stores registry notification events `(event id, JSON)` as pending, skipping ids that
    /// are already known; returns how many were new.
    async fn insert_events(&self, events: &[(String, String)]) -> Result<usize>;
    /// The oldest pending events, in arrival order.
    async fn pending_events(&self, limit: usize) -> Result<Vec<StoredEvent>>;
    /// Marks an event applied, ignored or failed.
    async fn finish_event<'a>(&self, seq: i64, status: EventStatus, error: Option<&'a str>) -> Result<()>;

    /// Stores (replaces) one backend's scan record for one digest.
    async fn put_scan_record(&self, record: &ScanRecord) -> Result<()>;
    /// Scan records of one digest, or of all digests; ordered by digest and backend.
    async fn scan_records<'a>(&self, digest: Option<&'a str>) -> Result<Vec<ScanRecord>>;
    /// Claims one backend's scan of one digest for a worker until `lease_until`: marks it
    /// `Scanning` if its record is still the one the worker saw (`seen` = its `updated_at`, or
    /// `None` for no record). Returns `false` when another worker changed or holds it, so
    /// instances sharing a store never scan the same digest with the same backend at once.
    async fn claim_scan(
        &self,
        digest: &str,
        backend: &str,
        seen: Option<DateTime<Utc>>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;
    /// [`PolicyStore::claim_scan`] for several backends of one digest at once (one transaction
    /// in SQL stores); returns the backends claimed.
    async fn claim_scans(
        &self,
        digest: &str,
        wanted: &[(String, Option<DateTime<Utc>>)],
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        let mut claimed = Vec::new();
        for (backend, seen) in wanted {
            if self.claim_scan(digest, backend, *seen, lease_until).await? {
                claimed.push(backend.clone());
            }
        }
        Ok(claimed)
    }
    /// Stores several scan records (one transaction in SQL stores).
    async fn put_scan_records(&self, records: &[ScanRecord]) -> Result<()> {
        for record in records {
            self.put_scan_record(record).await?;
        }
        Ok(())
    }

    /// Appends to the activity log.
    async fn record_activity(&self, activity: NewActivity) -> Result<()>;
    /// Lists activities, newest first.
    async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>>;
}

macro_rules! forward_policy_store {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: PolicyStore + ?Sized> PolicyStore for $wrapper {
            async fn create_user(&self, user: NewUser) -> Result<User> {
                (**self).create_user(user).await
            }
            async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
                (**self).user_by_name(username).await
            }
            async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
                (**self).user_by_id(id).await
            }
            async fn list_users(&self) -> Result<Vec<User>> {
                (**self).list_users().await
            }
            async fn set_user_enabled(&self, id: UserId, enabled: bool) -> Result<()> {
                (**self).set_user_enabled(id, enabled).await
            }
            async fn set_user_admin(&self, id: UserId, admin: bool) -> Result<()> {
                (**self).set_user_admin(id, admin).await
            }
            async fn set_password_hash(&self, id: UserId, hash: Option<PasswordHash>) -> Result<()> {
                (**self).set_password_hash(id, hash).await
            }
            async fn set_user_email(&self, id: UserId, email: Option<String>) -> Result<()> {
                (**self).set_user_email(id, email).await
            }
            async fn delete_user(&self, id: UserId) -> Result<()> {
                (**self).delete_user(id).await
            }
            async fn record_login_failure(&self, id: UserId) -> Result<u32> {
                (**self).record_login_failure(id).await
            }
            async fn set_user_lock(&self, id: UserId, until: Option<DateTime<Utc>>) -> Result<()> {
                (**self).set_user_lock(id, until).await
            }
            async fn create_team(&self, name: &str, owner: UserId, description: Option<String>) -> Result<Team> {
                (**self).create_team(name, owner, description).await
            }
            async fn team_by_name(&self, name: &str) -> Result<Option<Team>> {
                (**self).team_by_name(name).await
            }
            async fn set_team_member(&self, team: TeamId, user: UserId, role: Role) -> Result<()> {
                (**self).set_team_member(team, user, role).await
            }
            async fn team_members(&self, team: TeamId) -> Result<Vec<TeamMember>> {
                (**self).team_members(team).await
            }
            async fn remove_team_member(&self, team: TeamId, user: UserId) -> Result<()> {
                (**self).remove_team_member(team, user).await
            }
            async fn team_by_id(&self, id: TeamId) -> Result<Option<Team>> {
                (**self).team_by_id(id).await
            }
            async fn list_teams(&self) -> Result<Vec<Team>> {
                (**self).list_teams().await
            }
            async fn update_team(&self, id: TeamId, update: TeamUpdate) -> Result<Team> {
                (**self).update_team(id, update).await
            }
            async fn memberships(&self, user: UserId) -> Result<Vec<(TeamId, Role)>> {
                (**self).memberships(user).await
            }
            async fn create_namespace(&self, namespace: NewNamespace) -> Result<Namespace> {
                (**self).create_namespace(namespace).await
            }
            async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> Result<Option<Namespace>> {
                (**self).namespace(namespace).await
            }
            async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> Result<()> {
                (**self).set_namespace_visibility(id, visibility).await
            }
            async fn namespace_by_id(&self, id: NamespaceId) -> Result<Option<Namespace>> {
                (**self).namespace_by_id(id).await
            }
            async fn list_namespaces(&self) -> Result<Vec<Namespace>> {
                (**self).list_namespaces().await
            }
            async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> Result<Namespace> {
                (**self).update_namespace(id, update).await
            }
            async fn namespace_access<'a>(
                &self,
                namespace: NamespaceRef<'a>,
                user: Option<UserId>,
            ) -> Result<Option<NamespaceAccess>> {
                (**self).namespace_access(namespace, user).await
            }
            async fn namespaces_access<'a>(
                &self,
                namespaces: &[NamespaceRef<'a>],
                user: Option<UserId>,
            ) -> Result<Vec<Option<NamespaceAccess>>> {
                (**self).namespaces_access(namespaces, user).await
            }
            async fn user_and_namespaces_access<'a>(
                &self,
                username: &str,
                namespaces: &[NamespaceRef<'a>],
            ) -> Result<Option<(User, Vec<Option<NamespaceAccess>>)>> {
                (**self).user_and_namespaces_access(username, namespaces).await
            }
            fn change_marker(&self) -> Option<Vec<u8>> {
                (**self).change_marker()
            }
            async fn create_app_token(&self, user: UserId, label: &str, secret_hash: &str) -> Result<AppToken> {
                (**self).create_app_token(user, label, secret_hash).await
            }
            async fn app_token_by_hash(&self, secret_hash: &str) -> Result<Option<AppToken>> {
                (**self).app_token_by_hash(secret_hash).await
            }
            async fn list_app_tokens(&self, user: UserId) -> Result<Vec<AppToken>> {
                (**self).list_app_tokens(user).await
            }
            async fn revoke_app_token(&self, id: AppTokenId) -> Result<()> {
                (**self).revoke_app_token(id).await
            }
            async fn create_refresh_token(
                &self,
                user: UserId,
                service: &str,
                app_token: Option<AppTokenId>,
                secret_hash: &str,
            ) -> Result<RefreshToken> {
                (**self)
                    .create_refresh_token(user, service, app_token, secret_hash)
                    .await
            }
            async fn refresh_token_by_hash(&self, secret_hash: &str) -> Result<Option<RefreshToken>> {
                (**self).refresh_token_by_hash(secret_hash).await
            }
            async fn revoke_refresh_tokens(&self, user: UserId) -> Result<u64> {
                (**self).revoke_refresh_tokens(user).await
            }
            async fn put_tag<'a>(
                &self,
                repository: &str,
                tag: &str,
                manifest: &ManifestRecord,
                pushed_by: Option<&'a str>,
                missing: MissingNamespace,
            ) -> Result<TagChange> {
                (**self)
                    .put_tag(repository, tag, manifest, pushed_by, missing)
                    .await
            }
            async fn ensure_repository(&self, repository: &str, missing: MissingNamespace) -> Result<bool> {
                (**self).ensure_repository(repository, missing).await
            }
            async fn tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
                (**self).tag(repository, tag).await
            }
            async fn tag_by_id(&self, id: TagId) -> Result<Option<TagRecord>> {
                (**self).tag_by_id(id).await
            }
            async fn tags<'a>(&self, repository: Option<&'a str>) -> Result<Vec<TagRecord>> {
                (**self).tags(repository).await
            }
            async fn repositories(&self) -> Result<Vec<String>> {
                (**self).repositories().await
            }
            async fn list_repositories(&self) -> Result<Vec<Repository>> {
                (**self).list_repositories().await
            }
            async fn repository_by_id(&self, id: RepositoryId) -> Result<Option<Repository>> {
                (**self).repository_by_id(id).await
            }
            async fn search_names(&self, text: &str, limit: usize) -> Result<SearchHits> {
                (**self).search_names(text, limit).await
            }
            async fn set_star(&self, user: UserId, repository: RepositoryId, starred: bool) -> Result<()> {
                (**self).set_star(user, repository, starred).await
            }
            async fn starred(&self, user: UserId) -> Result<Vec<RepositoryId>> {
                (**self).starred(user).await
            }
            async fn delete_tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
                (**self).delete_tag(repository, tag).await
            }
            async fn delete_tags_by_digest(&self, repository: &str, digest: &str) -> Result<Vec<TagRecord>> {
                (**self).delete_tags_by_digest(repository, digest).await
            }
            async fn delete_repository(&self, repository: &str) -> Result<Vec<TagRecord>> {
                (**self).delete_repository(repository).await
            }
            async fn insert_events(&self, events: &[(String, String)]) -> Result<usize> {
                (**self).insert_events(events).await
            }
            async fn pending_events(&self, limit: usize) -> Result<Vec<StoredEvent>> {
                (**self).pending_events(limit).await
            }
            async fn finish_event<'a>(&self, seq: i64, status: EventStatus, error: Option<&'a str>) -> Result<()> {
                (**self).finish_event(seq, status, error).await
            }
            async fn put_scan_record(&self, record: &ScanRecord) -> Result<()> {
                (**self).put_scan_record(record).await
            }
            async fn scan_records<'a>(&self, digest: Option<&'a str>) -> Result<Vec<ScanRecord>> {
                (**self).scan_records(digest).await
            }
            async fn claim_scan(
                &self,
                digest: &str,
                backend: &str,
                seen: Option<DateTime<Utc>>,
                lease_until: DateTime<Utc>,
            ) -> Result<bool> {
                (**self).claim_scan(digest, backend, seen, lease_until).await
            }
            async fn claim_scans(
                &self,
                digest: &str,
                wanted: &[(String, Option<DateTime<Utc>>)],
                lease_until: DateTime<Utc>,
            ) -> Result<Vec<String>> {
                (**self).claim_scans(digest, wanted, lease_until).await
            }
            async fn put_scan_records(&self, records: &[ScanRecord]) -> Result<()> {
                (**self).put_scan_records(records).await
            }
            async fn record_activity(&self, activity: NewActivity) -> Result<()> {
                (**self).record_activity(activity).await
            }
            async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>> {
                (**self).activities(filter).await
            }
        }
    };
}

forward_policy_store!(Arc<T>);
forward_policy_store!(Box<T>);

/// [`PolicyStore::user_and_namespaces_access`] as two lookups, the user then the namespaces:
/// the default, and what SQL stores fall back to where one query would not use an index.
pub async fn user_then_namespaces_access<S: PolicyStore + ?Sized>(
    store: &S,
    username: &str,
    namespaces: &[NamespaceRef<'_>],
) -> Result<Option<(User, Vec<Option<NamespaceAccess>>)>> {
    let Some(user) = store.user_by_name(username).await? else {
        return Ok(None);
    };
    let access = store.namespaces_access(namespaces, Some(user.id)).await?;
    Ok(Some((user, access)))
}
