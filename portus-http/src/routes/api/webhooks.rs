//! Outgoing webhooks of namespaces (`/api/v1/namespaces/{id}/webhooks`): Portus' fields plus
//! an event filter, a signing secret (shown once, in the create answer), sealed credentials
//! and headers (never shown again), a delivery log and re-sending. Seeing them: administrators
//! and the namespace's team; creating and deleting: owners unless `create_webhook` is off;
//! changing, toggling, re-sending: owners unless `manage_webhook` is off.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use portus_core::model::{Delivery, DeliveryId, Namespace, Webhook, WebhookId};
use portus_core::prelude::*;
use portus_core::{ops, permissions};
use portus_scan::webhooks::WebhookChanges;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::lists::SortKey;
use super::schema::{Conflict, Forbidden, Unprocessable};
use super::{ApiCaller, JsonBody, PageQuery, check, created, no_content, not_found, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

/// The page size of both lists when `per_page` is not given: what they answered before they
/// were paged (every webhook; the latest 100 deliveries), so callers that never page see no
/// change.
const DEFAULT_PER_PAGE: usize = super::lists::MAX_PER_PAGE;

/// `page` with this module's default page size.
fn paged(page: PageQuery) -> super::Page {
    let mut page = page.0;
    page.per_page.get_or_insert(DEFAULT_PER_PAGE);
    page
}

/// The orders of a namespace's webhooks (`sort_attr`): `id` (the default), `name`,
/// `created_at`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum WebhookSort {
    #[default]
    Id,
    Name,
    CreatedAt,
}

impl SortKey for WebhookSort {
    fn from_attr(attr: &str) -> Option<Self> {
        Some(match attr {
            "id" => WebhookSort::Id,
            "name" => WebhookSort::Name,
            "created_at" => WebhookSort::CreatedAt,
            _ => return None,
        })
    }
}

/// The delivery log's one order: newest first.
#[derive(Debug, Clone, Copy, Default)]
struct NewestFirst;

impl SortKey for NewestFirst {
    fn from_attr(_: &str) -> Option<Self> {
        None
    }
}

/// A webhook as the API shows it: never its secret, credentials or header values.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookView {
    id: i64,
    namespace_id: i64,
    name: String,
    url: String,
    /// `GET` or `POST`.
    method: String,
    /// `application/json` or `application/x-www-form-urlencoded`.
    content_type: String,
    /// Of `push`, `delete`, `scan_completed`, `scan_failed`, `vulnerability_found`.
    events: Vec<String>,
    /// The least severity `vulnerability_found` reports.
    min_severity: String,
    enabled: bool,
    /// The names of the custom headers (their values are not shown).
    headers: Vec<String>,
    /// Whether HTTP Basic credentials are sent (they are not shown).
    has_credentials: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The signing secret of `X-Portus-Signature-256`: in the create answer only, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

fn view(webhook: &Webhook, secret: Option<String>) -> WebhookView {
    let settings = &webhook.settings;
    WebhookView {
        id: webhook.id.0,
        namespace_id: webhook.namespace_id.0,
        name: settings.name.clone(),
        url: settings.url.clone(),
        method: settings.method.to_string(),
        content_type: settings.content_type.to_string(),
        events: settings.events.iter().map(|e| e.to_string()).collect(),
        min_severity: portus_scan::webhooks::severity_name(settings.min_severity),
        enabled: settings.enabled,
        headers: settings.header_names.clone(),
        has_credentials: settings.has_credentials,
        created_at: webhook.created_at,
        updated_at: webhook.updated_at,
        secret,
    }
}

/// One attempt at a delivery.
#[derive(Serialize, ToSchema)]
pub(crate) struct AttemptView {
    at: Option<DateTime<Utc>>,
    /// The receiver's status; null when none came.
    status: Option<u16>,
    duration_ms: u64,
    /// The request headers (credentials and custom header values hidden).
    request_headers: String,
    response_headers: String,
    /// The start of the response body (4 KiB).
    response_body: String,
    /// Why no answer came.
    error: Option<String>,
}

