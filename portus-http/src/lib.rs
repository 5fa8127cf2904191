//! The HTTP adapter of portus (axum) and the `portus` command-line program.
//!
//! - [`router`] builds the axum [`Router`](axum::Router) for a [`TokenService`]: `GET /v2/token`,
//!   OAuth2 `POST /v2/token`, and the `GET /v2/` credential check. Handlers only translate HTTP
//!   to and from [`portus_auth::service`]; every decision is made there.
//! - `web` (feature `web`) serves the web pages under `/`, built on the REST API.
//! - [`config`] is the typed TOML configuration with `PORTUS_*` environment overrides.
//! - [`app`] assembles a running service from a configuration (store, key, authenticators).
//! - [`cli`] is the `portus` program: `serve`, `config registry` and the admin commands.
//!
//! [`TokenService`]: portus_auth::TokenService

pub mod app;
pub mod cli;
pub mod config;
pub mod error;
mod routes;
#[cfg(feature = "web")]
pub mod web;

pub use error::{ApiError, Error};
#[cfg(feature = "web")]
pub use routes::router_with_web;
pub use routes::{AppState, HttpLimits, Webhook, router};
