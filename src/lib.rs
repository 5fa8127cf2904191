//! portus: registry authorization (Docker token auth) and security scanning for private
//! Distribution/OCI registries, as an embeddable library.
//!
//! This facade re-exports the member crates:
//!
//! - [`core`] — domain model, scope grammar, pure policy, traits, in-memory store.
//! - [`auth`] — token signing, authenticators, the token service, SQL stores.
//! - [`scan`] — security scanning.
//! - [`http`] — the axum adapter and the `portus` program.
//!
//! A minimal embedding (in-memory store, custom authenticator) is in
//! `examples/minimal_server.rs`.

pub use portus_auth as auth;
pub use portus_core as core;
pub use portus_http as http;
pub use portus_scan as scan;
