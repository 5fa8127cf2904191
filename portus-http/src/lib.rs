//! The HTTP adapter of portus (axum): router, state, errors, routes and web pages. The
//! `portus` program (CLI, configuration, wiring) lives in the root crate.
//!
//! - [`router`] builds the axum [`Router`](axum::Router) for a [`TokenService`]: `GET /v2/token`,
//!   OAuth2 `POST /v2/token`, and the `GET /v2/` credential check. Handlers only translate HTTP
//!   to and from [`portus_auth::service`]; every decision is made there.
//! - [`metrics`] keeps the Prometheus metrics served at `/metrics`.
//! - [`markdown`] renders comments' Markdown to sanitized HTML.
//! - `web` (feature `web`) serves the web pages under `/`, built on the REST API.
//!
//! [`TokenService`]: portus_auth::TokenService

pub mod error;
pub mod mail;
pub mod markdown;
pub mod metrics;
pub mod request_id;
mod router;
mod routes;
mod state;
#[cfg(test)]
mod test_support;
#[cfg(feature = "web")]
pub mod web;

pub use error::ApiError;
pub use router::router;
#[cfg(feature = "web")]
pub use router::router_with_web;
pub use state::{AppState, HealthCheck, HealthFuture, HttpLimits, OutgoingWebhooks, SessionUser, Webhook};
