//! The local store as a [`Backend`]: reads through the store roles, every write through
//! `portus_core::ops` (which records its activity, with `cli` as the actor).
//!
//! The command line on the server's own machine is trusted like an administrator: it sees
//! every object, and the operations' rules (last owner, administrators are owners, at most 20
//! tokens, ...) are the only refusals.

mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;

use portus_auth::password::{APP_TOKEN_PREFIX, generate_secret, hash_password};
use portus_core::model::{
    AppTokenId, ExternalIdentity, Namespace, NamespaceRef, NewNamespace, NewUser, Repository, Role, TagRecord, TeamId,
    TeamUpdate, TokenLimits, User, now,
};
use portus_core::prelude::{AccountStoreExt, NamespaceStoreExt, TeamStoreExt};
use portus_core::traits::Secret;
use portus_core::{ErrorKind, PolicyStore, ops};

use super::{
    Backend, DeletedTags, NamespaceChanges, NewNamespaceInput, NewUserInput, TeamChanges, TokenRef, UserChanges,
    no_namespace, no_repository, no_tag, not_a_member, siblings_hint,
};
use crate::Error;
use crate::app::{self, DataPaths};
use crate::cli::views::{
    GLOBAL_NAMESPACE, ManifestView, MemberView, NamespaceView, RepositoryView, TagView, TeamView, TokenView, UserView,
};
use crate::cli::{CLI_ACTOR, find_user, find_visible_team, registry_of};
use crate::config::Config;

/// The store of `--data-dir` / `database.url`.
pub(crate) struct Local<'a> {
    config: &'a Config,
    paths: &'a DataPaths,
    store: Arc<dyn PolicyStore>,
}

impl<'a> Local<'a> {
    /// Opens the configured store.
    pub(crate) async fn open(config: &'a Config, paths: &'a DataPaths) -> Result<Local<'a>, Error> {
        Ok(Local {
            config,
            paths,
            store: app::open_store(paths).await?,
        })
    }

    fn store(&self) -> &dyn PolicyStore {
        self.store.as_ref()
    }

    /// The whole application (for the registry client image deletion needs), refused before
    /// anything is built when deletion is off.
    async fn for_deletion(&self) -> Result<app::App, Error> {
        if !self.config.policy.delete_enabled {
            return Err(Error::Usage(
                "deletion is disabled (policy.delete_enabled = false)".into(),
            ));
        }
        app::build(self.config, self.paths).await
    }

    async fn find_namespace(&self, name: &str) -> Result<Namespace, Error> {
        // The global namespace has no name of its own; "" names nothing.
        let reference = match name {
            "" => return Err(no_namespace(name)),
            GLOBAL_NAMESPACE => NamespaceRef::Global,
            _ => NamespaceRef::Named(name),
        };
        self.store()
            .namespace(reference)
            .await?
            .ok_or_else(|| no_namespace(name))
    }

    async fn find_repository(&self, name: &str) -> Result<Repository, Error> {
        // Names contain themselves: the store's name filter finds it among few candidates.
        let found = self
            .store()
            .repositories_page(
                &portus_core::model::RepositoryFilter {
                    name_contains: Some(name.to_owned()),
                    ..Default::default()
                },
                &portus_core::model::ListQuery::all(portus_core::model::RepositorySort::Name),
            )
            .await?;
        found
            .items
            .into_iter()
            .map(|l| l.repository)
            .find(|r| r.name == name)
            .ok_or_else(|| no_repository(name))
    }

    /// Names of the teams one manages (not the hidden teams of personal namespaces).
    async fn team_names(&self) -> Result<HashMap<TeamId, String>, Error> {
        Ok(self
            .store()
            .list_teams()
            .await?
            .into_iter()
            .filter(|t| !t.hidden)
            .map(|t| (t.id, t.name))
            .collect())
    }

    async fn namespace_view(&self, namespace: &Namespace) -> Result<NamespaceView, Error> {
        Ok(namespace_view(namespace, &self.team_names().await?))
    }

    async fn repository_view(&self, repository: &Repository) -> Result<RepositoryView, Error> {
        let tags = self.store().tags(Some(&repository.name)).await?.len();
        Ok(repository_view(repository, tags))
    }
}

fn user_view(user: &User) -> UserView {
    UserView {
        id: user.id.0,
        username: user.username.clone(),
        email: user.email.clone(),
        admin: user.admin,
        enabled: user.enabled,
        locked: user.is_locked(now()),
        namespace_id: user.personal_namespace.map(|n| n.0),
        created_at: user.created_at,
    }
}

fn team_view(team: &portus_core::model::Team) -> TeamView {
    TeamView {
        id: team.id.0,
        name: team.name.clone(),
        description: team.description.clone(),
    }
}

