//! A running portus server as a [`Backend`] (`--server URL`): the REST API under `/api/v1`,
//! authenticated with an application token, as Portus' `portusctl` worked.
//!
//! The API addresses objects by id; commands name them, so names are looked up in the lists
//! the caller may read (users need an administrator's token). The server decides what the
//! caller may see and do: its refusals are reported as it words them. A route this server does
//! not have (it answers 405 on a path it knows) is reported as not supported, never guessed
//! around.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portus_core::model::{ExternalIdentity, Role, TokenLimits};
use portus_core::traits::Secret;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::{
    Backend, DeletedTags, NamespaceChanges, NewNamespaceInput, NewUserInput, TeamChanges, TokenRef, UserChanges,
    no_namespace, no_repository, no_tag, no_team, no_user, not_a_member, siblings_hint,
};
use crate::Error;

mod lookup;
mod webhooks;
use crate::cli::views::{
    ManifestView, MemberView, NamespaceView, RepositoryView, TagView, TeamView, TokenView, UserView,
};

/// Most pages read from one list (100 objects each): a bound, not an expectation.
const MAX_PAGES: usize = 10_000;

/// A portus server's REST API.
#[derive(Debug)]
pub(crate) struct Rest {
    base: String,
    client: reqwest::Client,
    auth: (HeaderName, HeaderValue),
}

/// How a token given with `--token` is sent: `USER:TOKEN` as Portus' `Portus-Auth` header, a
/// bare token as `Authorization: Bearer`.
pub(crate) fn auth_header(token: &Secret) -> Result<(HeaderName, HeaderValue), Error> {
    let token = token.expose().trim();
    if token.is_empty() {
        return Err(missing_token());
    }
    let (name, value) = if token.contains(':') {
        (HeaderName::from_static("portus-auth"), token.to_owned())
    } else {
        (AUTHORIZATION, format!("Bearer {token}"))
    };
    let mut value = HeaderValue::from_str(&value)
        .map_err(|_| Error::Usage("--token holds characters that cannot be sent in an HTTP header".into()))?;
    value.set_sensitive(true);
    Ok((name, value))
}

fn missing_token() -> Error {
    Error::Usage("--server needs an application token: pass --token TOKEN (or USER:TOKEN) or set PORTUS_TOKEN".into())
}

/// The message of an error answer: the registry format's first `message`, Portus' `message`,
/// or the start of the body.
pub(crate) fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/errors/0/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    message.unwrap_or_else(|| {
        let text: String = body.trim().chars().take(200).collect();
        if text.is_empty() {
            "(no message)".to_owned()
        } else {
            text
        }
    })
}

/// Rewords "this server has no such route" for what the command was doing.
fn unsupported(what: &'static str) -> impl FnOnce(Error) -> Error {
    move |error| match error {
        Error::Unsupported(detail) => Error::Unsupported(format!("{what} is not supported by this server ({detail})")),
        other => other,
    }
}

/// The REST API has no routes for linked identities (yet): they are managed on the server's
/// own store.
fn identities_local_only() -> Error {
    Error::Unsupported(
        "linked identities are managed on the local store only: run the command on the server's host without --server"
            .into(),
    )
}