/// A delivery: the event, the body sent, where it stands and its last attempt.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    id: i64,
    webhook_id: i64,
    event: String,
    /// The registry event id (re-sends add `#resend-…`).
    event_key: String,
    /// `pending`, `delivered` or `failed` (given up).
    state: String,
    attempts: u32,
    created_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    /// The JSON envelope sent.
    body: String,
    last_attempt: Option<AttemptView>,
}

fn delivery_view(delivery: Delivery) -> DeliveryView {
    DeliveryView {
        id: delivery.id.0,
        webhook_id: delivery.webhook_id.0,
        event: delivery.event.to_string(),
        event_key: delivery.event_key,
        state: delivery.state.to_string(),
        attempts: delivery.attempts,
        created_at: delivery.created_at,
        next_attempt_at: delivery.next_attempt_at,
        body: delivery.body,
        last_attempt: delivery.last_attempt.map(|a| AttemptView {
            at: a.at,
            status: a.status,
            duration_ms: a.duration_ms,
            request_headers: a.request_headers,
            response_headers: a.response_headers,
            response_body: a.response_body,
            error: a.error,
        }),
    }
}

/// A new webhook.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhookBody {
    name: String,
    /// `http://` or `https://`; internal addresses are refused unless
    /// `webhooks.allow_private_targets`.
    url: String,
    /// `GET` or `POST` (the default).
    method: Option<String>,
    /// `json` (the default) or `form` (or their MIME types).
    content_type: Option<String>,
    /// The events to deliver (default: `push`).
    events: Option<Vec<String>>,
    /// For `vulnerability_found`: `negligible`, `low`, `medium`, `high` (the default), `critical`.
    min_severity: Option<String>,
    /// Default true.
    enabled: Option<bool>,
    /// HTTP Basic user name.
    username: Option<String>,
    /// HTTP Basic password.
    password: Option<String>,
    /// Custom headers.
    headers: Option<BTreeMap<String, String>>,
}

/// Changes to a webhook; absent fields stay. `headers` replaces all custom headers; an empty
/// `username` removes the credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateWebhookBody {
    name: Option<String>,
    url: Option<String>,
    method: Option<String>,
    content_type: Option<String>,
    events: Option<Vec<String>>,
    min_severity: Option<String>,
    enabled: Option<bool>,
    username: Option<String>,
    password: Option<String>,
    headers: Option<BTreeMap<String, String>>,
}

super::request_bodies! {
    NewWebhookBody => Some("webhook");
    UpdateWebhookBody => Some("webhook");
}

/// The namespace, if the caller may see it, and whether they may see its webhooks.
async fn load_namespace(state: &AppState, caller: &ApiCaller, id: &str) -> Result<Namespace, ApiError> {
    // Webhooks are never anyone's without signing in: 401 first, as every such route.
    caller.user()?;
    let namespace = super::namespaces::load(state, caller, id).await?;
    check(
        permissions::view_webhooks(caller.caller, &caller.namespace_view(&namespace, state)),
        "namespace",
    )?;
    Ok(namespace)
}

async fn load(state: &AppState, caller: &ApiCaller, id: &str, webhook: &str) -> Result<(Namespace, Webhook), ApiError> {
    let namespace = load_namespace(state, caller, id).await?;
    let webhook_id = WebhookId(parse_id(webhook, "webhook")?);
    let webhook = state
        .store
        .webhook(webhook_id)
        .await?
        .filter(|w| w.namespace_id == namespace.id)
        .ok_or_else(|| not_found("webhook"))?;
    Ok((namespace, webhook))
}

impl From<NewWebhookBody> for WebhookChanges {
    fn from(body: NewWebhookBody) -> Self {
        WebhookChanges {
            name: Some(body.name),
            url: Some(body.url),
            method: body.method,
            content_type: body.content_type,
            events: body.events,
            min_severity: body.min_severity,
            enabled: body.enabled,
            username: body.username,
            password: body.password,
            headers: body.headers.map(|h| h.into_iter().collect()),
        }
    }
}

impl From<UpdateWebhookBody> for WebhookChanges {
    fn from(body: UpdateWebhookBody) -> Self {
        WebhookChanges {
            name: body.name,
            url: body.url,
            method: body.method,
            content_type: body.content_type,
            events: body.events,
            min_severity: body.min_severity,
            enabled: body.enabled,
            username: body.username,
            password: body.password,
            headers: body.headers.map(|h| h.into_iter().collect()),
        }
    }
}

