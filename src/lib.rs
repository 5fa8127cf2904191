//! portus: registry authorization (Docker token auth) and security scanning for private
//! Distribution/OCI registries, as an embeddable library.
//!
//! This facade re-exports the member crates:
//!
//! - [`core`] — domain model, scope grammar, pure policy, the traits, the in-memory store and
//!   the SQL stores (features `sqlite`, `postgres`).
//! - [`auth`] — identity and tokens: token signing, authenticators, the token service.
//! - [`scan`] — registry sync and security scanning (one feature per scanner backend).
//! - [`http`] — the axum adapter: router, REST API, web pages.
//!
//! With the default feature `cli` it is also the `portus` program: [`cli`] (the commands),
//! [`config`] (the TOML configuration with `PORTUS_*` overrides) and [`app`] (wiring a running
//! service from a configuration).
//!
//! A minimal embedding (in-memory store, custom authenticator) is in
//! `examples/minimal_server.rs`.

pub use portus_auth as auth;
pub use portus_core as core;
pub use portus_http as http;
pub use portus_scan as scan;

#[cfg(feature = "cli")]
pub mod app;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod config;
#[cfg(feature = "cli")]
mod error;
#[cfg(feature = "cli")]
pub mod mail;

#[cfg(feature = "cli")]
pub use error::Error;
