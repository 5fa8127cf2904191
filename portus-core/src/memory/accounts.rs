use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{
    AppToken, AppTokenId, AppTokenSort, ListPage, ListQuery, Namespace, NamespaceId, NewUser, PasswordHash,
    RefreshToken, RefreshTokenId, Role, User, UserId, UserSort, Visibility,
};
use crate::naming::{first_free_name, namespace_name_for_user, validate_username};
use crate::{Error, Result};

use super::InMemoryStore;

#[async_trait]
impl crate::traits::LockoutStore for InMemoryStore {
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
}

#[async_trait]
impl crate::traits::AccountStore for InMemoryStore {
    async fn create_user(&self, new: NewUser) -> Result<User> {
        self.lock().insert_user(new)
    }
    async fn create_first_user(&self, new: NewUser) -> Result<Option<User>> {
        let mut state = self.lock();
        if !state.users.is_empty() {
            return Ok(None);
        }
        state.insert_user(new).map(Some)
    }
    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        Ok(self.lock().users.iter().find(|u| u.username == username).cloned())
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        Ok(self.lock().users.iter().find(|u| u.id == id).cloned())
    }
    async fn users_page(&self, query: &ListQuery<UserSort>) -> Result<ListPage<User>> {
        let users = self.lock().users.clone();
        Ok(match query.sort {
            UserSort::Username => query.apply(users, |u| u.username.clone(), |u| u.id),
            UserSort::Id => query.apply(users, |u| u.id, |u| u.id),
            UserSort::CreatedAt => query.apply(users, |u| u.created_at, |u| u.id),
        })
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
        let mut state = self.lock();
        state.user_mut(id)?;
        if let Some(email) = &email {
            crate::naming::validate_email(email)?;
            state.refuse_taken_email(email, Some(id))?;
        }
        state.user_mut(id)?.email = email;
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
        state.identities.retain(|(u, ..)| *u != id);
        state.password_resets.retain(|(u, ..)| *u != id);
        state.sessions.retain(|_, s| s.user_id != id);
        for namespace in state.namespaces.iter_mut() {
            if namespace.personal_owner == Some(id) {
                namespace.personal_owner = None;
            }
        }
        Ok(())
    }
    async fn create_app_token(
        &self,
        user: UserId,
        label: &str,
        secret_hash: &str,
        limits: &crate::model::TokenLimits,
    ) -> Result<AppToken> {
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
            limits: crate::model::TokenLimits {
                expires_at: limits.expires_at.map(crate::model::at_store_precision),
                scope: limits.scope.clone(),
            },
            last_used_at: None,
        };
        state.app_tokens.push((token.clone(), secret_hash.to_owned()));
        Ok(token)
    }
    async fn touch_app_token(&self, id: AppTokenId, at: DateTime<Utc>) -> Result<()> {
        let mut state = self.lock();
        let (token, _) = state
            .app_tokens
            .iter_mut()
            .find(|(t, _)| t.id == id)
            .ok_or_else(|| Error::not_found("application token", id.to_string()))?;
        token.last_used_at = Some(crate::model::at_store_precision(at));
        Ok(())
    }
    async fn app_token_by_hash(&self, secret_hash: &str) -> Result<Option<AppToken>> {
        Ok(self
            .lock()
            .app_tokens
            .iter()
            .find(|(_, h)| h == secret_hash)
            .map(|(t, _)| t.clone()))
    }
    async fn legacy_app_tokens(&self, user: UserId) -> Result<Vec<(AppToken, String)>> {
        Ok(self
            .lock()
            .app_tokens
            .iter()
            .filter(|(t, hash)| t.user_id == user && !hash.starts_with("sha256:"))
            .cloned()
            .collect())
    }
    async fn set_app_token_hash(&self, id: AppTokenId, secret_hash: &str) -> Result<()> {
        let mut state = self.lock();
        if state
            .app_tokens
            .iter()
            .any(|(t, hash)| t.id != id && hash == secret_hash)
        {
            return Err(Error::Conflict("the token hash is already stored".into()));
        }
        let (_, hash) = state
            .app_tokens
            .iter_mut()
            .find(|(t, _)| t.id == id)
            .ok_or_else(|| Error::not_found("application token", id.to_string()))?;
        secret_hash.clone_into(hash);
        Ok(())
    }
    async fn app_tokens_page(&self, user: UserId, query: &ListQuery<AppTokenSort>) -> Result<ListPage<AppToken>> {
        let tokens: Vec<AppToken> = self
            .lock()
            .app_tokens
            .iter()
            .filter(|(t, _)| t.user_id == user)
            .map(|(t, _)| t.clone())
            .collect();
        Ok(match query.sort {
            AppTokenSort::Id => query.apply(tokens, |t| t.id, |t| t.id),
            AppTokenSort::Label => query.apply(tokens, |t| t.label.clone(), |t| t.id),
            AppTokenSort::CreatedAt => query.apply(tokens, |t| t.created_at, |t| t.id),
        })
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
}

impl super::State {
    /// `Conflict` when another user than `except` has `email` (ASCII case aside).
    fn refuse_taken_email(&self, email: &str, except: Option<UserId>) -> Result<()> {
        let taken = self
            .users
            .iter()
            .any(|u| Some(u.id) != except && u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)));
        if taken {
            return Err(Error::Conflict("this e-mail address belongs to another account".into()));
        }
        Ok(())
    }

    /// Creates a user with their personal namespace (what [`AccountStore::create_user`] does).
    ///
    /// [`AccountStore::create_user`]: crate::traits::AccountStore::create_user
    pub(super) fn insert_user(&mut self, new: NewUser) -> Result<User> {
        validate_username(&new.username)?;
        crate::naming::validate_bot(&new)?;
        if let Some(email) = &new.email {
            crate::naming::validate_email(email)?;
            self.refuse_taken_email(email, None)?;
        }
        let state = self;
        if state.users.iter().any(|u| u.username == new.username) {
            return Err(Error::Conflict(format!("user '{}' already exists", new.username)));
        }
        let user_id = UserId(state.next_id());
        let personal_namespace = match namespace_name_for_user(&new.username).filter(|_| !new.bot) {
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
            display_name: None,
            bot: new.bot,
            created_at: crate::model::now(),
        };
        state.users.push(user.clone());
        Ok(user)
    }
}
