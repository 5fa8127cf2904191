//! The Clair v4 backend against a fake Clair that follows the published API (OpenAPI in
//! `shared/reference/clair-v4/openapi.yaml`) and validates every request strictly.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as Status};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::*;

const KEY_B64: &str = "c2VjcmV0LWtleS1mb3ItY2xhaXItdGVzdHMtMzItYnl0ZXM="; // "secret-key-for-clair-tests-32-bytes"

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Healthy,
    MatcherNotReady,
    ServerError,
    Malformed,
    Slow,
    IndexError,
    /// Another index of the manifest is under way: its report is not finished.
    Indexing,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    indexed: Arc<Mutex<HashSet<String>>>,
    posts: Arc<AtomicUsize>,
    require_psk: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StrictManifest {
    hash: String,
    #[serde(default)]
    layers: Vec<StrictLayer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StrictLayer {
    hash: String,
    uri: String,
    #[serde(default)]
    headers: HashMap<String, Vec<String>>,
    #[serde(default)]
    media_type: Option<String>,
}

fn error(status: Status, code: &str) -> Response {
    (status, axum::Json(json!({"code": code, "message": code}))).into_response()
}

fn authorized(fake: &Fake, headers: &HeaderMap) -> bool {
    if !fake.require_psk {
        return true;
    }
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&["portus"]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    let key = jsonwebtoken::DecodingKey::from_base64_secret(KEY_B64).unwrap();
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).is_ok()
}

fn index_report(digest: &str, state: &str, success: bool, err: &str) -> Response {
    let body = json!({"manifest_hash": digest, "state": state, "success": success, "err": err,
        "packages": {}, "distributions": {}, "environments": {}});
    (Status::CREATED, axum::Json(body)).into_response()
}

