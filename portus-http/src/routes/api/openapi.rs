//! The OpenAPI 3.0 document of the REST API, generated from [`super::ROUTES`] so it cannot
//! drift from the router.

use axum::Json;
use serde_json::{Map, Value, json};

use super::ROUTES;

/// `GET /api/openapi.json`.
pub(super) async fn serve() -> Json<Value> {
    Json(document())
}

fn parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}})
}

/// The document.
pub(super) fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let mut responses = Map::new();
        let ok = match route.method {
            "POST" => "201",
            "DELETE" if route.path.starts_with("/api/v1/tags/") => "200",
            "DELETE" => "204",
            "PUT" if route.path.ends_with("/star") => "204",
            _ => "200",
        };
        responses.insert(ok.into(), json!({"description": "success"}));
        responses.insert("400".into(), error_response("invalid request"));
        if route.authenticated {
            responses.insert("401".into(), error_response("missing or invalid application token"));
            responses.insert("403".into(), error_response("not allowed"));
        }
        if route.path.contains('{') {
            responses.insert(
                "404".into(),
                error_response("no such object, or not visible to the caller"),
            );
        }
        let mut operation = json!({
            "summary": route.summary,
            "operationId": format!("{}{}", route.method.to_lowercase(), route.path.replace(['/', '{', '}', '.'], "_")),
            "responses": responses,
        });
        let params = parameters(route.path);
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        if route.authenticated {
            operation["security"] = json!([{"bearer": []}, {"portusAuth": []}]);
        }
        if matches!(route.method, "POST" | "PUT") && !route.path.ends_with("/star") {
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        entry[route.method.to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "portus REST API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An application token"},
                "portusAuth": {"type": "apiKey", "in": "header", "name": "Portus-Auth", "description": "<user>:<application token>"},
            },
            "schemas": {
                "Errors": {
                    "type": "object",
                    "required": ["errors"],
                    "properties": {"errors": {"type": "array", "items": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "detail": {}},
                    }}},
                },
            },
        },
    })
}
