//! One handler per page or form. Each reads or changes data through the REST API as the
//! signed-in user ([`Signed::api`]) and renders the answer; forms answer with a redirect
//! (post/redirect/get) or, when the API refuses, with its status and message.

use std::collections::HashMap;

use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::PageError;

type Fields = HashMap<String, String>;

fn field<'a>(form: &'a Fields, name: &str) -> &'a str {
    form.get(name).map(|s| s.trim()).unwrap_or_default()
}

fn optional(form: &Fields, name: &str) -> Option<String> {
    Some(field(form, name).to_owned()).filter(|s| !s.is_empty())
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Only decimal identifiers reach the API paths built from them.
fn id(raw: &str) -> Result<&str, PageError> {
    if !raw.is_empty() && raw.len() <= 19 && raw.bytes().all(|b| b.is_ascii_digit()) {
        Ok(raw)
    } else {
        Err(PageError::not_found())
    }
}

/// The `page` query parameter (from 1; 1 when absent or not a number).
fn page_number(query: &Fields) -> usize {
    page_number_of(query, "page")
}

/// A page number in the query parameter `name`, for pages showing several lists (from 1; 1
/// when absent or not a number).
fn page_number_of(query: &Fields, name: &str) -> usize {
    query
        .get(name)
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

fn back(to: String) -> Response {
    Redirect::to(&to).into_response()
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

mod activities;
mod assets;
mod auth;
mod browse;
mod dashboard;
mod deletion;
mod namespaces;
#[cfg(feature = "oidc")]
mod oauth;
mod password_reset;
mod profile;
mod repositories;
mod signup;
mod teams;
mod tokens;
mod users;
mod webhooks;

pub(super) use activities::*;
pub(super) use assets::*;
pub(super) use auth::*;
pub(super) use browse::*;
pub(super) use dashboard::*;
pub(super) use deletion::*;
pub(super) use namespaces::*;
#[cfg(feature = "oidc")]
pub(super) use oauth::{oauth_begin, oauth_callback};
pub(super) use password_reset::*;
pub(super) use profile::*;
pub(super) use repositories::*;
pub(super) use signup::*;
pub(super) use teams::*;
pub(super) use tokens::*;
pub(super) use users::*;
pub(super) use webhooks::*;