/// The webhook, when the caller may also change it (`manage_webhook`).
async fn load_managed(
    state: &AppState,
    caller: &ApiCaller,
    id: &str,
    webhook: &str,
) -> Result<(Namespace, Webhook), ApiError> {
    let (namespace, webhook) = load(state, caller, id, webhook).await?;
    check(
        permissions::manage_webhook(caller.caller, &caller.namespace_view(&namespace, state), &state.policy),
        "webhook",
    )?;
    Ok((namespace, webhook))
}

/// `GET /api/v1/namespaces/{id}/webhooks`: administrators and the namespace's team.
///
/// Paged: `page`, `per_page` (default 100 here, so one page holds what the unpaged list
/// held), `all`; `sort_attr` `id` (the default), `name` or `created_at`.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{id}/webhooks",
    params(("id" = i64, Path, description = "Namespace id"), super::Page),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<WebhookView>), Forbidden)
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let page = paged(page);
    let namespace = load_namespace(&state, &caller, &id).await?;
    // A namespace's webhooks are few: read whole, ordered and sliced here.
    let webhooks = state.store.namespace_webhooks(namespace.id).await?;
    let query = page.query::<WebhookSort>()?;
    let listed = query.apply(
        webhooks,
        |w| match query.sort {
            WebhookSort::Id => (None, None),
            WebhookSort::Name => (Some(w.settings.name.clone()), None),
            WebhookSort::CreatedAt => (None, Some(w.created_at)),
        },
        |w| w.id.0,
    );
    page.respond_page(
        &format!("/api/v1/namespaces/{}/webhooks", namespace.id.0),
        listed.map(|w| view(&w, None)),
    )
}

/// `POST /api/v1/namespaces/{id}/webhooks`: the answer carries the signing `secret`, the only
/// time it is shown.
#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{id}/webhooks",
    params(("id" = i64, Path, description = "Namespace id")),
    request_body = NewWebhookBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 201, body = WebhookView), Forbidden, Conflict, Unprocessable)
)]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewWebhookBody>,
) -> Result<Response, ApiError> {
    caller.user()?;
    let namespace = super::namespaces::load(&state, &caller, &id).await?;
    let namespace_view = caller.namespace_view(&namespace, &state);
    check(
        permissions::create_webhook(caller.caller, &namespace_view, &state.policy),
        "namespace",
    )?;
    let (settings, secret) = portus_scan::webhooks::new_webhook_settings(
        body.into(),
        &state.outgoing.sealer,
        state.outgoing.allow_private_targets,
    )
    .await?;
    let webhook = ops::webhooks::create(state.store.as_ref(), caller.actor(), &namespace, settings).await?;
    Ok(created(view(&webhook, Some(secret))))
}

/// `GET /api/v1/namespaces/{id}/webhooks/{webhook_id}`.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{id}/webhooks/{webhook_id}",
    params(("id" = i64, Path, description = "Namespace id"), ("webhook_id" = i64, Path, description = "Webhook id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = WebhookView), Forbidden)
)]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, webhook)): Path<(String, String)>,
) -> Result<Json<WebhookView>, ApiError> {
    let (_, webhook) = load(&state, &caller, &id, &webhook).await?;
    Ok(Json(view(&webhook, None)))
}

/// `PUT /api/v1/namespaces/{id}/webhooks/{webhook_id}`: change, enable or disable.
#[utoipa::path(
    put,
    path = "/api/v1/namespaces/{id}/webhooks/{webhook_id}",
    params(("id" = i64, Path, description = "Namespace id"), ("webhook_id" = i64, Path, description = "Webhook id")),
    request_body = UpdateWebhookBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = WebhookView), Forbidden, Conflict, Unprocessable)
)]
pub(super) async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, webhook)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateWebhookBody>,
) -> Result<Json<WebhookView>, ApiError> {
    let (namespace, webhook) = load_managed(&state, &caller, &id, &webhook).await?;
    let mut settings = webhook.settings.clone();
    portus_scan::webhooks::change_webhook_settings(
        &mut settings,
        body.into(),
        &state.outgoing.sealer,
        state.outgoing.allow_private_targets,
    )
    .await?;
    let updated = ops::webhooks::update(state.store.as_ref(), caller.actor(), &namespace, &webhook, settings).await?;
    Ok(Json(view(&updated, None)))
}

