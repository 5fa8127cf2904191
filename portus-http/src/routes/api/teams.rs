//! Teams and their members.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use portus_core::model::{
    ListPage, ListQuery, MemberSort, NamespaceFilter, NamespaceSort, Team, TeamId, TeamMember, TeamSort, TeamUpdate,
    UserId, VisibleNamespaces,
};
use portus_core::policy::Action;
use portus_core::{ops, permissions};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::lists::SortKey;
use super::namespaces::NamespaceView;
use super::schema::{Conflict, Forbidden, NotFound, Role, Unprocessable};
use super::{
    ApiCaller, JsonBody, OptionalJsonBody, PageQuery, check, created, forbidden, no_content, not_found, parse_id,
};
use crate::error::ApiError;
use crate::state::AppState;

/// A team, with the caller's role in it.
#[derive(Serialize, ToSchema)]
pub(super) struct TeamView {
    id: i64,
    name: String,
    description: Option<String>,
    /// A user's personal team (administrators only see these).
    hidden: bool,
    /// The caller's role; null when not a member.
    role: Option<Role>,
}

impl TeamView {
    fn of(team: &Team, role: Option<portus_core::model::Role>) -> Self {
        TeamView {
            id: team.id.0,
            name: team.name.clone(),
            description: team.description.clone(),
            hidden: team.hidden,
            role: role.map(Role::from),
        }
    }
}

/// A member of a team.
#[derive(Serialize, ToSchema)]
pub(super) struct MemberView {
    user_id: i64,
    username: String,
    role: Role,
}

impl MemberView {
    fn of(member: &TeamMember) -> Self {
        MemberView {
            user_id: member.user_id.0,
            username: member.username.clone(),
            role: member.role.into(),
        }
    }
}

impl SortKey for TeamSort {
    fn from_attr(attr: &str) -> Option<Self> {
        match attr {
            "name" => Some(TeamSort::Name),
            "id" => Some(TeamSort::Id),
            _ => None,
        }
    }
}

impl SortKey for MemberSort {
    fn from_attr(attr: &str) -> Option<Self> {
        match attr {
            "username" => Some(MemberSort::Username),
            "user_id" => Some(MemberSort::UserId),
            "role" => Some(MemberSort::Role),
            _ => None,
        }
    }
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

/// Teams the caller belongs to (all for administrators).
///
/// `sort_attr`: `name` (the default) or `id`.
#[utoipa::path(
    get,
    path = "/api/v1/teams",
    params(super::Page),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<TeamView>))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: PageQuery,
) -> Result<Response, ApiError> {
    caller.user()?;
    let query = page.0.query::<TeamSort>()?;
    let teams = match permissions::listed_teams(caller.caller) {
        Some(filter) => state.store.teams_page(&filter, &query).await?,
        None => ListPage {
            items: Vec::new(),
            total: 0,
        },
    };
    page.0.respond_page(
        "/api/v1/teams",
        teams.map(|t| TeamView::of(&t, caller.role(Some(t.id)))),
    )
}

/// Body of `POST /api/v1/teams`, bare or as Portus wraps it (`{"team": {...}}`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTeamBody {
    /// 1 to 255 characters, no control characters, no white space around.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
    )]
    name: String,
    description: Option<String>,
    /// Who owns it (administrators may name anyone; others only themselves).
    #[serde(default, deserialize_with = "integral")]
    owner_id: Option<i64>,
}

/// An optional integer as JSON Schema counts them: `2.0` is the integer 2 (serde's `i64`
/// refuses it), `2.5` is no integer.
fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    // -2^63 and 2^63 are exact in f64; i64 holds [-2^63, 2^63).
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let value = number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f))
            .map(|f| f as i64)
    });
    value
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{number} is not an integer user id")))
}

/// Body of `PUT /api/v1/teams/{id}`, bare or wrapped; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateTeamBody {
    /// A new name, as for creation.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
    )]
    name: Option<String>,
    description: Option<String>,
}

/// Body of `POST /api/v1/teams/{id}/members`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewMemberBody {
    /// The user's name.
    #[schema(example = "user05")]
    user: String,
    /// Administrators always join as owners.
    role: Role,
}

/// Body of `PUT /api/v1/teams/{id}/members/{user_id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MemberRoleBody {
    role: Role,
}