/// A tag as the API shows it (flat, with its scan summary).
#[derive(Deserialize)]
struct ApiTag {
    id: i64,
    repository: String,
    name: String,
    digest: String,
    media_type: String,
    size: Option<u64>,
    pushed_by: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ApiTag> for TagView {
    fn from(tag: ApiTag) -> TagView {
        TagView {
            id: tag.id,
            repository: tag.repository,
            name: tag.name,
            manifest: ManifestView {
                digest: tag.digest,
                media_type: tag.media_type,
                size: tag.size,
            },
            pushed_by: tag.pushed_by,
            created_at: tag.created_at,
            updated_at: tag.updated_at,
        }
    }
}

/// The answer to creating an application token: the secret is in it, once.
#[derive(Deserialize)]
struct CreatedToken {
    #[serde(flatten)]
    token: TokenView,
    plain_token: String,
}

impl Rest {
    /// A client for the server at `server`, authenticating with `token`.
    pub(crate) fn new(server: &str, token: Option<&Secret>) -> Result<Rest, Error> {
        let base = super::server_url::base_url(server)?;
        let auth = auth_header(token.ok_or_else(missing_token)?)?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("portus-cli/", env!("CARGO_PKG_VERSION")))
            // Redirects are not followed: the token would go wherever the server points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| Error::Remote {
                url: base.clone(),
                source,
            })?;
        Ok(Rest { base, client, auth })
    }

    /// Sends one request; an answer other than 2xx becomes an error with the server's message.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<reqwest::Response, Error> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header(self.auth.0.clone(), self.auth.1.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|source| Error::Remote {
            url: self.base.clone(),
            source,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = error_message(&response.text().await.unwrap_or_default());
        Err(match status.as_u16() {
            405 => Error::Unsupported(format!("{method} {path} answered 405 Method Not Allowed")),
            401 => Error::Server {
                status: 401,
                message: format!("{message} (check --token or PORTUS_TOKEN)"),
            },
            code => Error::Server { status: code, message },
        })
    }

    /// A request whose answer is JSON of type `T`.
    async fn json<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&Value>) -> Result<T, Error> {
        let response = self.call(method, path, body).await?;
        read(response).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.json(Method::GET, path, None).await
    }

    /// Every page of a paginated list.
    async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, Error> {
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let response = self
                .call(Method::GET, &format!("{path}?page={page}&per_page=100"), None)
                .await?;
            let pages: usize = response
                .headers()
                .get("x-total-pages")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let items: Vec<T> = read(response).await?;
            let empty = items.is_empty();
            all.extend(items);
            if page >= pages || empty {
                break;
            }
        }
        Ok(all)
    }

    /// `GET path`'s answer as text (an export: CSV or JSON printed as it comes).
    pub(crate) async fn get_text(&self, path: &str) -> Result<String, Error> {
        let response = self.call(Method::GET, path, None).await?;
        let status = response.status().as_u16();
        response.text().await.map_err(|e| Error::Server {
            status,
            message: format!("unexpected answer: {e}"),
        })
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(), Error> {
        self.call(method, path, body).await.map(drop)
    }
}

async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, Error> {
    let status = response.status().as_u16();
    let unreadable = |detail: String| Error::Server {
        status,
        message: format!("unexpected answer: {detail}"),
    };
    let bytes = response.bytes().await.map_err(|e| unreadable(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))
}

impl Backend for Rest {
    async fn users(&self) -> Result<Vec<UserView>, Error> {
        self.list("/api/v1/users").await
    }

    async fn user(&self, name: &str) -> Result<UserView, Error> {
        self.find_user(name).await
    }

    async fn create_user(&self, new: NewUserInput) -> Result<(UserView, Option<String>), Error> {
        let body = json!({
            "username": new.name,
            "email": new.email,
            "password": new.password.as_ref().map(Secret::expose),
            "admin": new.admin,
            "bot": new.bot,
        });
        let user: UserView = self.json(Method::POST, "/api/v1/users", Some(&body)).await?;
        let namespace = match user.namespace_id {
            Some(id) => self
                .get::<NamespaceView>(&format!("/api/v1/namespaces/{id}"))
                .await
                .ok()
                .map(|n| n.name),
            None => None,
        };
        Ok((user, namespace))
    }

    async fn update_user(&self, name: &str, changes: UserChanges) -> Result<UserView, Error> {
        let user = self.find_user(name).await?;
        let mut body = Map::new();
        if let Some(email) = changes.email {
            body.insert("email".into(), json!(email));
        }
        if let Some(password) = &changes.password {
            body.insert("password".into(), json!(password.expose()));
        }
        if let Some(current) = &changes.current_password {
            body.insert("current_password".into(), json!(current.expose()));
        }
        if let Some(admin) = changes.admin {
            body.insert("admin".into(), json!(admin));
        }
        if let Some(enabled) = changes.enabled {
            body.insert("enabled".into(), json!(enabled));
        }
        if changes.unlock {
            body.insert("locked".into(), json!(false));
        }
        let path = format!("/api/v1/users/{}", user.id);
        self.json(Method::PUT, &path, Some(&Value::Object(body))).await
    }

    async fn delete_user(&self, name: &str) -> Result<(), Error> {
        let user = self.find_user(name).await?;
        self.send(Method::DELETE, &format!("/api/v1/users/{}", user.id), None)
            .await
    }

