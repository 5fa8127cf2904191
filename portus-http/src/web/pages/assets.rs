//! The stylesheet and the script, served by portus itself (no CDN).

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::response::Response;

/// `GET /assets/portus.css`.
pub(crate) async fn stylesheet() -> Response {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/portus.css"),
    )
        .into_response()
}

/// `GET /assets/portus.js`.
pub(crate) async fn script() -> Response {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/portus.js"),
    )
        .into_response()
}
