//! Health, version, the registry, search and the activity log.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use portus_core::model::{ActivityFilter, NamespaceRef};
use portus_core::permissions;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiCaller, forbidden};
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/v1/_ping`.
pub(super) async fn ping() -> Json<Value> {
    Json(json!({"pong": true}))
}

/// `GET /api/v1/version`.
pub(super) async fn version() -> Json<Value> {
    Json(json!({"api-versions": ["v1"], "version": env!("CARGO_PKG_VERSION")}))
}

/// `GET /api/version` (Portus' path): any signed-in user. `git` is the commit and tag the
/// program was built from when the build set `PORTUS_GIT_COMMIT` / `PORTUS_GIT_TAG`, else null.
pub(super) async fn api_version(caller: ApiCaller) -> Result<Json<Value>, ApiError> {
    caller.user()?;
    let git = match (option_env!("PORTUS_GIT_TAG"), option_env!("PORTUS_GIT_COMMIT")) {
        (Some(tag), _) => json!({"tag": tag}),
        (None, Some(commit)) => json!({"branch": option_env!("PORTUS_GIT_BRANCH"), "commit": commit}),
        (None, None) => Value::Null,
    };
    Ok(Json(json!({
        "api-versions": ["v1"],
        "git": git,
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

fn component(result: Result<(), String>) -> Value {
    match result {
        Ok(()) => json!({"success": true, "msg": "ok"}),
        Err(message) => json!({"success": false, "msg": message}),
    }
}

/// `GET /api/v1/health`: 200 when every component answers, 503 otherwise. No authentication,
/// so load balancers can use it; messages name components, never secrets.
pub(super) async fn health(State(state): State<AppState>) -> Response {
    let mut components = serde_json::Map::new();
    let store = state
        .store
        .namespace(NamespaceRef::Global)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    components.insert("database".into(), component(store));
    if let Some(registry) = &state.registry {
        let reachable = registry.catalog().await.map(|_| ()).map_err(|e| e.to_string());
        components.insert("registry".into(), component(reachable));
    }
    for (name, result) in state.scanner.health().await {
        components.insert(format!("scanner:{name}"), component(result));
    }
    let healthy = components.values().all(|c| c["success"] == json!(true));
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Value::Object(components))).into_response()
}

/// `GET /api/v1/registries`: the registry portus guards (administrators).
pub(super) async fn registries(State(state): State<AppState>, caller: ApiCaller) -> Result<Json<Value>, ApiError> {
    caller.user()?;
    if !caller.caller.is_admin() {
        return Err(forbidden("only administrators see registry settings"));
    }
    let reachable = match &state.registry {
        Some(registry) => Some(registry.catalog().await.is_ok()),
        None => None,
    };
    Ok(Json(json!([{
        "service": state.tokens.service(),
        "configured": state.registry.is_some(),
        "reachable": reachable,
    }])))
}

/// Matches read from the store per kind; visibility filtering happens after, so a caller who may
/// see few of them gets fewer results rather than a scan of everything.
const SEARCH_CANDIDATES: usize = 500;
/// Results returned per kind.
const SEARCH_RESULTS: usize = 100;

/// Query of `GET /api/v1/search`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchQuery {
    q: String,
}

/// `GET /api/v1/search?q=`: case-insensitive substring search over namespace, repository and
/// tag names the caller may see (at most 100 of each, from the first 500 matches).
pub(super) async fn search(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let needle = query.q.trim().to_lowercase();
    if needle.is_empty() || needle.len() > 128 {
        return Err(ApiError::bad_request("q must be 1 to 128 characters"));
    }
    let store = &state.store;
    let hits = store.search_names(&needle, SEARCH_CANDIDATES).await?;
    // Visibility of every namespace the hits live in, in one lookup.
    let mut wanted: Vec<NamespaceRef<'_>> = Vec::new();
    for name in hits
        .repositories
        .iter()
        .map(|r| r.name.as_str())
        .chain(hits.tags.iter().map(|t| t.repository.as_str()))
    {
        let (namespace, _) = NamespaceRef::of_repository(name);
        if !wanted.contains(&namespace) {
            wanted.push(namespace);
        }
    }
    let user_id = caller.caller.user_id();
    let found = store.namespaces_access(&wanted, user_id).await?;
    let visible_namespace =
        |namespace: &portus_core::model::Namespace| caller.namespace_view(namespace, &state).visible;
    let visible: Vec<NamespaceRef<'_>> = wanted
        .iter()
        .zip(&found)
        .filter(|(_, access)| access.as_ref().is_some_and(|a| visible_namespace(&a.namespace)))
        .map(|(namespace, _)| *namespace)
        .collect();
    let may_see = |repository: &str| visible.contains(&NamespaceRef::of_repository(repository).0);
    let namespace_hits: Vec<Value> = hits
        .namespaces
        .iter()
        .filter(|n| visible_namespace(n))
        .take(SEARCH_RESULTS)
        .map(|n| json!({"id": n.id, "name": n.name}))
        .collect();
    let repository_hits: Vec<Value> = hits
        .repositories
        .iter()
        .filter(|r| may_see(&r.name))
        .take(SEARCH_RESULTS)
        .map(|r| json!({"id": r.id, "name": r.name, "stars": r.stars}))
        .collect();
    let tag_hits: Vec<Value> = hits
        .tags
        .iter()
        .filter(|t| may_see(&t.repository))
        .take(SEARCH_RESULTS)
        .map(|t| json!({"id": t.id, "repository": t.repository, "name": t.name, "digest": t.manifest.digest}))
        .collect();
    Ok(Json(json!({
        "namespaces": namespace_hits,
        "repositories": repository_hits,
        "tags": tag_hits,
    })))
}

/// Query of `GET /api/v1/activities`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActivityQuery {
    actor: Option<String>,
    /// Only activities on this namespace's repositories.
    namespace: Option<String>,
    /// An action (`tag.push`) or a prefix ending in `.` (`tag.`).
    action: Option<String>,
    since: Option<DateTime<Utc>>,
    page: Option<usize>,
    per_page: Option<usize>,
    #[serde(default)]
    all: bool,
    sort_attr: Option<String>,
    sort_order: Option<super::lists::SortOrder>,
}

/// `GET /api/v1/activities`: administrators see everything; others their own activities.
pub(super) async fn activities(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<ActivityQuery>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let actor = if permissions::read_all_activities(caller.caller) {
        query.actor
    } else {
        match query.actor {
            Some(actor) if actor != user.username => {
                return Err(forbidden("only administrators read other users' activities"));
            }
            _ => Some(user.username.clone()),
        }
    };
    let filter = ActivityFilter {
        actor,
        action: query.action,
        target_prefix: query.namespace.map(|n| format!("{n}/")),
        since: query.since,
        limit: 1000,
    };
    let activities = state.store.activities(&filter).await?;
    let page = super::Page {
        page: query.page,
        per_page: query.per_page,
        all: query.all,
        sort_attr: query.sort_attr,
        sort_order: query.sort_order,
    };
    page.respond("/api/v1/activities", activities)
}
