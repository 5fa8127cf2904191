//! The OpenAPI document of the REST API, generated from the handlers (`#[utoipa::path]`: paths,
//! parameters, request and response bodies from the Rust types, the answers particular to each
//! route) and completed here with the answers every route of a kind can give, so that the
//! document and the router cannot drift apart.

use std::sync::OnceLock;

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Object, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi as Document, RefOr};

use super::schema::error_response;
use crate::error::Errors;

/// The document's frame: its title, the security schemes, the error schema.
#[derive(OpenApi)]
#[openapi(components(schemas(Errors)))]
struct Frame;

/// The frame the routes are added to.
pub(super) fn base() -> Document {
    let mut document = Frame::openapi();
    document.info = InfoBuilder::new()
        .title("portus REST API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Portus' API v1 and more. Authenticate with an application token as \
             `Authorization: Bearer <token>` or Portus' `Portus-Auth: <user>:<token>`. Request \
             bodies may be sent bare or wrapped as Portus sends them (`{\"user\": {...}}`, \
             `{\"team\": {...}}`, `{\"namespace\": {...}}`). What the caller may not see answers \
             404 exactly like what does not exist. Errors use the registry's format (`Errors`).",
        ))
        .build();
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    components.add_security_scheme(
        "portusAuth",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Portus-Auth",
            "<user>:<application token>",
        ))),
    );
    document
}

/// Adds the answers every route of a kind can give:
///
/// - with a request body: 400 (unreadable or invalid body) and 413 (too large);
/// - with query parameters: 400 (unreadable or invalid parameter);
/// - with path parameters: 404 (not a number, no such object, or one the caller may not see);
/// - with credentials (`security`): 401 (invalid credentials, or none where they are required)
///   and 503 (the store the credentials and roles are read from is unavailable);
/// - with the list parameters (`per_page`): Portus' pagination headers on the success answer
///   ([`pagination_headers`]).
///
/// Each operation's id is its method and path, unique and stable.
fn complete(path: &str, method: &str, operation: &mut Operation) {
    operation.operation_id = Some(format!("{method}{}", path.replace(['/', '{', '}', '.', '-'], "_")));
    // An optional body is absent, never JSON `null`: utoipa writes `Option<Body>` as
    // "Body or null", the document says "Body, not required".
    if let Some(RefOr::T(body)) = &mut operation.request_body {
        for content in body.content.values_mut() {
            let content = match content {
                RefOr::T(content) => content,
                RefOr::Ref(_) => continue,
            };
            if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
                let mut items = one_of.items.iter().filter(|item| !is_null(item));
                if let (Some(only), None) = (items.next(), items.next()) {
                    content.schema = Some(only.clone());
                }
            }
        }
    }
    let queries = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
    let paginated = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query && p.name == "per_page"));
    let responses = &mut operation.responses.responses;
    if paginated && let Some(RefOr::T(success)) = responses.get_mut("200") {
        for (name, header) in pagination_headers() {
            success.headers.entry(name.to_owned()).or_insert(RefOr::T(header));
        }
    }
    // Every answer needs a description; the handlers' success answers are described by their
    // body's schema.
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = match status.as_str() {
                "201" => "created",
                "202" => "accepted",
                "204" => "done",
                _ => "success",
            }
            .to_owned();
        }
    }
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    };
    if operation.request_body.is_some() {
        add("400", "the body is not valid JSON of the documented shape");
        add("413", "the body is too large");
    }
    if queries {
        add("400", "a query parameter is not valid");
    }
    if path.contains('{') {
        add("404", "no such object, or one the caller may not see (the same answer)");
    }
    if operation.security.is_some() {
        add("401", "invalid credentials, or none where they are required");
        add("503", "the store is unavailable; try again");
    }
}

/// The headers of every page of a list, as `lists.rs` writes them (Portus' names).
fn pagination_headers() -> [(&'static str, Header); 7] {
    let header = |kind: Type, description: &str| {
        let mut header = Header::new(Object::with_type(kind));
        header.description = Some(description.to_owned());
        header
    };
    [
        ("X-Total", header(Type::Integer, "how many items the whole list has")),
        (
            "X-Total-Pages",
            header(Type::Integer, "how many pages the list has (at least 1)"),
        ),
        ("X-Page", header(Type::Integer, "the number of this page, from 1")),
        (
            "X-Per-Page",
            header(Type::Integer, "items per page (with `all=true`: the total)"),
        ),
        (
            "X-Next-Page",
            header(Type::Integer, "the next page's number, when there is one"),
        ),
        (
            "X-Prev-Page",
            header(Type::Integer, "the previous page's number, when there is one"),
        ),
        (
            "Link",
            header(
                Type::String,
                "RFC 8288 links to the `next`, `prev`, `first` and `last` pages, when there are any",
            ),
        ),
    ]
}

/// Whether a schema is `{"type": "null"}`.
fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(object)) if object.schema_type == SchemaType::Type(Type::Null))
}

/// The document, built once.
pub(super) fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = super::api().into_openapi();
        for (path, item) in document.paths.paths.iter_mut() {
            for (method, operation) in [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
            ] {
                if let Some(operation) = operation {
                    complete(path, method, operation);
                }
            }
        }
        document
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    responses((status = 200, description = "the OpenAPI document", body = Object))
)]
pub(super) async fn serve() -> Json<&'static Document> {
    Json(document())
}