fn namespace_view(namespace: &Namespace, teams: &HashMap<TeamId, String>) -> NamespaceView {
    NamespaceView {
        id: namespace.id.0,
        name: if namespace.global {
            GLOBAL_NAMESPACE.to_owned()
        } else {
            namespace.name.clone()
        },
        description: namespace.description.clone(),
        team_id: namespace.team_id.map(|t| t.0),
        team: namespace.team_id.and_then(|t| teams.get(&t).cloned()),
        visibility: namespace.visibility,
        global: namespace.global,
        personal: namespace.personal_owner.is_some(),
    }
}

fn repository_view(repository: &Repository, tags_count: usize) -> RepositoryView {
    RepositoryView {
        id: repository.id.0,
        name: repository.name.clone(),
        namespace_id: repository.namespace_id.0,
        description: repository.description.clone(),
        stars: repository.stars,
        tags_count,
        created_at: repository.created_at,
    }
}

fn tag_view(tag: &TagRecord) -> TagView {
    TagView {
        id: tag.id.0,
        repository: tag.repository.clone(),
        name: tag.name.clone(),
        manifest: ManifestView {
            digest: tag.manifest.digest.clone(),
            media_type: tag.manifest.media_type.clone(),
            // The image's size as the REST API gives it: measured from the registry's
            // manifests (config and layers; an index's platforms summed).
            size: tag.image_size.or(tag.manifest.size),
        },
        pushed_by: tag.pushed_by.clone(),
        created_at: tag.created_at,
        updated_at: tag.updated_at,
    }
}

