//! Driving the web pages in process, for this crate's page tests and the workspace's
//! integration tests (feature `testing`): a request through a router, its answer as a
//! [`Page`], and signing in through the sign-in form.

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;

/// An answer of the web router.
#[derive(Debug)]
pub struct Page {
    /// Its status.
    pub status: StatusCode,
    /// Its `Location` header, for redirects.
    pub location: Option<String>,
    /// Its `Set-Cookie` headers.
    pub cookies: Vec<String>,
    /// Its body as text.
    pub body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field (panics without one).
    pub fn csrf(&self) -> String {
        let start = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF field")
            + 19;
        self.body[start..].split('"').next().unwrap().to_owned()
    }

    /// The value of the cookie `name` this answer sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .map(|rest| rest.split(';').next().unwrap().to_owned())
    }
}

/// Sends `method path` through `app` with `cookies` (`name=value`) and, when given, `form` as
/// a URL-encoded body; panics when the router fails (it never should).
pub async fn request(app: &axum::Router, method: Method, path: &str, cookies: &[&str], form: Option<&str>) -> Page {
    let mut request = Request::builder().method(method).uri(path);
    if !cookies.is_empty() {
        request = request.header(header::COOKIE, cookies.join("; "));
    }
    if form.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let request = request
        .body(form.map(|f| Body::from(f.to_owned())).unwrap_or_else(Body::empty))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    Page {
        status,
        location,
        cookies,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Signs `user` in through `app`'s sign-in form; the session cookie (`portus_session=...`),
/// or the answer when it did not sign in.
pub async fn sign_in(app: &axum::Router, user: &str, password: &str) -> Result<String, Page> {
    let form = request(app, Method::GET, "/sign_in", &[], None).await;
    let csrf_cookie = format!("portus_csrf={}", form.cookie("portus_csrf").unwrap());
    let body = format!("csrf={}&username={user}&password={password}", form.csrf());
    let answer = request(app, Method::POST, "/sign_in", &[&csrf_cookie], Some(&body)).await;
    match answer.cookie("portus_session") {
        Some(session) if answer.status == StatusCode::SEE_OTHER => Ok(format!("portus_session={session}")),
        _ => Err(answer),
    }
}
