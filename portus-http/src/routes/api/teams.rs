//! Teams and their members.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use portus_core::model::{Role, Team, TeamId, TeamMember, TeamUpdate, UserId};
use portus_core::{ops, permissions};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiCaller, JsonBody, PageQuery, check, created, forbidden, no_content, not_found, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

fn view(team: &Team, role: Option<Role>) -> Value {
    json!({
        "id": team.id,
        "name": team.name,
        "description": team.description,
        "hidden": team.hidden,
        "role": role,
    })
}

fn member_view(member: &TeamMember) -> Value {
    json!({"user_id": member.user_id, "username": member.username, "role": member.role})
}

/// A team the caller may see.
async fn load(state: &AppState, caller: &ApiCaller, raw: &str) -> Result<Team, ApiError> {
    caller.user()?;
    let id = TeamId(parse_id(raw, "team")?);
    let team = state.store.team_by_id(id).await?.ok_or_else(|| not_found("team"))?;
    check(
        permissions::view_team(caller.caller, &team, caller.role(Some(team.id))),
        "team",
    )?;
    Ok(team)
}

/// `GET /api/v1/teams`.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: PageQuery,
) -> Result<Response, ApiError> {
    caller.user()?;
    let teams: Vec<Value> = state
        .store
        .list_teams()
        .await?
        .iter()
        .filter(|t| !t.hidden)
        .filter(|t| permissions::view_team(caller.caller, t, caller.role(Some(t.id))) == permissions::Permission::Allow)
        .map(|t| view(t, caller.role(Some(t.id))))
        .collect();
    page.0.respond("/api/v1/teams", teams)
}

/// Body of `POST /api/v1/teams`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTeamBody {
    name: String,
    description: Option<String>,
    owner_id: Option<UserId>,
}

super::request_bodies! {
    NewTeamBody => Some("team");
    UpdateTeamBody => Some("team");
    NewMemberBody => None;
    MemberRoleBody => None;
}

/// `POST /api/v1/teams`.
pub(super) async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    JsonBody(body): JsonBody<NewTeamBody>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    check(permissions::create_team(caller.caller, &state.policy), "team")?;
    let owner = match body.owner_id {
        Some(owner) if owner != user.id && !caller.caller.is_admin() => {
            return Err(forbidden("only administrators create teams for someone else"));
        }
        Some(owner) => owner,
        None => user.id,
    };
    let store = state.store.as_ref();
    let Some(owner_user) = store.user_by_id(owner).await? else {
        return Err(not_found("user"));
    };
    let team = ops::teams::create(store, caller.actor(), &body.name, &owner_user, body.description).await?;
    Ok(created(view(&team, (owner == user.id).then_some(Role::Owner))))
}

/// `GET /api/v1/teams/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let team = load(&state, &caller, &id).await?;
    Ok(Json(view(&team, caller.role(Some(team.id)))))
}

/// Body of `PUT /api/v1/teams/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateTeamBody {
    name: Option<String>,
    description: Option<String>,
}

/// `PUT /api/v1/teams/{id}`.
pub(super) async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateTeamBody>,
) -> Result<Json<Value>, ApiError> {
    let team = load(&state, &caller, &id).await?;
    let role = caller.role(Some(team.id));
    check(
        permissions::edit_team(caller.caller, &team, role, &state.policy),
        "team",
    )?;
    let update = TeamUpdate {
        name: body.name,
        description: body.description.map(Some),
    };
    let updated = ops::teams::update(state.store.as_ref(), caller.actor(), &team, update).await?;
    Ok(Json(view(&updated, role)))
}

/// `GET /api/v1/teams/{id}/members`.
pub(super) async fn members(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let team = load(&state, &caller, &id).await?;
    let members = state.store.team_members(team.id).await?;
    page.0.respond_all(members.iter().map(member_view).collect())
}

/// Body of `POST /api/v1/teams/{id}/members`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewMemberBody {
    user: String,
    role: Role,
}

/// Loads a team whose members the caller may manage.
async fn managed(state: &AppState, caller: &ApiCaller, raw: &str) -> Result<Team, ApiError> {
    let team = load(state, caller, raw).await?;
    check(
        permissions::manage_members(caller.caller, &team, caller.role(Some(team.id))),
        "team",
    )?;
    Ok(team)
}

/// `POST /api/v1/teams/{id}/members`: administrators always join as owners.
pub(super) async fn add_member(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewMemberBody>,
) -> Result<Response, ApiError> {
    let team = managed(&state, &caller, &id).await?;
    let store = state.store.as_ref();
    let user = store.user_by_name(&body.user).await?.ok_or_else(|| not_found("user"))?;
    let role = ops::teams::add_member(store, caller.actor(), &team, &user, body.role).await?;
    Ok(created(
        json!({"user_id": user.id, "username": user.username, "role": role}),
    ))
}

/// Body of `PUT /api/v1/teams/{id}/members/{user_id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MemberRoleBody {
    role: Role,
}

/// The user id of a member in a path.
fn member_id(raw: &str) -> Result<UserId, ApiError> {
    Ok(UserId(parse_id(raw, "team member")?))
}

/// A user who is not a member answers like a missing object.
fn hide_missing_member(error: portus_core::Error) -> ApiError {
    match error.kind() {
        portus_core::ErrorKind::NotFound => not_found("team member"),
        _ => error.into(),
    }
}

/// `PUT /api/v1/teams/{id}/members/{user_id}`: administrators cannot be demoted, and the last
/// owner cannot be either.
pub(super) async fn change_member(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<MemberRoleBody>,
) -> Result<Json<Value>, ApiError> {
    let team = managed(&state, &caller, &id).await?;
    let store = state.store.as_ref();
    let member = ops::teams::change_role(store, caller.actor(), &team, member_id(&user_id)?, body.role)
        .await
        .map_err(hide_missing_member)?;
    Ok(Json(
        json!({"user_id": member.user_id, "username": member.username, "role": member.role}),
    ))
}

/// `DELETE /api/v1/teams/{id}/members/{user_id}`: the last owner stays.
pub(super) async fn remove_member(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let team = managed(&state, &caller, &id).await?;
    ops::teams::remove_member(state.store.as_ref(), caller.actor(), &team, member_id(&user_id)?)
        .await
        .map_err(hide_missing_member)?;
    Ok(no_content())
}

/// `GET /api/v1/teams/{id}/namespaces`.
pub(super) async fn namespaces(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let team = load(&state, &caller, &id).await?;
    let counts = super::namespaces::repository_counts(&state).await?;
    let namespaces: Vec<Value> = state
        .store
        .list_namespaces()
        .await?
        .iter()
        .filter(|n| n.team_id == Some(team.id) && caller.namespace_view(n, &state).visible)
        .map(|n| super::namespaces::view(n, &caller, &state, &counts))
        .collect();
    page.0.respond_all(namespaces)
}
