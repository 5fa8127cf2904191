//! Health, version, the registry, search and the activity log.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use portus_core::model::{Activity, ActivityFilter, ActivitySort, NamespaceRef};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::lists::{SortKey, SortOrder};
use super::schema::{Forbidden, Unprocessable};
use super::{ApiCaller, forbidden};
use crate::error::ApiError;
use crate::state::AppState;

/// `{"pong": true}`.
#[derive(Serialize, ToSchema)]
pub(super) struct Pong {
    pong: bool,
}

/// Liveness: always 200.
#[utoipa::path(get, path = "/api/v1/_ping", responses((status = 200, body = Pong)))]
pub(super) async fn ping() -> Json<Pong> {
    Json(Pong { pong: true })
}

/// The API versions and the server's version.
#[derive(Serialize, ToSchema)]
pub(super) struct Version {
    /// Always `["v1"]`.
    #[serde(rename = "api-versions")]
    api_versions: Vec<String>,
    /// The server's version.
    version: String,
}

/// Portus' version answer: [`Version`] with what the program was built from.
#[derive(Serialize, ToSchema)]
pub(super) struct PortusVersion {
    /// Always `["v1"]`.
    #[serde(rename = "api-versions")]
    api_versions: Vec<String>,
    /// The build's git tag, or branch and commit; null when the build did not say.
    git: Option<Git>,
    /// The server's version.
    version: String,
}

/// What the program was built from, when the build said (`PORTUS_GIT_TAG`, or
/// `PORTUS_GIT_BRANCH` and `PORTUS_GIT_COMMIT`).
#[derive(Serialize, ToSchema)]
pub(super) struct Git {
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
}

/// API and server version.
#[utoipa::path(get, path = "/api/v1/version", responses((status = 200, body = Version)))]
pub(super) async fn version() -> Json<Version> {
    Json(Version {
        api_versions: vec!["v1".to_owned()],
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// API versions, build and server version (Portus' path; signed-in users).
///
/// `git` is null unless the build set `PORTUS_GIT_TAG` or `PORTUS_GIT_COMMIT`.
#[utoipa::path(
    get,
    path = "/api/version",
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = PortusVersion))
)]
pub(super) async fn api_version(caller: ApiCaller) -> Result<Json<PortusVersion>, ApiError> {
    caller.user()?;
    let git = match (option_env!("PORTUS_GIT_TAG"), option_env!("PORTUS_GIT_COMMIT")) {
        (Some(tag), _) => Some(Git {
            tag: Some(tag.to_owned()),
            branch: None,
            commit: None,
        }),
        (None, Some(commit)) => Some(Git {
            tag: None,
            branch: option_env!("PORTUS_GIT_BRANCH").map(str::to_owned),
            commit: Some(commit.to_owned()),
        }),
        (None, None) => None,
    };
    Ok(Json(PortusVersion {
        api_versions: vec!["v1".to_owned()],
        git,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }))
}

/// One component's health.
#[derive(Serialize, ToSchema)]
pub(super) struct Component {
    success: bool,
    /// `ok` (or, for `ldap_sync`, what the last pass did), or what is wrong (never a secret).
    msg: String,
}

fn component(result: Result<(), String>) -> Component {
    match result {
        Ok(()) => Component {
            success: true,
            msg: "ok".into(),
        },
        Err(msg) => Component { success: false, msg },
    }
}