    async fn identities(&self, _user: &str) -> Result<Vec<ExternalIdentity>, Error> {
        Err(identities_local_only())
    }

    async fn link_identity(&self, _user: &str, _identity: &ExternalIdentity) -> Result<bool, Error> {
        Err(identities_local_only())
    }

    async fn unlink_identity(&self, _user: &str, _identity: &ExternalIdentity) -> Result<(), Error> {
        Err(identities_local_only())
    }

    async fn tokens(&self, user: &str) -> Result<Vec<TokenView>, Error> {
        let owner = self.find_user(user).await?;
        self.list(&format!("/api/v1/users/{}/application_tokens", owner.id))
            .await
    }

    async fn create_token(&self, user: &str, name: &str, limits: &TokenLimits) -> Result<(TokenView, Secret), Error> {
        let owner = self.find_user(user).await?;
        let path = format!("/api/v1/users/{}/application_tokens", owner.id);
        let scopes = limits.scope.as_ref().map(portus_core::model::TokenScope::rules);
        let body = json!({"application": name, "expires_at": limits.expires_at, "scopes": scopes});
        let created: CreatedToken = self.json(Method::POST, &path, Some(&body)).await?;
        Ok((created.token, Secret::new(created.plain_token)))
    }

    async fn revoke_token(&self, user: &str, token: &TokenRef) -> Result<TokenView, Error> {
        let owner = self.find_user(user).await?;
        let tokens: Vec<TokenView> = self
            .list(&format!("/api/v1/users/{}/application_tokens", owner.id))
            .await?;
        let found = tokens
            .into_iter()
            .find(|t| token.matches(t))
            .ok_or_else(|| token.missing(user))?;
        let path = format!("/api/v1/users/{}/application_tokens/{}", owner.id, found.id);
        self.send(Method::DELETE, &path, None).await?;
        Ok(found)
    }

    async fn teams(&self) -> Result<Vec<TeamView>, Error> {
        self.list("/api/v1/teams").await
    }

    async fn team(&self, name: &str) -> Result<TeamView, Error> {
        self.find_team(name).await
    }

    async fn create_team(&self, name: &str, owner: &str, description: Option<String>) -> Result<TeamView, Error> {
        let owner = self.find_user(owner).await?;
        let body = json!({"name": name, "description": description, "owner_id": owner.id});
        self.json(Method::POST, "/api/v1/teams", Some(&body)).await
    }

    async fn update_team(&self, name: &str, changes: TeamChanges) -> Result<TeamView, Error> {
        let team = self.find_team(name).await?;
        let mut body = Map::new();
        if let Some(new_name) = changes.name {
            body.insert("name".into(), json!(new_name));
        }
        if let Some(description) = changes.description {
            body.insert("description".into(), json!(description));
        }
        let path = format!("/api/v1/teams/{}", team.id);
        self.json(Method::PUT, &path, Some(&Value::Object(body))).await
    }

    async fn delete_team(&self, name: &str, heir: Option<&str>) -> Result<(), Error> {
        let team = self.find_team(name).await?;
        // Portus' parameter: the name of the team that takes the namespaces over.
        let body = heir.map(|heir| json!({"new_team": heir}));
        self.send(Method::DELETE, &format!("/api/v1/teams/{}", team.id), body.as_ref())
            .await
            .map_err(unsupported("deleting a team"))
    }

    async fn members(&self, team: &str) -> Result<Vec<MemberView>, Error> {
        let team = self.find_team(team).await?;
        self.list(&format!("/api/v1/teams/{}/members", team.id)).await
    }

    async fn add_member(&self, team: &str, user: &str, role: Role) -> Result<MemberView, Error> {
        let team = self.find_team(team).await?;
        let path = format!("/api/v1/teams/{}/members", team.id);
        let body = json!({"user": user, "role": role});
        self.json(Method::POST, &path, Some(&body)).await.map_err(|e| match e {
            // The API hides a missing user behind a 404; say which name it was.
            Error::Server { status: 404, .. } => no_user(user),
            other => other,
        })
    }

    async fn update_member(&self, team: &str, user: &str, role: Role) -> Result<MemberView, Error> {
        let team = self.find_team(team).await?;
        let member = self.find_member(&team, user).await?;
        let path = format!("/api/v1/teams/{}/members/{}", team.id, member.user_id);
        self.json(Method::PUT, &path, Some(&json!({"role": role}))).await
    }

