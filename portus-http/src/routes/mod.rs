//! The routes of the HTTP adapter: the token endpoint, the registry's notifications and the
//! REST API. They share [`AppState`] and know nothing of the web pages.

pub(crate) mod api;
mod credentials;
mod token;
mod webhook;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::state::AppState;

pub(crate) use self::credentials::basic_credentials;

/// The REST API alone (`/api/...`): what the web pages call in process.
#[cfg(feature = "web")]
pub(crate) fn api() -> Router<AppState> {
    api::router()
}

/// Every route: `/v2/token`, `/v2/`, `/v2/webhooks/events` (with its own body limit for
/// notification envelopes) and the REST API.
pub(crate) fn all(max_envelope_bytes: usize) -> Router<AppState> {
    api::router()
        .route("/v2/token", get(token::get_token).post(token::post_token))
        .route("/v2/", get(token::ping))
        .route(
            "/v2/webhooks/events",
            post(webhook::receive_events).layer(DefaultBodyLimit::max(max_envelope_bytes)),
        )
}

#[cfg(test)]
mod account_tests;
#[cfg(test)]
mod tests;