/// Health of the store, the registry and every scanner.
///
/// 200 when every component answers, 503 (same body) otherwise. No authentication, so load
/// balancers can use it. Components: `database`, `registry` (when configured),
/// `scanner:<name>` per scanner (failed when it does not answer or has no vulnerability data
/// yet; its message says when its data was last updated, when the scanner tells), `scanning`,
/// failed, when scanners are configured but
/// `registry.url` is not (nothing can be scanned), and with LDAP `ldap` (the directory answers
/// the service bind) and, when group sync is on, `ldap_sync` (the last pass: its time and
/// counts, or why it failed).
#[utoipa::path(
    get,
    path = "/api/v1/health",
    responses(
        (status = 200, description = "every component is healthy", body = BTreeMap<String, Component>),
        (status = 503, description = "a component is down", body = BTreeMap<String, Component>),
    )
)]
pub(super) async fn health(State(state): State<AppState>) -> Response {
    let mut components = BTreeMap::new();
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
        // The message says how old the scanner's vulnerability data is, when it says.
        let entry = match result {
            Ok(msg) => Component { success: true, msg },
            Err(msg) => Component { success: false, msg },
        };
        components.insert(format!("scanner:{name}"), entry);
    }
    for check in &state.health_checks {
        for (name, result) in check.check().await {
            let entry = match result {
                Ok(msg) => Component { success: true, msg },
                Err(msg) => Component { success: false, msg },
            };
            components.insert(name, entry);
        }
    }
    if state.scanner.is_enabled() && state.registry.is_none() {
        // Scanners read images from the registry: without its address nothing is scanned.
        let missing =
            Err("security scanners are configured but registry.url is not set: nothing can be scanned".into());
        components.insert("scanning".into(), component(missing));
    }
    let healthy = components.values().all(|c| c.success);
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(components)).into_response()
}

/// The registry portus guards.
#[derive(Serialize, ToSchema)]
pub(super) struct Registry {
    /// The token service name (`token.service`).
    service: String,
    /// Whether `registry.url` is set.
    configured: bool,
    /// Whether it answered its catalog; null when not configured.
    reachable: Option<bool>,
    /// The host (and port) users pull from (`registry.external_hostname`, else the host of
    /// `registry.url`); null when neither is set.
    external_hostname: Option<String>,
}

/// The registry portus guards (administrators).
#[utoipa::path(
    get,
    path = "/api/v1/registries",
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<Registry>), Forbidden)
)]
pub(super) async fn registries(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<Vec<Registry>>, ApiError> {
    caller.user()?;
    if !caller.caller.is_admin() {
        return Err(forbidden("only administrators see registry settings"));
    }
    let reachable = match &state.registry {
        Some(registry) => Some(registry.catalog().await.is_ok()),
        None => None,
    };
    Ok(Json(vec![Registry {
        service: state.tokens.service().to_owned(),
        configured: state.registry.is_some(),
        reachable,
        external_hostname: state.external_hostname.clone(),
    }]))
}

/// Query of `GET /api/v1/activities`: filters, then the list parameters of every list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ActivityQuery {
    /// Only this user's activities (administrators; others may name only themselves).
    actor: Option<String>,
    /// Only activities on this namespace's repositories.
    namespace: Option<String>,
    /// An action (`tag.push`) or a prefix ending in `.` (`tag.`).
    action: Option<String>,
    /// Only activities at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only activities before this time (RFC 3339, exclusive); not before `since` (422).
    until: Option<DateTime<Utc>>,
    /// An export of the whole range instead of a page, oldest first: `csv` (a file with a
    /// header row id,time,actor,action,target,details; cells a spreadsheet would read as a
    /// formula get a leading `'`) or `json` (an array, `link` null). At most 100000 activities
    /// (422 beyond: narrow the range); it takes no paging or sorting parameters (422).
    #[param(inline)]
    format: Option<super::activity_export::ExportFormat>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    page: Option<i32>,
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
    /// Every item on one page.
    #[serde(default)]
    all: bool,
    /// A field of the items to order by; an unknown one keeps the default order.
    sort_attr: Option<String>,
    /// `asc` or `desc`.
    #[param(inline)]
    sort_order: Option<SortOrder>,
}

impl ActivityQuery {
    /// The list's path with its filters: what the links of the pagination headers point to.
    fn path(&self) -> String {
        let mut filters = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("actor", self.actor.clone()),
            ("namespace", self.namespace.clone()),
            ("action", self.action.clone()),
            ("since", self.since.map(|s| s.to_rfc3339())),
            ("until", self.until.map(|s| s.to_rfc3339())),
        ] {
            if let Some(value) = value {
                filters.append_pair(key, &value);
            }
        }
        match filters.finish() {
            filters if filters.is_empty() => "/api/v1/activities".to_owned(),
            filters => format!("/api/v1/activities?{filters}"),
        }
    }
}