    async fn remove_member(&self, team: &str, user: &str) -> Result<(), Error> {
        let team = self.find_team(team).await?;
        let member = self.find_member(&team, user).await?;
        let path = format!("/api/v1/teams/{}/members/{}", team.id, member.user_id);
        self.send(Method::DELETE, &path, None).await
    }

    async fn namespaces(&self) -> Result<Vec<NamespaceView>, Error> {
        let namespaces = self.list("/api/v1/namespaces").await?;
        self.with_team_names(namespaces).await
    }

    async fn namespace(&self, name: &str) -> Result<NamespaceView, Error> {
        let namespace = self.find_namespace(name).await?;
        self.one_namespace(namespace).await
    }

    async fn create_namespace(&self, new: NewNamespaceInput) -> Result<NamespaceView, Error> {
        let body = json!({
            "name": new.name,
            "team": new.team,
            "visibility": new.visibility,
            "description": new.description,
        });
        let created = self
            .json(Method::POST, "/api/v1/namespaces", Some(&body))
            .await
            .map_err(|e| match e {
                Error::Server { status: 404, .. } => no_team(&new.team),
                other => other,
            })?;
        self.one_namespace(created).await
    }

    async fn update_namespace(&self, name: &str, changes: NamespaceChanges) -> Result<NamespaceView, Error> {
        let namespace = self.find_namespace(name).await?;
        let mut body = Map::new();
        if let Some(description) = changes.description {
            body.insert("description".into(), json!(description));
        }
        if let Some(team) = &changes.team {
            body.insert("team".into(), json!(team));
        }
        if let Some(visibility) = changes.visibility {
            body.insert("visibility".into(), json!(visibility));
        }
        let path = format!("/api/v1/namespaces/{}", namespace.id);
        let updated = self
            .json(Method::PUT, &path, Some(&Value::Object(body)))
            .await
            .map_err(|e| match (e, &changes.team) {
                // The namespace was just found: a 404 now is the team's.
                (Error::Server { status: 404, .. }, Some(team)) => no_team(team),
                (other, _) => other,
            })?;
        self.one_namespace(updated).await
    }

    async fn delete_namespace(&self, name: &str) -> Result<(), Error> {
        let namespace = self.find_namespace(name).await?;
        self.send(Method::DELETE, &format!("/api/v1/namespaces/{}", namespace.id), None)
            .await
            .map_err(unsupported("deleting a namespace"))
    }

    async fn repositories(&self) -> Result<Vec<RepositoryView>, Error> {
        self.list("/api/v1/repositories").await
    }

    async fn repository(&self, name: &str) -> Result<RepositoryView, Error> {
        self.find_repository(name).await
    }

    async fn update_repository(&self, name: &str, description: String) -> Result<RepositoryView, Error> {
        let repository = self.find_repository(name).await?;
        let path = format!("/api/v1/repositories/{}", repository.id);
        // Portus' shape: the route is Portus' (`PUT /api/v1/repositories/{id}`).
        let body = json!({"repository": {"description": description}});
        self.send(Method::PUT, &path, Some(&body))
            .await
            .map_err(unsupported("changing a repository's description"))?;
        self.get(&path).await
    }

    async fn delete_repository(&self, name: &str) -> Result<(), Error> {
        let repository = self.find_repository(name).await?;
        self.send(Method::DELETE, &format!("/api/v1/repositories/{}", repository.id), None)
            .await
    }

    async fn tags(&self, repository: Option<&str>) -> Result<Vec<TagView>, Error> {
        let repositories = match repository {
            Some(name) => vec![self.find_repository(name).await?],
            None => self.repositories().await?,
        };
        let mut tags = Vec::new();
        for repository in &repositories {
            tags.extend(self.tags_of(repository).await?);
        }
        Ok(tags)
    }

    async fn tag(&self, repository: &str, tag: &str) -> Result<TagView, Error> {
        let found = match self.find_repository(repository).await {
            Ok(found) => found,
            Err(Error::Usage(_)) => return Err(no_tag(repository, tag)),
            Err(other) => return Err(other),
        };
        self.tags_of(&found)
            .await?
            .into_iter()
            .find(|t| t.name == tag)
            .ok_or_else(|| no_tag(repository, tag))
    }

