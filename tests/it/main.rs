//! Cross-crate and end-to-end tests, built as one test binary.

mod cli;
mod doctor;
mod e2e_accessibility;
mod e2e_clair;
mod e2e_harbor;
mod e2e_ldap;
mod e2e_password_reset;
mod e2e_registry;
mod e2e_sync;
mod e2e_web;
mod e2e_webhooks;
mod example;
mod hardening;
mod harness;
mod instant_changes;
mod migrating_doc;
mod portus_config;
mod portus_import;
mod quickstart;
mod registry_conformance;
mod scale_out;
mod shared_sessions;
mod summaries;