/// One entry of the activity log.
#[derive(Serialize, ToSchema)]
pub(super) struct ActivityView {
    /// Store identifier, increasing with time.
    id: i64,
    /// When it happened.
    at: DateTime<Utc>,
    /// Who did it (null: the system).
    actor: Option<String>,
    /// What was done (`tag.push`, `team.create`, ...).
    action: String,
    /// What it was done to (`namespace/repository:tag`, a team's name, ...).
    target: String,
    /// More about it.
    details: Option<String>,
    /// The object `target` names, when it still exists and the caller may see it (null for a
    /// deleted object and for one the caller may not see alike).
    link: Option<super::activity_links::ActivityLink>,
}

impl From<Activity> for ActivityView {
    fn from(a: Activity) -> Self {
        ActivityView {
            id: a.id,
            at: a.at,
            actor: a.actor,
            action: a.action,
            target: a.target,
            details: a.details,
            link: None,
        }
    }
}

impl SortKey for ActivitySort {
    fn from_attr(attr: &str) -> Option<Self> {
        match attr {
            "id" => Some(ActivitySort::Id),
            "at" => Some(ActivitySort::At),
            "action" => Some(ActivitySort::Action),
            _ => None,
        }
    }
}

/// Activity log, newest first: administrators see everything; others (Portus' dashboard) their
/// own activities and those of their teams, their teams' namespaces and the repositories and
/// tags in them, nothing of other namespaces.
///
/// `sort_attr`: `id` (oldest first), `at` or `action`; without it, newest first. With `format`,
/// the whole range as a file (`Content-Disposition: attachment`) instead of a page.
#[utoipa::path(
    get,
    path = "/api/v1/activities",
    params(ActivityQuery),
    security(("bearer" = []), ("portusAuth" = [])),
    responses(
        (status = 200, content((Vec<ActivityView> = "application/json"), (String = "text/csv"))),
        Unprocessable
    )
)]
pub(super) async fn activities(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<ActivityQuery>,
) -> Result<Response, ApiError> {
    // Anonymous callers get 401 before anything else.
    caller.user()?;
    let path = query.path();
    if let (Some(since), Some(until)) = (query.since, query.until)
        && since > until
    {
        return Err(unprocessable("since is after until"));
    }
    // Anyone may narrow by actor: the scope keeps what the caller may see of anyone's.
    let scope = super::activity_export::scope(&state, &caller).await?;
    let filter = ActivityFilter {
        actor: query.actor,
        action: query.action,
        target_prefix: query.namespace.map(|n| format!("{n}/")),
        since: query.since,
        until: query.until,
        scope,
        limit: 0,
    };
    if let Some(format) = query.format {
        if query.page.is_some()
            || query.per_page.is_some()
            || query.all
            || query.sort_attr.is_some()
            || query.sort_order.is_some()
        {
            return Err(unprocessable(
                "an export is the whole range, oldest first: it takes no page, per_page, all, sort_attr or sort_order",
            ));
        }
        return super::activity_export::export(&state, filter, format).await;
    }
    let page = super::Page {
        page: query.page,
        per_page: query.per_page,
        all: query.all,
        sort_attr: query.sort_attr,
        sort_order: query.sort_order,
    };
    let activities = state
        .store
        .activities_page(&filter, &page.query::<ActivitySort>()?)
        .await?;
    let mut links = super::activity_links::Links::default();
    let mut items = Vec::with_capacity(activities.items.len());
    for activity in activities.items {
        let link = links.link(&state, &caller, &activity.action, &activity.target).await?;
        items.push(ActivityView {
            link,
            ..ActivityView::from(activity)
        });
    }
    let activities = portus_core::model::ListPage {
        items,
        total: activities.total,
    };
    page.respond_page(&path, activities)
}

/// A 422 answer: a rule the schema cannot express refuses the request.
fn unprocessable(message: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "INVALID_REQUEST",
        message: message.to_owned(),
        basic_challenge: false,
    }
}