/// `POST /api/v1/namespaces/{id}/webhooks/{webhook_id}/secret`: a new signing secret, in this
/// answer only; deliveries from now on (re-sends too) are signed with it.
#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{id}/webhooks/{webhook_id}/secret",
    params(("id" = i64, Path, description = "Namespace id"), ("webhook_id" = i64, Path, description = "Webhook id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = WebhookView), Forbidden)
)]
pub(super) async fn rotate_secret(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, webhook)): Path<(String, String)>,
) -> Result<Json<WebhookView>, ApiError> {
    let (namespace, webhook) = load_managed(&state, &caller, &id, &webhook).await?;
    let mut settings = webhook.settings.clone();
    let secret = portus_scan::webhooks::rotate_webhook_secret(&mut settings, &state.outgoing.sealer)?;
    let updated = ops::webhooks::update(state.store.as_ref(), caller.actor(), &namespace, &webhook, settings).await?;
    Ok(Json(view(&updated, Some(secret))))
}

/// `DELETE /api/v1/namespaces/{id}/webhooks/{webhook_id}`: with its deliveries.
#[utoipa::path(
    delete,
    path = "/api/v1/namespaces/{id}/webhooks/{webhook_id}",
    params(("id" = i64, Path, description = "Namespace id"), ("webhook_id" = i64, Path, description = "Webhook id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204), Forbidden)
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, webhook)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (namespace, webhook) = load(&state, &caller, &id, &webhook).await?;
    check(
        permissions::create_webhook(caller.caller, &caller.namespace_view(&namespace, &state), &state.policy),
        "webhook",
    )?;
    ops::webhooks::delete(state.store.as_ref(), caller.actor(), &namespace, &webhook).await?;
    Ok(no_content())
}

/// `GET /api/v1/namespaces/{id}/webhooks/{webhook_id}/deliveries`: the log, newest first.
///
/// Paged: `page`, `per_page` (default 100 here: the first page is the latest 100, what the
/// unpaged log showed), `all`; always newest first (`sort_attr` and `sort_order` are ignored).
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{id}/webhooks/{webhook_id}/deliveries",
    params(("id" = i64, Path, description = "Namespace id"), ("webhook_id" = i64, Path, description = "Webhook id"), super::Page),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<DeliveryView>), Forbidden)
)]
pub(super) async fn deliveries(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, webhook)): Path<(String, String)>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let mut page = paged(page);
    // One order only: links must not carry one that is not applied.
    page.sort_attr = None;
    page.sort_order = None;
    let (namespace, webhook) = load(&state, &caller, &id, &webhook).await?;
    let query = page.query::<NewestFirst>()?;
    let log = state
        .store
        .deliveries_page(webhook.id, query.offset, query.limit)
        .await?;
    page.respond_page(
        &format!(
            "/api/v1/namespaces/{}/webhooks/{}/deliveries",
            namespace.id.0, webhook.id.0
        ),
        log.map(delivery_view),
    )
}

/// `POST /api/v1/namespaces/{id}/webhooks/{webhook_id}/deliveries/{delivery_id}/resend`:
/// queues the same body again (a new delivery, after the webhook's pending ones).
#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{id}/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
    params(
        ("id" = i64, Path, description = "Namespace id"),
        ("webhook_id" = i64, Path, description = "Webhook id"),
        ("delivery_id" = i64, Path, description = "Delivery id"),
    ),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 202, body = DeliveryView), Forbidden)
)]
pub(super) async fn resend(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, webhook, delivery)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (_, webhook) = load_managed(&state, &caller, &id, &webhook).await?;
    let delivery_id = DeliveryId(parse_id(&delivery, "delivery")?);
    let original = state
        .store
        .delivery(delivery_id)
        .await?
        .filter(|d| d.webhook_id == webhook.id)
        .ok_or_else(|| not_found("delivery"))?;
    let queued = ops::webhooks::resend(state.store.as_ref(), &webhook, &original).await?;
    if let Some(dispatcher) = &state.outgoing.dispatcher {
        dispatcher.wake();
    }
    Ok((StatusCode::ACCEPTED, Json(delivery_view(queued))).into_response())
}