async fn post_index(State(fake): State<Fake>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !authorized(&fake, &headers) {
        return error(Status::UNAUTHORIZED, "unauthorized");
    }
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type != "application/json" && content_type != "application/vnd.clair.manifest.v1+json" {
        return error(Status::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type");
    }
    let Ok(manifest) = serde_json::from_slice::<StrictManifest>(&body) else {
        return error(Status::BAD_REQUEST, "bad-request");
    };
    let layers_ok = manifest.layers.iter().all(|l| {
        crate::backend::is_sha256_digest(&l.hash)
            && (l.uri.starts_with("http://") || l.uri.starts_with("https://"))
            && l.headers
                .get("Authorization")
                .is_some_and(|v| v.len() == 1 && v[0].starts_with("Bearer "))
            && l.media_type
                .as_deref()
                .is_none_or(|m| m.starts_with("application/vnd.oci.image.layer.v1.tar"))
    });
    if !crate::backend::is_sha256_digest(&manifest.hash) || manifest.layers.is_empty() || !layers_ok {
        return error(Status::BAD_REQUEST, "bad-request");
    }
    fake.posts.fetch_add(1, Ordering::SeqCst);
    let mode = *fake.mode.lock().unwrap();
    match mode {
        Mode::ServerError => return error(Status::INTERNAL_SERVER_ERROR, "internal"),
        Mode::Slow => tokio::time::sleep(Duration::from_secs(3)).await,
        Mode::IndexError => return index_report(&manifest.hash, "IndexError", false, "failed to fetch layers: 401"),
        _ => {}
    }
    fake.indexed.lock().unwrap().insert(manifest.hash.clone());
    index_report(&manifest.hash, "IndexFinished", true, "")
}

async fn get_index(State(fake): State<Fake>, headers: HeaderMap, Path(digest): Path<String>) -> Response {
    if !authorized(&fake, &headers) {
        return error(Status::UNAUTHORIZED, "unauthorized");
    }
    if !crate::backend::is_sha256_digest(&digest) {
        return error(Status::BAD_REQUEST, "bad-request");
    }
    match *fake.mode.lock().unwrap() {
        Mode::ServerError => return error(Status::INTERNAL_SERVER_ERROR, "internal"),
        Mode::Indexing => {
            let mut response = index_report(&digest, "FetchLayers", false, "");
            *response.status_mut() = Status::OK;
            return response;
        }
        _ => {}
    }
    if fake.indexed.lock().unwrap().contains(&digest) {
        let mut response = index_report(&digest, "IndexFinished", true, "");
        *response.status_mut() = Status::OK;
        response
    } else {
        error(Status::NOT_FOUND, "not-found")
    }
}

async fn get_report(State(fake): State<Fake>, headers: HeaderMap, Path(digest): Path<String>) -> Response {
    if !authorized(&fake, &headers) {
        return error(Status::UNAUTHORIZED, "unauthorized");
    }
    if !fake.indexed.lock().unwrap().contains(&digest) {
        return error(Status::NOT_FOUND, "not-found");
    }
    match *fake.mode.lock().unwrap() {
        Mode::MatcherNotReady => Status::ACCEPTED.into_response(),
        Mode::Malformed => (Status::OK, "{\"vulnerabilities\": [").into_response(),
        Mode::ServerError => error(Status::INTERNAL_SERVER_ERROR, "internal"),
        _ => {
            // Shapes from the published example (vulnerability.schema.json).
            let body = json!({
                "manifest_hash": digest,
                "packages": {"0": {"id": "0", "name": "glibc", "version": "2.27-0ubuntu1", "kind": "binary"},
                             "1": {"id": "1", "name": "zlib", "version": "1.2.11"}},
                "distributions": {}, "environments": {},
                "vulnerabilities": {
                    "356835": {"id": "356835", "updater": "ubuntu", "name": "CVE-2009-5155",
                        "links": "https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2009-5155 https://sourceware.org/bugzilla/show_bug.cgi?id=11053",
                        "severity": "Low", "normalized_severity": "Low", "fixed_in_version": "2.28-0ubuntu1",
                        "description": "regex bug"},
                    "777": {"id": "777", "updater": "nvd", "name": "CVE-2022-37434", "links": "",
                        "severity": "CRITICAL", "normalized_severity": "Critical", "fixed_in_version": ""}
                },
                "package_vulnerabilities": {"0": ["356835"], "1": ["777"]},
                "enrichments": {}
            });
            (
                Status::OK,
                [("content-type", "application/vnd.clair.index_report.v1+json")],
                axum::Json(body),
            )
                .into_response()
        }
    }
}

/// The latest update operations, keyed by updater (claircore `driver.UpdateOperation`, as
/// Clair v4.9.0 encodes them: `kind` left empty by the "latest" query).
async fn update_operations(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    if !authorized(&fake, &headers) {
        return error(Status::UNAUTHORIZED, "unauthorized");
    }
    match *fake.mode.lock().unwrap() {
        Mode::ServerError => error(Status::INTERNAL_SERVER_ERROR, "internal"),
        Mode::MatcherNotReady => axum::Json(json!({})).into_response(),
        _ => axum::Json(json!({
            "alpine": [{"ref": "b6fd1d80-0092-4881-b62b-d98c0fe73e3b", "updater": "alpine",
                "fingerprint": "t1", "date": "2026-01-03T04:05:06.123456Z", "kind": ""}],
            "ubuntu": [{"ref": "6f1c2a9e-1111-4c5d-9e7f-0123456789ab", "updater": "ubuntu",
                "fingerprint": "x", "date": "2025-12-01T00:00:00Z", "kind": ""}]
        }))
        .into_response(),
    }
}

async fn index_state(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    if !authorized(&fake, &headers) {
        return error(Status::UNAUTHORIZED, "unauthorized");
    }
    axum::Json(json!({"state": "aae368a064d7c5a433d0bf2c4f44bd2b"})).into_response()
}

async fn fake_clair(require_psk: bool) -> (Url, Fake) {
    let fake = Fake {
        mode: Arc::new(Mutex::new(Mode::Healthy)),
        indexed: Arc::default(),
        posts: Arc::default(),
        require_psk,
    };
    let app = axum::Router::new()
        .route("/indexer/api/v1/index_report", post(post_index))
        .route("/indexer/api/v1/index_report/{digest}", get(get_index))
        .route("/indexer/api/v1/index_state", get(index_state))
        .route("/matcher/api/v1/vulnerability_report/{digest}", get(get_report))
        .route("/matcher/api/v1/internal/update_operation", get(update_operations))
        .with_state(fake.clone());
    (crate::backend::serve_stand_in(app).await, fake)
}

fn backend(url: Url, psk: bool) -> ClairV4 {
    let mut config = ClairV4Config::new(url);
    config.timeout = Duration::from_secs(1);
    if psk {
        config.psk = Some(ClairPsk {
            key_base64: KEY_B64.into(),
            issuer: "portus".into(),
        });
    }
    ClairV4::new(config).unwrap()
}

fn image() -> ImageRef {
    crate::backend::test_image(Some("application/vnd.oci.image.layer.v1.tar+gzip"))
}

fn set(fake: &Fake, mode: Mode) {
    *fake.mode.lock().unwrap() = mode;
}

#[tokio::test]
async fn indexes_once_then_reports_normalized_findings() {
    let (url, fake) = fake_clair(true).await;
    let clair = backend(url, true);
    let ScanOutcome::Finished(report) = clair.scan(&image()).await.unwrap() else {
        panic!("expected a report")
    };
    let glibc = &report.vulnerabilities[0];
    assert_eq!(glibc.id, "CVE-2009-5155");
    assert_eq!(glibc.severity, Severity::Low);
    assert_eq!(
        (glibc.package.as_deref(), glibc.package_version.as_deref()),
        (Some("glibc"), Some("2.27-0ubuntu1"))
    );
    assert_eq!(glibc.fixed_in.as_deref(), Some("2.28-0ubuntu1"));
    assert_eq!(glibc.links.len(), 2);
    let zlib = &report.vulnerabilities[1];
    assert_eq!(
        (zlib.id.as_str(), zlib.severity, zlib.fixed_in.as_deref()),
        ("CVE-2022-37434", Severity::Critical, None)
    );
    clair.scan(&image()).await.unwrap();
    assert_eq!(
        fake.posts.load(Ordering::SeqCst),
        1,
        "an indexed manifest is not indexed again"
    );
    clair.health().await.unwrap();
}

#[tokio::test]
async fn never_a_false_clean() {
    let (url, fake) = fake_clair(true).await;
    let clair = backend(url.clone(), true);

    set(&fake, Mode::ServerError);
    let err = clair.scan(&image()).await.unwrap_err();
    assert!(err.is_temporary(), "5xx is temporary: {err}");

    set(&fake, Mode::IndexError);
    let err = clair.scan(&image()).await.unwrap_err();
    let reason = std::error::Error::source(&err)
        .map(|s| s.to_string())
        .unwrap_or_default();
    assert!(
        reason.contains("indexing failed: failed to fetch layers: 401"),
        "{err}: {reason}"
    );
    assert!(!err.is_temporary());

    set(&fake, Mode::Slow);
    let err = clair.scan(&image()).await.unwrap_err();
    assert!(err.is_temporary(), "a timeout is temporary: {err:?}");

    set(&fake, Mode::MatcherNotReady);
    let err = clair.scan(&image()).await.unwrap_err();
    let reason = std::error::Error::source(&err)
        .map(|s| s.to_string())
        .unwrap_or_default();
    assert!(
        reason.contains("Clair has no vulnerability data yet"),
        "202 (no vulnerability data) is an error naming the cause, not pending forever: {err}: {reason}"
    );

    set(&fake, Mode::Indexing);
    assert!(
        matches!(clair.scan(&image()).await.unwrap(), ScanOutcome::Pending { .. }),
        "an unfinished index means pending"
    );

    set(&fake, Mode::Malformed);
    let err = clair.scan(&image()).await.unwrap_err();
    assert!(
        !err.is_temporary() && format!("{err:?}").contains("InvalidResponse"),
        "{err:?}"
    );

    let unauthenticated = backend(url, false);
    set(&fake, Mode::Healthy);
    assert!(
        unauthenticated.scan(&image()).await.is_err(),
        "401 is an error, not a clean report"
    );

    // Recovery: the same backend scans normally once Clair is healthy.
    assert!(matches!(clair.scan(&image()).await.unwrap(), ScanOutcome::Finished(r) if r.vulnerabilities.len() == 2));
}

#[tokio::test]
async fn says_whether_it_has_vulnerability_data_and_how_old_it_is() {
    let (url, fake) = fake_clair(true).await;
    let clair = backend(url.clone(), true);
    assert_eq!(
        clair.vulnerability_data().await.unwrap(),
        VulnerabilityData::UpdatedAt {
            at: "2026-01-03T04:05:06.123456Z".parse().unwrap()
        },
        "the newest update operation over every updater"
    );
    set(&fake, Mode::MatcherNotReady);
    assert_eq!(clair.vulnerability_data().await.unwrap(), VulnerabilityData::Missing);
    set(&fake, Mode::ServerError);
    assert!(clair.vulnerability_data().await.is_err(), "never a guess");
    set(&fake, Mode::Healthy);
    assert!(
        backend(url, false).vulnerability_data().await.is_err(),
        "it authenticates like every other call"
    );
}

#[tokio::test]
async fn a_scanner_that_is_down_is_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clair = backend(format!("http://127.0.0.1:{port}/").parse().unwrap(), false);
    let err = clair.scan(&image()).await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert!(clair.health().await.is_err());
    assert!(clair.vulnerability_data().await.is_err());
}

