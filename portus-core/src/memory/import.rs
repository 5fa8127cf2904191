use async_trait::async_trait;

use crate::model::{
    Activity, AppToken, AppTokenId, Comment, CommentId, ImportBatch, ImportCounts, ManifestRecord, Namespace,
    NamespaceId, NamespaceRef, PasswordHash, Repository, RepositoryId, TagId, TagRecord, TeamId, User, UserId,
    Visibility, import_name_taken,
};
use crate::naming::{validate_namespace_name, validate_team_name, validate_username};
use crate::{Error, Result};

use super::{InMemoryStore, State};

/// The media type assumed for imported tags whose source did not record one.
const DEFAULT_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

#[async_trait]
impl crate::traits::ImportStore for InMemoryStore {
    async fn import_batch(&self, batch: &ImportBatch) -> Result<ImportCounts> {
        let mut state = self.lock();
        // Work on a copy: an error anywhere leaves the store as it was.
        let mut next = state.clone();
        let counts = apply(&mut next, batch)?;
        *state = next;
        Ok(counts)
    }
}

fn user_id(state: &State, name: &str) -> Result<UserId> {
    state
        .users
        .iter()
        .find(|u| u.username == name)
        .map(|u| u.id)
        .ok_or_else(|| Error::not_found("user", name))
}

fn team_id(state: &State, name: &str) -> Result<TeamId> {
    state
        .teams
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.id)
        .ok_or_else(|| Error::not_found("team", name))
}

fn namespace_id(state: &State, name: &str) -> Result<NamespaceId> {
    state
        .namespaces
        .iter()
        .find(|n| {
            if name.is_empty() {
                n.global
            } else {
                !n.global && n.name == name
            }
        })
        .map(|n| n.id)
        .ok_or_else(|| Error::not_found("namespace", name))
}

fn repository_id(state: &State, name: &str) -> Result<RepositoryId> {
    state
        .repositories
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.id)
        .ok_or_else(|| Error::not_found("repository", name))
}

/// Whether the ledger knows `(source, kind, key)`.
fn seen(state: &State, source: &str, kind: &'static str, key: &str) -> bool {
    state.imported.contains(&(source.to_owned(), kind, key.to_owned()))
}

/// Records `(source, kind, key)` in the ledger; `false` if it was already there.
fn mark(state: &mut State, source: &str, kind: &'static str, key: &str) -> bool {
    state.imported.insert((source.to_owned(), kind, key.to_owned()))
}