impl Backend for Local<'_> {
    async fn users(&self) -> Result<Vec<UserView>, Error> {
        Ok(self.store().list_users().await?.iter().map(user_view).collect())
    }

    async fn user(&self, name: &str) -> Result<UserView, Error> {
        Ok(user_view(&find_user(self.store(), name).await?))
    }

    async fn create_user(&self, new: NewUserInput) -> Result<(UserView, Option<String>), Error> {
        // Hash before touching the store, so bad input changes nothing.
        let password_hash = match &new.password {
            Some(password) => Some(hash_password(password, self.config.auth.bcrypt_cost).await?),
            None => None,
        };
        let user = NewUser {
            username: new.name.clone(),
            email: new.email,
            admin: new.admin,
            password_hash,
            bot: new.bot,
        };
        let user = ops::users::create(self.store(), Some(CLI_ACTOR), user).await?;
        let namespace = match user.personal_namespace {
            Some(id) => self.store().namespace_by_id(id).await?.map(|n| n.name),
            None => None,
        };
        Ok((user_view(&user), namespace))
    }

    async fn update_user(&self, name: &str, changes: UserChanges) -> Result<UserView, Error> {
        let store = self.store();
        let user = find_user(store, name).await?;
        // Everything that can be refused is checked before the first change.
        let password_hash = match &changes.password {
            Some(password) => Some(hash_password(password, self.config.auth.bcrypt_cost).await?),
            None => None,
        };
        let actor = Some(CLI_ACTOR);
        if let Some(email) = changes.email {
            ops::users::set_email(store, actor, &user, email).await?;
        }
        if let Some(hash) = password_hash {
            ops::users::set_password(store, actor, &user, Some(hash)).await?;
        }
        if let Some(admin) = changes.admin {
            ops::users::set_admin(store, actor, &user, admin).await?;
        }
        if let Some(enabled) = changes.enabled {
            ops::users::set_enabled(store, actor, &user, enabled).await?;
        }
        if changes.unlock {
            ops::users::unlock(store, actor, &user).await?;
        }
        self.user(name).await
    }

    async fn delete_user(&self, name: &str) -> Result<(), Error> {
        let user = find_user(self.store(), name).await?;
        ops::users::delete(self.store(), Some(CLI_ACTOR), &user).await?;
        Ok(())
    }

    async fn identities(&self, user: &str) -> Result<Vec<ExternalIdentity>, Error> {
        let user = find_user(self.store(), user).await?;
        Ok(self.store().identities_of(user.id).await?)
    }

    async fn link_identity(&self, user: &str, identity: &ExternalIdentity) -> Result<bool, Error> {
        let user = find_user(self.store(), user).await?;
        Ok(ops::users::link_identity(self.store(), Some(CLI_ACTOR), &user, identity).await?)
    }

    async fn unlink_identity(&self, user: &str, identity: &ExternalIdentity) -> Result<(), Error> {
        let user = find_user(self.store(), user).await?;
        Ok(ops::users::unlink_identity(self.store(), Some(CLI_ACTOR), &user, identity).await?)
    }

    async fn tokens(&self, user: &str) -> Result<Vec<TokenView>, Error> {
        let owner = find_user(self.store(), user).await?;
        Ok(self
            .store()
            .list_app_tokens(owner.id)
            .await?
            .into_iter()
            .map(|t| TokenView::of(&t))
            .collect())
    }

    async fn create_token(&self, user: &str, name: &str, limits: &TokenLimits) -> Result<(TokenView, Secret), Error> {
        let owner = find_user(self.store(), user).await?;
        let secret = generate_secret(APP_TOKEN_PREFIX)?;
        let most = self.config.auth.max_app_tokens;
        let store = self.store();
        let token = ops::tokens::create(store, Some(CLI_ACTOR), &owner, name, &secret.digest, limits, most).await?;
        Ok((TokenView::of(&token), secret.plain))
    }

    async fn revoke_token(&self, user: &str, token: &TokenRef) -> Result<TokenView, Error> {
        let owner = find_user(self.store(), user).await?;
        let found = self
            .tokens(user)
            .await?
            .into_iter()
            .find(|t| token.matches(t))
            .ok_or_else(|| token.missing(user))?;
        ops::tokens::revoke(self.store(), Some(CLI_ACTOR), &owner, AppTokenId(found.id)).await?;
        Ok(found)
    }

    async fn teams(&self) -> Result<Vec<TeamView>, Error> {
        let teams = self.store().list_teams().await?;
        Ok(teams.iter().filter(|t| !t.hidden).map(team_view).collect())
    }

    async fn team(&self, name: &str) -> Result<TeamView, Error> {
        Ok(team_view(&find_visible_team(self.store(), name).await?))
    }

    async fn create_team(&self, name: &str, owner: &str, description: Option<String>) -> Result<TeamView, Error> {
        let owner = find_user(self.store(), owner).await?;
        let team = ops::teams::create(self.store(), Some(CLI_ACTOR), name, &owner, description).await?;
        Ok(team_view(&team))
    }

    async fn update_team(&self, name: &str, changes: TeamChanges) -> Result<TeamView, Error> {
        let team = find_visible_team(self.store(), name).await?;
        let update = TeamUpdate {
            name: changes.name,
            description: changes.description.map(Some),
        };
        let updated = ops::teams::update(self.store(), Some(CLI_ACTOR), &team, update).await?;
        Ok(team_view(&updated))
    }

    async fn delete_team(&self, name: &str, heir: Option<&str>) -> Result<(), Error> {
        let team = find_visible_team(self.store(), name).await?;
        match heir {
            Some(heir) => {
                let heir = find_visible_team(self.store(), heir).await?;
                ops::teams::delete(self.store(), None, Some(CLI_ACTOR), &team, Some(&heir)).await?;
            }
            None => {
                let app = self.for_deletion().await?;
                ops::teams::delete(
                    app.store.as_ref(),
                    app.registry.as_deref(),
                    Some(CLI_ACTOR),
                    &team,
                    None,
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn members(&self, team: &str) -> Result<Vec<MemberView>, Error> {
        let team = find_visible_team(self.store(), team).await?;
        Ok(self
            .store()
            .team_members(team.id)
            .await?
            .into_iter()
            .map(|m| MemberView {
                user_id: m.user_id.0,
                username: m.username,
                role: m.role,
            })
            .collect())
    }

    async fn add_member(&self, team: &str, user: &str, role: Role) -> Result<MemberView, Error> {
        let found = find_visible_team(self.store(), team).await?;
        let member = find_user(self.store(), user).await?;
        let role = ops::teams::add_member(self.store(), Some(CLI_ACTOR), &found, &member, role).await?;
        Ok(MemberView {
            user_id: member.id.0,
            username: member.username,
            role,
        })
    }

    async fn update_member(&self, team: &str, user: &str, role: Role) -> Result<MemberView, Error> {
        let found = find_visible_team(self.store(), team).await?;
        let member = find_user(self.store(), user).await?;
        let changed = ops::teams::change_role(self.store(), Some(CLI_ACTOR), &found, member.id, role)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => not_a_member(team, user),
                _ => Error::Core(e),
            })?;
        Ok(MemberView {
            user_id: changed.user_id.0,
            username: changed.username,
            role: changed.role,
        })
    }

    async fn remove_member(&self, team: &str, user: &str) -> Result<(), Error> {
        let found = find_visible_team(self.store(), team).await?;
        let member = find_user(self.store(), user).await?;
        ops::teams::remove_member(self.store(), Some(CLI_ACTOR), &found, member.id)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => not_a_member(team, user),
                _ => Error::Core(e),
            })
    }

    async fn namespaces(&self) -> Result<Vec<NamespaceView>, Error> {
        let teams = self.team_names().await?;
        let namespaces = self.store().list_namespaces().await?;
        Ok(namespaces.iter().map(|n| namespace_view(n, &teams)).collect())
    }

    async fn namespace(&self, name: &str) -> Result<NamespaceView, Error> {
        let namespace = self.find_namespace(name).await?;
        self.namespace_view(&namespace).await
    }

    async fn create_namespace(&self, new: NewNamespaceInput) -> Result<NamespaceView, Error> {
        let team = find_visible_team(self.store(), &new.team).await?;
        let namespace = NewNamespace {
            name: new.name,
            team_id: team.id,
            visibility: new.visibility,
            description: new.description,
        };
        let created = ops::namespaces::create(self.store(), Some(CLI_ACTOR), namespace, &team).await?;
        self.namespace_view(&created).await
    }

    async fn update_namespace(&self, name: &str, changes: NamespaceChanges) -> Result<NamespaceView, Error> {
        let namespace = self.find_namespace(name).await?;
        // Every refusal before the first change.
        let team = match &changes.team {
            Some(_) if namespace.personal_owner.is_some() => {
                return Err(Error::Usage("a personal namespace stays with its user's team".into()));
            }
            Some(team) => Some(find_visible_team(self.store(), team).await?),
            None => None,
        };
        let store = self.store();
        if let Some(visibility) = changes.visibility {
            ops::namespaces::set_visibility(store, Some(CLI_ACTOR), &namespace, visibility).await?;
        }
        if changes.description.is_some() || team.is_some() {
            ops::namespaces::update(store, Some(CLI_ACTOR), &namespace, changes.description, team.as_ref()).await?;
        }
        let updated = store
            .namespace_by_id(namespace.id)
            .await?
            .ok_or_else(|| no_namespace(name))?;
        self.namespace_view(&updated).await
    }

    async fn delete_namespace(&self, name: &str) -> Result<(), Error> {
        let namespace = self.find_namespace(name).await?;
        let app = self.for_deletion().await?;
        ops::namespaces::delete(app.store.as_ref(), app.registry.as_deref(), Some(CLI_ACTOR), &namespace).await?;
        Ok(())
    }

    async fn repositories(&self) -> Result<Vec<RepositoryView>, Error> {
        // The kept tag counts: no need to read every tag.
        let listed = self
            .store()
            .repositories_page(
                &portus_core::model::RepositoryFilter::default(),
                &portus_core::model::ListQuery::all(portus_core::model::RepositorySort::Name),
            )
            .await?;
        Ok(listed
            .items
            .iter()
            .map(|l| repository_view(&l.repository, usize::try_from(l.summary.tags).unwrap_or(usize::MAX)))
            .collect())
    }

    async fn repository(&self, name: &str) -> Result<RepositoryView, Error> {
        let repository = self.find_repository(name).await?;
        self.repository_view(&repository).await
    }

    async fn update_repository(&self, name: &str, description: String) -> Result<RepositoryView, Error> {
        let repository = self.find_repository(name).await?;
        let description = Some(description).filter(|d| !d.is_empty());
        ops::images::describe_repository(self.store(), Some(CLI_ACTOR), &repository, description).await?;
        let repository = self.find_repository(name).await?;
        self.repository_view(&repository).await
    }

    async fn delete_repository(&self, name: &str) -> Result<(), Error> {
        self.find_repository(name).await?;
        let app = self.for_deletion().await?;
        let registry = registry_of(&app)?;
        ops::images::delete_repository(app.store.as_ref(), registry.as_ref(), name, Some(CLI_ACTOR)).await?;
        Ok(())
    }

    async fn tags(&self, repository: Option<&str>) -> Result<Vec<TagView>, Error> {
        if let Some(name) = repository {
            self.find_repository(name).await?;
        }
        Ok(self.store().tags(repository).await?.iter().map(tag_view).collect())
    }

    async fn tag(&self, repository: &str, tag: &str) -> Result<TagView, Error> {
        let found = self.store().tag(repository, tag).await?;
        found.as_ref().map(tag_view).ok_or_else(|| no_tag(repository, tag))
    }

    async fn delete_tag(&self, repository: &str, tag: &str, with_siblings: bool) -> Result<DeletedTags, Error> {
        let app = self.for_deletion().await?;
        let registry = registry_of(&app)?;
        let deleted = ops::images::delete_tag(
            app.store.as_ref(),
            registry.as_ref(),
            repository,
            tag,
            with_siblings,
            Some(CLI_ACTOR),
        )
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => no_tag(repository, tag),
            ErrorKind::Conflict => siblings_hint(&e.to_string()),
            _ => Error::Core(e),
        })?;
        Ok(DeletedTags {
            digest: deleted.first().map(|t| t.manifest.digest.clone()).unwrap_or_default(),
            tags: deleted.into_iter().map(|t| t.name).collect(),
        })
    }
}