#[tokio::test]
async fn images_without_layers_are_refused() {
    let (url, fake) = fake_clair(false).await;
    let mut empty = image();
    empty.layers.clear();
    assert!(backend(url, false).scan(&empty).await.is_err());
    assert_eq!(fake.posts.load(Ordering::SeqCst), 0);
}

/// The shared `SecurityBackend` suite, each scanner state a mode of the strict fake Clair.
mod conformance {
    use std::sync::Arc;

    use async_trait::async_trait;
    use portus_core::testing::{ScannerFixture, ScannerState};

    use super::*;

    struct FakeClair(Url, Fake);

    #[async_trait]
    impl ScannerFixture for FakeClair {
        async fn backend(&self, state: ScannerState) -> Option<Arc<dyn SecurityBackend>> {
            let mode = match state {
                ScannerState::Healthy => Mode::Healthy,
                ScannerState::Pending => Mode::Indexing,
                ScannerState::ServerError => Mode::ServerError,
                ScannerState::InvalidResponse => Mode::Malformed,
                ScannerState::Unreachable => return Some(Arc::new(backend(crate::backend::closed_url(), true))),
                _ => return None,
            };
            set(&self.1, mode);
            Some(Arc::new(backend(self.0.clone(), true)))
        }

        fn image(&self) -> ImageRef {
            image()
        }
    }