    async fn delete_tag(&self, repository: &str, tag: &str, with_siblings: bool) -> Result<DeletedTags, Error> {
        let found = self.tag(repository, tag).await?;
        let path = format!("/api/v1/tags/{}?with_siblings={with_siblings}", found.id);
        let response = self.call(Method::DELETE, &path, None).await.map_err(|e| match e {
            Error::Server { status: 409, message } => siblings_hint(&message),
            other => other,
        })?;
        #[derive(Deserialize)]
        struct Deleted {
            deleted: Vec<String>,
            digest: String,
        }
        // Servers answering 204 (as Portus did) deleted the tag's manifest and said no more.
        Ok(match read::<Deleted>(response).await {
            Ok(deleted) => DeletedTags {
                digest: deleted.digest,
                tags: deleted.deleted,
            },
            Err(_) => DeletedTags {
                digest: found.manifest.digest,
                tags: vec![found.name],
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_token_is_a_bearer_and_user_colon_token_is_portus_auth() {
        let (name, value) = auth_header(&Secret::new("pat_abc")).unwrap();
        assert_eq!(name, AUTHORIZATION);
        assert_eq!(value.to_str().unwrap(), "Bearer pat_abc");
        assert!(value.is_sensitive());
        let (name, value) = auth_header(&Secret::new("alice:pat_abc")).unwrap();
        assert_eq!(name.as_str(), "portus-auth");
        assert_eq!(value.to_str().unwrap(), "alice:pat_abc");
    }

    #[test]
    fn an_empty_or_unsendable_token_is_refused_clearly() {
        let empty = auth_header(&Secret::new("  ")).unwrap_err().to_string();
        assert!(empty.contains("--server needs an application token"), "{empty}");
        let newline = auth_header(&Secret::new("pat_a\nb")).unwrap_err().to_string();
        assert!(newline.contains("cannot be sent"), "{newline}");
        let missing = Rest::new("http://127.0.0.1:5001", None).unwrap_err().to_string();
        assert!(missing.contains("PORTUS_TOKEN"), "{missing}");
    }

    #[test]
    fn error_messages_are_read_from_either_format() {
        let registry = r#"{"errors":[{"code":"DENIED","message":"only administrators list users","detail":null}]}"#;
        assert_eq!(error_message(registry), "only administrators list users");
        assert_eq!(
            error_message(r#"{"message":"Authorization fails"}"#),
            "Authorization fails"
        );
        assert_eq!(error_message("  Bad Gateway\n"), "Bad Gateway");
        assert_eq!(error_message(""), "(no message)");
        assert_eq!(error_message(&"x".repeat(500)).len(), 200);
    }

    #[test]
    fn a_missing_route_is_reworded_for_what_was_asked() {
        let error = unsupported("deleting a team")(Error::Unsupported(
            "DELETE /api/v1/teams/3 answered 405 Method Not Allowed".into(),
        ));
        assert_eq!(
            error.to_string(),
            "deleting a team is not supported by this server (DELETE /api/v1/teams/3 answered 405 Method Not Allowed)"
        );
        let other = unsupported("deleting a team")(Error::Usage("no team named 'x'".into()));
        assert_eq!(other.to_string(), "no team named 'x'");
    }

    #[test]
    fn api_tags_become_the_tag_list_shape() {
        let answer = json!({"id": 7, "repository": "alice/app", "name": "1.0", "digest": "sha256:abc",
            "media_type": "application/vnd.oci.image.manifest.v1+json", "size": 10, "pushed_by": "alice",
            "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:00Z",
            "scan": {"status": "pending", "counts": {}}});
        let tag: TagView = serde_json::from_value::<ApiTag>(answer).unwrap().into();
        assert_eq!(tag.manifest.digest, "sha256:abc");
        assert_eq!(tag.manifest.size, Some(10));
        assert_eq!(tag.pushed_by.as_deref(), Some("alice"));
    }

    #[test]
    fn a_created_token_carries_its_secret_once() {
        let answer =
            json!({"id": 4, "application": "ci", "created_at": "2026-11-24T10:00:00Z", "plain_token": "pat_x"});
        let created: CreatedToken = serde_json::from_value(answer).unwrap();
        assert_eq!(created.token.application, "ci");
        assert_eq!(created.plain_token, "pat_x");
    }
}
