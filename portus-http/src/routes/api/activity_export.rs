//! The activity log's export (`GET /api/v1/activities?format=csv|json`) and what a caller may
//! see of the log at all.
//!
//! An export is the whole time range the caller may see, oldest first, read from the store in
//! batches and never more than 100000 rows: a longer range is refused (422) before the rows are
//! read, asking for a narrower one. The answer is built in memory, so its size is bounded by the
//! cap.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use portus_core::model::{ActivityFilter, ActivityScope, ListQuery, NamespaceFilter, NamespaceSort, VisibleNamespaces};
use portus_core::permissions;
use portus_core::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;

use super::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum ExportFormat {
    /// A JSON array of activities (their `link` is null).
    Json,
    /// CSV with a header row: id, time, actor, action, target, details.
    Csv,
}

/// What `caller` may see of the activity log: everything for administrators, else (Portus'
/// dashboard) their own activities and those of their teams, their teams' namespaces and the
/// repositories and tags in them.
pub(super) async fn scope(state: &AppState, caller: &ApiCaller) -> Result<Option<ActivityScope>, ApiError> {
    if permissions::read_all_activities(caller.caller) {
        return Ok(None);
    }
    let user = caller.user()?;
    let mut scope = ActivityScope {
        actor: user.username.clone(),
        ..ActivityScope::default()
    };
    for &team in caller.roles.keys() {
        let Some(found) = state.store.team_by_id(team).await? else {
            continue;
        };
        scope.teams.push(found.name);
        let filter = NamespaceFilter {
            visible: VisibleNamespaces::All,
            team: Some(team),
            name_contains: None,
        };
        let namespaces = state
            .store
            .namespaces_page(&filter, &ListQuery::all(NamespaceSort::default()))
            .await?;
        scope.namespaces.extend(namespaces.items.into_iter().map(|n| n.name));
    }
    Ok(Some(scope))
}

/// The whole range `filter` admits, oldest first, as `format`; 422 beyond
/// [`ACTIVITY_EXPORT_CAP`](portus_core::model::ACTIVITY_EXPORT_CAP) rows.
pub(super) async fn export(
    state: &AppState,
    filter: ActivityFilter,
    format: ExportFormat,
) -> Result<Response, ApiError> {
    let rows = state.store.activities_export(&filter).await?;
    let (body, content_type, file) = match format {
        ExportFormat::Csv => (
            portus_core::model::activities_csv(&rows),
            "text/csv; charset=utf-8",
            "activities.csv",
        ),
        ExportFormat::Json => {
            let views: Vec<super::system::ActivityView> = rows.into_iter().map(Into::into).collect();
            (
                serde_json::to_string(&views).expect("activities serialize"),
                "application/json",
                "activities.json",
            )
        }
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")).expect("a plain file name"),
    );
    Ok(response)
}
