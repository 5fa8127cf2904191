//! `POST /v2/webhooks/events`: the registry's notifications, authenticated by a shared secret.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portus_auth::password::secrets_equal;

use crate::error::ApiError;
use crate::state::AppState;

/// Stores the envelope's events (deduplicated by id) and answers once they are durable; they
/// are applied in the background.
///
/// The registry retries a refused delivery forever, so only a malformed envelope (not JSON, an
/// event without an id) is a 400. An event naming a repository, tag or digest no registry
/// would send is dropped on its own: the answer is 200 and counts it in `refused` (the event
/// log keeps it with the reason), the envelope's other events are applied.
pub(super) async fn receive_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(webhook) = state.webhook else {
        return Err(ApiError::not_found());
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !secrets_equal(presented, webhook.authorization.as_bytes()) {
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHORIZED",
            message: "missing or wrong notification secret".into(),
            basic_challenge: false,
        });
    }
    let ingested = webhook.pipeline.ingest(&body).await?;
    if let Some(metrics) = &state.metrics {
        metrics.events_received(ingested.accepted, ingested.refused);
    }
    Ok(Json(serde_json::json!({ "accepted": ingested.accepted, "refused": ingested.refused })).into_response())
}