fn apply(state: &mut State, batch: &ImportBatch) -> Result<ImportCounts> {
    let mut counts = ImportCounts::default();
    let now = crate::model::now();
    let source = batch.source.as_str();
    for user in &batch.users {
        if seen(state, source, "user", &user.source_key) {
            continue;
        }
        if state.users.iter().any(|u| u.username == user.username) {
            return Err(import_name_taken("user", &user.username));
        }
        validate_username(&user.username)?;
        let id = UserId(state.next_id());
        state.users.push(User {
            id,
            username: user.username.clone(),
            email: user.email.clone(),
            admin: user.admin,
            enabled: user.enabled,
            password_hash: user.password_hash.clone().map(PasswordHash),
            personal_namespace: None,
            failed_logins: 0,
            locked_until: user.locked_until,
            display_name: user.display_name.clone(),
            bot: user.bot,
            created_at: user.created_at.unwrap_or(now),
        });
        for (provider, issuer, subject) in &user.identities {
            let taken = state
                .identities
                .iter()
                .any(|(_, p, i, s)| p == provider && i == issuer && s == subject);
            if !taken {
                state
                    .identities
                    .push((id, provider.clone(), issuer.clone(), subject.clone()));
            }
        }
        mark(state, source, "user", &user.source_key);
        counts.users += 1;
    }
    for team in &batch.teams {
        if seen(state, source, "team", &team.source_key) {
            continue;
        }
        if state.teams.iter().any(|t| t.name == team.name) {
            return Err(import_name_taken("team", &team.name));
        }
        validate_team_name(&team.name)?;
        state.add_team(&team.name, team.description.clone(), team.hidden);
        mark(state, source, "team", &team.source_key);
        counts.teams += 1;
    }
    for namespace in &batch.namespaces {
        if !mark(state, source, "namespace", &namespace.source_key) {
            continue;
        }
        if namespace.global {
            let global = state
                .namespaces
                .iter_mut()
                .find(|n| n.global)
                .ok_or_else(|| Error::not_found("namespace", "global"))?;
            // The global namespace is never private here; Portus allowed it, protected is closest.
            let visibility = match namespace.visibility {
                Visibility::Private => Visibility::Protected,
                other => other,
            };
            if global.description != namespace.description || global.visibility != visibility {
                global.description.clone_from(&namespace.description);
                global.visibility = visibility;
                counts.namespaces += 1;
            }
            continue;
        }
        validate_namespace_name(&namespace.name)?;
        let team_id = namespace.team.as_deref().map(|t| team_id(state, t)).transpose()?;
        let personal_owner = namespace
            .personal_owner
            .as_deref()
            .map(|u| user_id(state, u))
            .transpose()?;
        let existing = state
            .namespaces
            .iter()
            .position(|n| !n.global && n.name == namespace.name);
        let id = match existing {
            // Made by a push before the import, for administrators only: it is Portus'.
            Some(index)
                if state.namespaces[index].team_id.is_none() && state.namespaces[index].personal_owner.is_none() =>
            {
                let adopted = &mut state.namespaces[index];
                adopted.description.clone_from(&namespace.description);
                adopted.team_id = team_id;
                adopted.visibility = namespace.visibility;
                adopted.personal_owner = personal_owner;
                adopted.id
            }
            Some(_) => return Err(import_name_taken("namespace", &namespace.name)),
            None => {
                let id = NamespaceId(state.next_id());
                state.namespaces.push(Namespace {
                    id,
                    name: namespace.name.clone(),
                    description: namespace.description.clone(),
                    team_id,
                    visibility: namespace.visibility,
                    global: false,
                    personal_owner,
                });
                id
            }
        };
        if let Some(owner) = personal_owner
            && let Some(user) = state.users.iter_mut().find(|u| u.id == owner)
            && user.personal_namespace.is_none()
        {
            user.personal_namespace = Some(id);
        }
        counts.namespaces += 1;
    }
    for membership in &batch.memberships {
        if !mark(state, source, "membership", &membership.source_key) {
            continue;
        }
        let team = team_id(state, &membership.team)?;
        let user = user_id(state, &membership.username)?;
        if state.members.iter().any(|(t, u, _)| *t == team && *u == user) {
            continue;
        }
        state.members.push((team, user, membership.role));
        counts.memberships += 1;
    }
    for repository in &batch.repositories {
        if !mark(state, source, "repository", &repository.source_key) {
            continue;
        }
        if let Some(existing) = state.repositories.iter_mut().find(|r| r.name == repository.name) {
            // Recorded from the registry already: adopted as it is, with the description.
            if existing.description.is_none() {
                existing.description.clone_from(&repository.description);
            }
            continue;
        }
        let namespace = match NamespaceRef::of_repository(&repository.name).0 {
            NamespaceRef::Global => namespace_id(state, "")?,
            NamespaceRef::Named(name) => namespace_id(state, name)?,
        };
        let id = RepositoryId(state.next_id());
        state.repositories.push(Repository {
            id,
            name: repository.name.clone(),
            namespace_id: namespace,
            stars: 0,
            description: repository.description.clone(),
            created_at: repository.created_at.unwrap_or(now),
        });
        counts.repositories += 1;
    }
    for tag in &batch.tags {
        if !mark(state, source, "tag", &tag.source_key) {
            continue;
        }
        repository_id(state, &tag.repository)?;
        if state
            .tags
            .iter()
            .any(|t| t.repository == tag.repository && t.name == tag.name)
        {
            continue;
        }
        let id = TagId(state.next_id());
        let created_at = tag.created_at.unwrap_or(now);
        state.tags.push(TagRecord {
            id,
            repository: tag.repository.clone(),
            name: tag.name.clone(),
            manifest: ManifestRecord {
                digest: tag.digest.clone(),
                media_type: tag.media_type.clone().unwrap_or_else(|| DEFAULT_MEDIA_TYPE.into()),
                size: None,
            },
            pushed_by: tag.pushed_by.clone(),
            created_at,
            updated_at: tag.updated_at.unwrap_or(created_at),
            image_id: tag.image_id.clone(),
            image_size: tag.image_size,
            pulled_at: tag.pulled_at,
            artifact: None,
            signed: false,
            pull_count: 0,
            platform_sizes: Vec::new(),
        });
        counts.tags += 1;
    }
    for star in &batch.stars {
        if !mark(state, source, "star", &star.source_key) {
            continue;
        }
        let user = user_id(state, &star.username)?;
        let repository = repository_id(state, &star.repository)?;
        if !state.stars.contains(&(user, repository)) {
            state.stars.push((user, repository));
            counts.stars += 1;
        }
    }
    for comment in &batch.comments {
        let repository = repository_id(state, &comment.repository)?;
        if !mark(state, source, "comment", &comment.source_key) {
            continue;
        }
        let id = CommentId(state.next_id());
        state.comments.push(Comment {
            id,
            repository_id: repository,
            author: comment.author.clone(),
            body: comment.body.clone(),
            created_at: comment.created_at.unwrap_or(now),
        });
        counts.comments += 1;
    }
    for token in &batch.app_tokens {
        if !mark(state, source, "app_token", &token.source_key) {
            continue;
        }
        let user = user_id(state, &token.username)?;
        if state
            .app_tokens
            .iter()
            .any(|(t, _)| t.user_id == user && t.label == token.label)
        {
            continue;
        }
        let id = AppTokenId(state.next_id());
        state.app_tokens.push((
            AppToken {
                id,
                user_id: user,
                label: token.label.clone(),
                created_at: now,
                limits: Default::default(),
                last_used_at: None,
            },
            token.secret_hash.clone(),
        ));
        counts.app_tokens += 1;
    }
    for webhook in &batch.webhooks {
        let namespace = namespace_id(state, &webhook.namespace)?;
        if !mark(state, source, "webhook", &webhook.source_key) {
            continue;
        }
        state.webhooks.push((namespace, webhook.clone()));
        counts.webhooks += 1;
    }
    for activity in &batch.activities {
        if !mark(state, source, "activity", &activity.source_key) {
            continue;
        }
        let id = state.next_id();
        state.activities.push(Activity {
            id,
            at: activity.at.unwrap_or(now),
            actor: activity.actor.clone(),
            action: activity.action.clone(),
            target: activity.target.clone(),
            details: activity.details.clone(),
        });
        counts.activities += 1;
    }
    Ok(counts)
}