    portus_core::security_backend_conformance!(async {
        let (url, fake) = fake_clair(true).await;
        FakeClair(url, fake)
    });
}

proptest::proptest! {
    /// Any JSON the matcher might send: a report or a parse error, never a panic; every
    /// finding names a vulnerability of the report, with a known severity.
    #[test]
    fn any_vulnerability_report_converts_without_panic(value in crate::backend::arbitrary_json(&[
        "packages", "vulnerabilities", "package_vulnerabilities", "id", "name", "version",
        "description", "links", "severity", "normalized_severity", "fixed_in_version",
    ])) {
        if let Ok(report) = serde_json::from_value::<super::VulnerabilityReport>(value) {
            let known: std::collections::HashSet<String> = report
                .vulnerabilities
                .values()
                .map(|v| v.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| v.id.clone()))
                .collect();
            let expected: usize = report
                .package_vulnerabilities
                .values()
                .map(|ids| ids.iter().filter(|id| report.vulnerabilities.contains_key(*id)).count())
                .sum();
            let converted = super::convert(report);
            proptest::prop_assert_eq!(converted.vulnerabilities.len(), expected);
            for v in &converted.vulnerabilities {
                proptest::prop_assert!(known.contains(&v.id));
            }
        }
    }
}

#[test]
fn the_pre_shared_key_never_shows_in_debug_output() {
    let psk = ClairPsk {
        key_base64: "c2VjcmV0LWtleS1vZi1jbGFpcg==".into(),
        issuer: "portus".into(),
    };
    let mut config = ClairV4Config::new("http://127.0.0.1:6060".parse().unwrap());
    config.psk = Some(psk.clone());
    for shown in [format!("{psk:?}"), format!("{config:?}")] {
        assert!(!shown.contains(&psk.key_base64), "{shown}");
        assert!(shown.contains("portus"), "{shown}");
    }
}
