//! The activity log's export (`GET /api/v1/activities?format=csv|json`) and what a caller may
//! see of the log at all.
//!
//! An export is the whole time range the caller may see, oldest first, read from the store in
//! batches of [`BATCH`] and never more than [`EXPORT_CAP`] rows: a longer range is refused (422)
//! before anything is read, asking for a narrower one. The answer is built in memory, so its size
//! is bounded by the cap.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portus_core::model::{
    Activity, ActivityFilter, ActivityScope, ActivitySort, ListQuery, NamespaceFilter, NamespaceSort, VisibleNamespaces,
};
use portus_core::permissions;
use serde::Deserialize;
use utoipa::ToSchema;

use super::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// The most rows one export holds.
pub(super) const EXPORT_CAP: u64 = 100_000;

/// Rows read from the store at a time.
const BATCH: u64 = 1_000;

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

/// The whole range `filter` admits, oldest first, as `format`; 422 beyond [`EXPORT_CAP`] rows.
pub(super) async fn export(
    state: &AppState,
    filter: ActivityFilter,
    format: ExportFormat,
) -> Result<Response, ApiError> {
    // A fixed end, so activities recorded while the export runs do not slip in.
    let filter = ActivityFilter {
        until: Some(filter.until.unwrap_or_else(portus_core::model::now)),
        ..filter
    };
    let first = state
        .store
        .activities_page(&filter, &ListQuery::page(ActivitySort::Id, 0, BATCH))
        .await?;
    if first.total > EXPORT_CAP {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "INVALID_REQUEST",
            message: format!(
                "{} activities in this range, an export holds at most {EXPORT_CAP}: narrow it with since and until",
                first.total
            ),
            basic_challenge: false,
        });
    }
    let total = first.total;
    let mut rows: Vec<Activity> = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut batch = first.items;
    loop {
        let read = batch.len() as u64;
        rows.extend(batch);
        // Oldest first by id: appended activities do not shift earlier batches; and never more
        // than counted, so the cap holds.
        if read < BATCH || rows.len() as u64 >= total {
            break;
        }
        batch = state
            .store
            .activities_page(&filter, &ListQuery::page(ActivitySort::Id, rows.len() as u64, BATCH))
            .await?
            .items;
    }
    rows.truncate(usize::try_from(total).unwrap_or(usize::MAX));
    let (body, content_type, file) = match format {
        ExportFormat::Csv => (csv(&rows), "text/csv; charset=utf-8", "activities.csv"),
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

/// The rows as CSV (RFC 4180, CRLF line ends) under a header row.
pub(crate) fn csv(rows: &[Activity]) -> String {
    let mut out = String::from("id,time,actor,action,target,details\r\n");
    for a in rows {
        let time = a.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let cells = [
            a.id.to_string(),
            time,
            a.actor.clone().unwrap_or_default(),
            a.action.clone(),
            a.target.clone(),
            a.details.clone().unwrap_or_default(),
        ];
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&cell_text(cell));
        }
        out.push_str("\r\n");
    }
    out
}

/// One cell: a leading `'` before text a spreadsheet would take for a formula (`=`, `+`, `-`,
/// `@`, tab, CR: names and details come from users and registries), then quoted when it holds
/// a comma, a quote or a line break, quotes doubled.
fn cell_text(cell: &str) -> String {
    let guarded = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell_text("alice/app:1.0"), "alice/app:1.0");
        assert_eq!(cell_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for formula in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(
                cell_text(formula).trim_start_matches('"').starts_with('\''),
                "{formula}"
            );
        }
        assert_eq!(cell_text("a,b"), "\"a,b\"");
        assert_eq!(cell_text("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell_text(""), "");
    }
}