super::request_bodies! {
    NewTeamBody => Some("team");
    UpdateTeamBody => Some("team");
    NewMemberBody => None;
    MemberRoleBody => None;
}

/// Create a team; the caller (or `owner_id`, administrators) owns it.
///
/// The body may be wrapped as Portus sends it: `{"team": {...}}`. `owner_id` naming a missing
/// user answers 404.
#[utoipa::path(
    post,
    path = "/api/v1/teams",
    request_body = NewTeamBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses(
        (status = 201, body = TeamView),
        NotFound,
        Forbidden,
        Conflict
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    JsonBody(body): JsonBody<NewTeamBody>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    check(permissions::create_team(caller.caller, &state.policy), "team")?;
    let owner = match body.owner_id.map(UserId) {
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
    let role = (owner == user.id).then_some(portus_core::model::Role::Owner);
    Ok(created(TeamView::of(&team, role)))
}

/// Show a team (members and administrators).
#[utoipa::path(
    get,
    path = "/api/v1/teams/{id}",
    params(("id" = i64, Path, description = "Team id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = TeamView))
)]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<TeamView>, ApiError> {
    let team = load(&state, &caller, &id).await?;
    Ok(Json(TeamView::of(&team, caller.role(Some(team.id)))))
}

/// Rename or describe a team (owners unless `manage_team` is off, administrators).
///
/// The body may be wrapped: `{"team": {...}}`. Personal teams are not changed (422).
#[utoipa::path(
    put,
    path = "/api/v1/teams/{id}",
    params(("id" = i64, Path, description = "Team id")),
    request_body = UpdateTeamBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = TeamView), Forbidden, Conflict, Unprocessable)
)]
pub(super) async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateTeamBody>,
) -> Result<Json<TeamView>, ApiError> {
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
    Ok(Json(TeamView::of(&updated, role)))
}

/// Where a team's namespaces go when it is deleted (Portus' `new_team`, in the query or in a
/// JSON body).
#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteTeam {
    /// The name of a team that takes the namespaces over (one the caller owns; administrators:
    /// any). Without it the namespaces are deleted with their images.
    new_team: Option<String>,
}

super::request_bodies! {
    DeleteTeam => None;
}

/// Delete a team (owners unless `manage_team` is off, administrators).
///
/// With `new_team` its namespaces are handed to that team (one activity); without, they are
/// deleted with their images (the registry's delete right is needed on those holding images;
/// without `registry.url` only empty ones can go: 422). A `new_team` the caller may not see
/// answers like a missing one (404); personal teams go only with their user (422).
#[utoipa::path(
    delete,
    path = "/api/v1/teams/{id}",
    params(("id" = i64, Path, description = "Team id"), DeleteTeam),
    request_body = Option<DeleteTeam>,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204, description = "deleted"), Forbidden, Unprocessable)
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    Query(query): Query<DeleteTeam>,
    OptionalJsonBody(body): OptionalJsonBody<DeleteTeam>,
) -> Result<Response, ApiError> {
    let team = load(&state, &caller, &id).await?;
    check(
        permissions::delete_team(caller.caller, &team, caller.role(Some(team.id)), &state.policy),
        "team",
    )?;
    let store = state.store.as_ref();
    let heir = match body.and_then(|b| b.new_team).or(query.new_team) {
        None => None,
        Some(name) => {
            // A team the caller may not see answers exactly like a missing one.
            let heir = store
                .team_by_name(&name)
                .await?
                .filter(|t| {
                    !t.hidden
                        && permissions::view_team(caller.caller, t, caller.role(Some(t.id)))
                            == permissions::Permission::Allow
                })
                .ok_or_else(|| not_found("team"))?;
            if !caller.caller.is_admin() && caller.role(Some(heir.id)) != Some(portus_core::model::Role::Owner) {
                return Err(forbidden("you can only hand namespaces to a team you own"));
            }
            Some(heir)
        }
    };
    // The team's namespaces are deleted or handed over with it: the caller needs the right to
    // do either to each of them (`manage_namespace`), not only to edit the team.
    let owned = NamespaceFilter {
        visible: VisibleNamespaces::All,
        team: Some(team.id),
        name_contains: None,
    };
    let namespaces = store
        .namespaces_page(&owned, &ListQuery::all(NamespaceSort::Name))
        .await?
        .items;
    for namespace in &namespaces {
        let view = caller.namespace_view(namespace, &state);
        check(
            permissions::delete_namespace(caller.caller, &view, &state.policy),
            "namespace",
        )?;
    }
    if heir.is_none() {
        // The namespaces go with their images: the caller needs the right to delete those.
        let ids: Vec<_> = namespaces.iter().map(|n| n.id).collect();
        let holding = super::namespaces::repository_counts(&state, &ids).await?;
        for namespace in &namespaces {
            if holding.contains_key(&namespace.id) && !caller.may(namespace, Action::Delete, &state) {
                return Err(forbidden(format!(
                    "you may not delete the images of namespace {}",
                    namespace.name
                )));
            }
        }
    }
    ops::teams::delete(store, state.registry.as_deref(), caller.actor(), &team, heir.as_ref()).await?;
    Ok(no_content())
}

/// Members of a team and their roles.
///
/// `sort_attr`: `username` (the default), `user_id` or `role`.
#[utoipa::path(
    get,
    path = "/api/v1/teams/{id}/members",
    params(("id" = i64, Path, description = "Team id"), super::Page),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<MemberView>))
)]
pub(super) async fn members(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let team = load(&state, &caller, &id).await?;
    let query = page.0.query::<MemberSort>()?;
    let members = state.store.team_members_page(team.id, &query).await?;
    page.0.respond_page(
        &format!("/api/v1/teams/{}/members", team.id),
        members.map(|m| MemberView::of(&m)),
    )
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

/// Add a member (owners and administrators); administrators always join as owners.
///
/// A missing user answers 404; a member already there 409.
#[utoipa::path(
    post,
    path = "/api/v1/teams/{id}/members",
    params(("id" = i64, Path, description = "Team id")),
    request_body = NewMemberBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 201, body = MemberView), Forbidden, Conflict, Unprocessable)
)]
pub(super) async fn add_member(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewMemberBody>,
) -> Result<Response, ApiError> {
    let team = managed(&state, &caller, &id).await?;
    let store = state.store.as_ref();
    let user = store.user_by_name(&body.user).await?.ok_or_else(|| not_found("user"))?;
    let role = ops::teams::add_member(store, caller.actor(), &team, &user, body.role.into()).await?;
    Ok(created(MemberView {
        user_id: user.id.0,
        username: user.username,
        role: role.into(),
    }))
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

/// Change a member's role (owners and administrators).
///
/// Administrators cannot be demoted, and the last owner cannot either (422).
#[utoipa::path(
    put,
    path = "/api/v1/teams/{id}/members/{user_id}",
    params(
        ("id" = i64, Path, description = "Team id"),
        ("user_id" = i64, Path, description = "The member's user id"),
    ),
    request_body = MemberRoleBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = MemberView), Forbidden, Unprocessable)
)]
pub(super) async fn change_member(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<MemberRoleBody>,
) -> Result<Json<MemberView>, ApiError> {
    let team = managed(&state, &caller, &id).await?;
    let store = state.store.as_ref();
    let member = ops::teams::change_role(store, caller.actor(), &team, member_id(&user_id)?, body.role.into())
        .await
        .map_err(hide_missing_member)?;
    Ok(Json(MemberView::of(&member)))
}

/// Remove a member (owners and administrators); the last owner stays (422).
#[utoipa::path(
    delete,
    path = "/api/v1/teams/{id}/members/{user_id}",
    params(
        ("id" = i64, Path, description = "Team id"),
        ("user_id" = i64, Path, description = "The member's user id"),
    ),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204, description = "removed"), Forbidden, Unprocessable)
)]
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

/// Namespaces owned by the team that the caller may see.
///
/// `sort_attr`: `name` (the default) or `id`.
#[utoipa::path(
    get,
    path = "/api/v1/teams/{id}/namespaces",
    params(("id" = i64, Path, description = "Team id"), super::Page),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<NamespaceView>))
)]
pub(super) async fn namespaces(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let team = load(&state, &caller, &id).await?;
    let filter = NamespaceFilter {
        visible: caller.visible_namespaces(&state),
        team: Some(team.id),
        name_contains: None,
    };
    let namespaces = state
        .store
        .namespaces_page(&filter, &page.0.query::<NamespaceSort>()?)
        .await?;
    page.0.respond_page(
        &format!("/api/v1/teams/{}/namespaces", team.id),
        super::namespaces::views(&state, &caller, namespaces).await?,
    )
}
