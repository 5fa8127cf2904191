//! The Harbor backend against a fake scanner adapter that follows the Pluggable Scanner API
//! (spec v1.1) the way harbor-scanner-trivy implements it: strict request checks, 202 with an
//! opaque id, 302 with `Location` while the scan runs, the byte-exact 1.1 `Accept`, 415 for
//! other report types, `{"error": {"message": …}}` bodies.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as Status};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::*;

const ERROR_TYPE: &str = "application/vnd.scanner.adapter.error; version=1.0";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Reports are ready at the first poll.
    Healthy,
    /// Every poll answers 302 (with `Refresh-After` when `refresh_after` is set).
    Running,
    /// Scans fail: 500 with the scanner's message.
    ScanFails,
    /// The report body is not JSON.
    Garbage,
    /// Takes longer than the client's timeout.
    Slow,
    /// Forgets every scan id (as after a restart without its Redis).
    Amnesia,
    /// A spec v1.0 adapter: only the harbor+json 1.0 report, 415 for anything else.
    OnlyV1_0,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    refresh_after: Arc<Mutex<Option<&'static str>>>,
    /// Scan requests accepted, with their bodies.
    requests: Arc<Mutex<Vec<serde_json::Value>>>,
    ids: Arc<Mutex<HashMap<String, String>>>,
    polls: Arc<AtomicUsize>,
    /// The `Authorization` the adapter requires, if any.
    auth: Option<String>,
}

fn error(status: Status, message: &str) -> Response {
    (
        status,
        [("content-type", ERROR_TYPE)],
        json!({"error": {"message": message}}).to_string(),
    )
        .into_response()
}

fn authorized(fake: &Fake, headers: &HeaderMap) -> bool {
    fake.auth
        .as_deref()
        .is_none_or(|want| headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want))
}

async fn post_scan(State(fake): State<Fake>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !authorized(&fake, &headers) {
        return error(Status::UNAUTHORIZED, "unauthorized");
    }
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type != SCAN_REQUEST_TYPE {
        return error(Status::UNSUPPORTED_MEDIA_TYPE, "unsupported media type");
    }
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return error(Status::BAD_REQUEST, "invalid JSON");
    };
    let registry_ok = request["registry"]["url"]
        .as_str()
        .and_then(|u| Url::parse(u).ok())
        .is_some_and(|u| u.path() == "/" && matches!(u.scheme(), "http" | "https"));
    let artifact = &request["artifact"];
    let digest = artifact["digest"].as_str().unwrap_or_default().to_owned();
    if !registry_ok
        || artifact["repository"].as_str().is_none_or(str::is_empty)
        || !crate::backend::is_sha256_digest(&digest)
    {
        return error(Status::UNPROCESSABLE_ENTITY, "invalid scan request");
    }
    if *fake.mode.lock().unwrap() == Mode::Slow {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let id = format!("{:024x}", fake.requests.lock().unwrap().len() + 1);
    fake.requests.lock().unwrap().push(request);
    fake.ids.lock().unwrap().insert(id.clone(), digest);
    (
        Status::ACCEPTED,
        [(
            "content-type",
            "application/vnd.scanner.adapter.scan.response+json; version=1.0",
        )],
        json!({"id": id}).to_string(),
    )
        .into_response()
}

fn report(digest: &str) -> serde_json::Value {
    // Shapes of harbor-scanner-trivy's transformer (non-spec `layer`, CVSS under
    // `vendor_attributes`), unsorted on purpose.
    json!({
        "generated_at": "2026-11-30T12:00:00.123456789Z",
        "artifact": {"repository": "alice/app", "digest": digest,
                     "mime_type": "application/vnd.oci.image.manifest.v1+json"},
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.74.0"},
        "severity": "Critical",
        "vulnerabilities": [
            {"id": "CVE-2099-0001", "package": "testpkg", "version": "1.0.0-r0", "fix_version": "1.0.0-r1",
             "severity": "High", "description": "test only", "links": ["https://avd.aquasec.com/nvd/cve-2099-0001"],
             "layer": {"digest": "sha256:aa", "diff_id": "sha256:bb"}, "status": "fixed",
             "vendor_attributes": {"CVSS": {"nvd": {"V3Score": 7.5}}}, "preferred_cvss": null, "cwe_ids": ["CWE-79"]},
            {"id": "CVE-2022-37434", "package": "zlib", "version": "1.2.12-r0", "fix_version": "",
             "severity": "Critical", "links": []},
            {"id": "CVE-2098-0002", "package": "busybox", "version": "1.36.1-r0", "severity": "Negligible"}
        ]
    })
}

async fn get_report(State(fake): State<Fake>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&fake, &headers) {
        return error(Status::UNAUTHORIZED, "unauthorized");
    }
    fake.polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let mode = *fake.mode.lock().unwrap();
    let accept = headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or("");
    let wanted = if mode == Mode::OnlyV1_0 {
        REPORT_TYPE_1_0
    } else {
        REPORT_TYPE_1_1
    };
    if accept != wanted && !accept.is_empty() && accept != "*/*" {
        return error(
            Status::UNSUPPORTED_MEDIA_TYPE,
            &format!("unsupported media type: {accept}"),
        );
    }
    let Some(digest) = fake.ids.lock().unwrap().get(&id).cloned() else {
        return error(Status::NOT_FOUND, &format!("cannot find scan job: {id}"));
    };
    match mode {
        Mode::Running => {
            let mut response = (Status::FOUND, [("location", format!("/api/v1/scan/{id}/report"))]).into_response();
            if let Some(seconds) = *fake.refresh_after.lock().unwrap() {
                response.headers_mut().insert("refresh-after", seconds.parse().unwrap());
            }
            response
        }
        Mode::ScanFails => error(Status::INTERNAL_SERVER_ERROR, "running trivy wrapper: exit status 1"),
        Mode::Garbage => (Status::OK, [("content-type", REPORT_TYPE_1_1)], "<html>proxy error").into_response(),
        Mode::Amnesia => {
            fake.ids.lock().unwrap().clear();
            error(Status::NOT_FOUND, &format!("cannot find scan job: {id}"))
        }
        _ => (Status::OK, [("content-type", wanted)], report(&digest).to_string()).into_response(),
    }
}

async fn metadata(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    if !authorized(&fake, &headers) {
        return error(Status::UNAUTHORIZED, "unauthorized");
    }
    if *fake.mode.lock().unwrap() == Mode::ScanFails {
        return error(Status::INTERNAL_SERVER_ERROR, "trivy version failed");
    }
    let body = json!({
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.74.0"},
        "capabilities": [{"type": "vulnerability",
            "consumes_mime_types": ["application/vnd.oci.image.manifest.v1+json",
                                    "application/vnd.docker.distribution.manifest.v2+json"],
            "produces_mime_types": [REPORT_TYPE_1_1]}],
        "properties": {
            "harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
            DB_UPDATED_AT: "2026-11-29T06:12:40.510417553Z",
            "env.SCANNER_TRIVY_SKIP_UPDATE": "true"
        }
    });
    (
        [(
            "content-type",
            "application/vnd.scanner.adapter.metadata+json; version=1.0",
        )],
        body.to_string(),
    )
        .into_response()
}

async fn fake_adapter(auth: Option<&str>) -> (Url, Fake) {
    let fake = Fake {
        mode: Arc::new(Mutex::new(Mode::Healthy)),
        refresh_after: Arc::default(),
        requests: Arc::default(),
        ids: Arc::default(),
        polls: Arc::default(),
        auth: auth.map(str::to_owned),
    };
    let app = axum::Router::new()
        .route("/api/v1/scan", post(post_scan))
        .route("/api/v1/scan/{id}/report", get(get_report))
        .route("/api/v1/metadata", get(metadata))
        .with_state(fake.clone());
    (crate::backend::serve_stand_in(app).await, fake)
}

fn backend(url: Url, auth: Option<HarborAuth>) -> Harbor {
    let mut config = HarborConfig::new(url);
    config.timeout = Duration::from_secs(1);
    config.auth = auth;
    Harbor::new(config).unwrap()
}

fn basic() -> HarborAuth {
    HarborAuth::Basic {
        username: "portus".into(),
        password: "adapter-password".into(),
    }
}

/// `Basic base64("portus:adapter-password")`.
const BASIC: &str = "Basic cG9ydHVzOmFkYXB0ZXItcGFzc3dvcmQ=";

fn image() -> ImageRef {
    crate::backend::test_image(None)
}

fn set(fake: &Fake, mode: Mode) {
    *fake.mode.lock().unwrap() = mode;
}

fn finished(outcome: ScanOutcome) -> ScanReport {
    match outcome {
        ScanOutcome::Finished(report) => report,
        other => panic!("expected a report, got {other:?}"),
    }
}

#[tokio::test]
async fn submits_the_image_and_reads_the_report_with_normalized_findings() {
    let (url, fake) = fake_adapter(Some(BASIC)).await;
    let harbor = backend(url, Some(basic()));
    let report = finished(harbor.scan(&image()).await.unwrap());
    let ids: Vec<&str> = report.vulnerabilities.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        ids,
        ["CVE-2022-37434", "CVE-2098-0002", "CVE-2099-0001"],
        "sorted by id"
    );
    let testpkg = &report.vulnerabilities[2];
    assert_eq!(testpkg.severity, Severity::High);
    assert_eq!(
        (
            testpkg.package.as_deref(),
            testpkg.package_version.as_deref(),
            testpkg.fixed_in.as_deref()
        ),
        (Some("testpkg"), Some("1.0.0-r0"), Some("1.0.0-r1"))
    );
    assert_eq!(testpkg.links, ["https://avd.aquasec.com/nvd/cve-2099-0001"]);
    assert_eq!(testpkg.description.as_deref(), Some("test only"));
    let zlib = &report.vulnerabilities[0];
    assert_eq!(
        (zlib.severity, zlib.fixed_in.as_deref()),
        (Severity::Critical, None),
        "an empty fix is none"
    );
    assert_eq!(report.vulnerabilities[1].severity, Severity::Negligible);

    // The scan request: the registry's base URL, the pull authorization, the artifact.
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(
        requests,
        [json!({
            "registry": {"url": "http://127.0.0.1:5000", "authorization": "Bearer registry-pull-token"},
            "artifact": {"repository": "alice/app", "digest": image().digest, "tag": "1.0"}
        })]
    );
    // A finished report is not read again: the next scan (a rescan) is a new one.
    finished(harbor.scan(&image()).await.unwrap());
    assert_eq!(fake.requests.lock().unwrap().len(), 2);

    harbor.health().await.unwrap();
    let data = harbor.vulnerability_data().await.unwrap();
    assert_eq!(
        data,
        VulnerabilityData::UpdatedAt {
            at: "2026-11-29T06:12:40.510417553Z".parse().unwrap()
        }
    );
}

#[tokio::test]
async fn a_running_scan_is_pending_and_polled_by_its_id_until_done() {
    let (url, fake) = fake_adapter(None).await;
    let harbor = backend(url, None);
    set(&fake, Mode::Running);
    let ScanOutcome::Pending { retry_after } = harbor.scan(&image()).await.unwrap() else {
        panic!("302 is pending")
    };
    assert_eq!(retry_after, Duration::from_secs(10), "no Refresh-After: the default");
    *fake.refresh_after.lock().unwrap() = Some("3");
    for _ in 0..3 {
        assert_eq!(
            harbor.scan(&image()).await.unwrap(),
            ScanOutcome::Pending {
                retry_after: Duration::from_secs(3)
            },
            "302 forever stays pending, never clean"
        );
    }
    assert_eq!(
        fake.requests.lock().unwrap().len(),
        1,
        "polled by the remembered id, not resubmitted"
    );
    assert_eq!(fake.polls.load(std::sync::atomic::Ordering::SeqCst), 4);
    set(&fake, Mode::Healthy);
    assert_eq!(finished(harbor.scan(&image()).await.unwrap()).vulnerabilities.len(), 3);
    assert_eq!(fake.requests.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_forgotten_scan_is_submitted_again() {
    let (url, fake) = fake_adapter(None).await;
    let harbor = backend(url, None);
    set(&fake, Mode::Running);
    assert!(matches!(
        harbor.scan(&image()).await.unwrap(),
        ScanOutcome::Pending { .. }
    ));
    // The adapter lost its jobs: the id is unknown (404) and the image is submitted again.
    fake.ids.lock().unwrap().clear();
    assert!(matches!(
        harbor.scan(&image()).await.unwrap(),
        ScanOutcome::Pending { .. }
    ));
    assert_eq!(fake.requests.lock().unwrap().len(), 2);
    // An adapter that forgets even a fresh id is an error, not a loop and not clean.
    set(&fake, Mode::Amnesia);
    let err = harbor.scan(&image()).await.unwrap_err();
    assert!(format!("{err:?}").contains("404"), "{err:?}");
    assert_eq!(fake.requests.lock().unwrap().len(), 3, "one resubmission per call");
}

#[tokio::test]
async fn never_a_false_clean() {
    let (url, fake) = fake_adapter(Some(BASIC)).await;
    let harbor = backend(url.clone(), Some(basic()));

    set(&fake, Mode::ScanFails);
    let err = harbor.scan(&image()).await.unwrap_err();
    assert!(err.is_temporary(), "a failed scan is retried: {err}");
    let reason = format!("{err:?}");
    assert!(reason.contains("running trivy wrapper: exit status 1"), "{reason}");
    assert!(harbor.health().await.is_err());

    set(&fake, Mode::Garbage);
    let err = harbor.scan(&image()).await.unwrap_err();
    assert!(
        !err.is_temporary() && format!("{err:?}").contains("InvalidResponse"),
        "{err:?}"
    );

    set(&fake, Mode::Slow);
    let err = harbor.scan(&image()).await.unwrap_err();
    assert!(err.is_temporary(), "a timeout is temporary: {err:?}");

    set(&fake, Mode::Healthy);
    let unauthenticated = backend(url.clone(), None);
    assert!(unauthenticated.scan(&image()).await.is_err(), "401 is an error");
    assert!(unauthenticated.health().await.is_err());
    let bearer = backend(url, Some(HarborAuth::Bearer("wrong".into())));
    assert!(bearer.scan(&image()).await.is_err());

    // Recovery: the same backend scans normally once the adapter is healthy.
    assert_eq!(finished(harbor.scan(&image()).await.unwrap()).vulnerabilities.len(), 3);
}

#[tokio::test]
async fn a_report_about_another_image_or_without_the_layers_to_find_the_registry_is_refused() {
    let (url, fake) = fake_adapter(None).await;
    let harbor = backend(url, None);
    let mut other = image();
    other.digest = format!("sha256:{}", "ef".repeat(32));
    // The adapter mixes up the ids: the report names another digest.
    set(&fake, Mode::Running);
    harbor.scan(&image()).await.unwrap();
    harbor.scan(&other).await.unwrap();
    let first = fake.ids.lock().unwrap().get(&format!("{:024x}", 1)).cloned().unwrap();
    fake.ids.lock().unwrap().insert(format!("{:024x}", 2), first);
    set(&fake, Mode::Healthy);
    let err = harbor.scan(&other).await.unwrap_err();
    assert!(format!("{err:?}").contains("the report is about"), "{err:?}");

    let mut bare = image();
    bare.digest = format!("sha256:{}", "01".repeat(32));
    bare.layers.clear();
    assert!(harbor.scan(&bare).await.is_err());
    let mut elsewhere = bare.clone();
    elsewhere.layers = image().layers;
    elsewhere.layers[0].url = "http://127.0.0.1:5000/somewhere/else".into();
    assert!(harbor.scan(&elsewhere).await.is_err());
    assert_eq!(fake.requests.lock().unwrap().len(), 2, "nothing submitted for them");
}

#[tokio::test]
async fn an_adapter_of_spec_1_0_gets_asked_for_the_1_0_report() {
    let (url, fake) = fake_adapter(None).await;
    set(&fake, Mode::OnlyV1_0);
    let harbor = backend(url, None);
    assert_eq!(finished(harbor.scan(&image()).await.unwrap()).vulnerabilities.len(), 3);
    let polls = fake.polls.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(polls, 2, "415 for 1.1, then 1.0");
    finished(harbor.scan(&image()).await.unwrap());
    assert_eq!(
        fake.polls.load(std::sync::atomic::Ordering::SeqCst),
        polls + 1,
        "remembered"
    );
}

#[tokio::test]
async fn a_scanner_that_is_down_is_an_error() {
    let harbor = backend(crate::backend::closed_url(), None);
    let err = harbor.scan(&image()).await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert!(harbor.health().await.is_err());
    assert!(harbor.vulnerability_data().await.is_err());
}

#[test]
fn settings_check_authentication_and_keep_secrets_out_of_logs() {
    let parse = |text: &str| serde_json::from_str::<HarborSettings>(text).unwrap();
    let basic = parse(r#"{"server": "https://adapter:8443", "username": "u", "password": "pa55word"}"#);
    let config = basic.config().unwrap().unwrap();
    assert_eq!(
        config.auth,
        Some(HarborAuth::Basic {
            username: "u".into(),
            password: "pa55word".into()
        })
    );
    for shown in [format!("{basic:?}"), format!("{config:?}")] {
        assert!(!shown.contains("pa55word") && shown.contains("<redacted>"), "{shown}");
    }
    let cases = [
        (r#"{"server": "adapter:8080"}"#, "server must be an http or https URL"),
        (
            r#"{"server": "http://a", "username": "u"}"#,
            "username and password go together",
        ),
        (
            r#"{"server": "http://a", "password": "p"}"#,
            "username and password go together",
        ),
        (
            r#"{"server": "http://a", "username": "u", "password": "p", "token": "t"}"#,
            "token cannot be combined",
        ),
        (
            r#"{"server": "http://a", "timeout_secs": 0}"#,
            "timeout_secs must be positive",
        ),
    ];
    for (text, expected) in cases {
        let err = parse(text).validate().unwrap_err().to_string();
        assert!(err.contains(expected), "{text}: {err}");
    }
    assert!(
        parse(r#"{"username": "u"}"#).build().unwrap().is_none(),
        "off without a server"
    );
    assert!(serde_json::from_str::<HarborSettings>(r#"{"sever": "x"}"#).is_err());
}

/// The shared `SecurityBackend` suite, each scanner state a mode of the fake adapter.
mod conformance {
    use std::sync::Arc;

    use async_trait::async_trait;
    use portus_core::testing::{ScannerFixture, ScannerState};

    use super::*;

    struct FakeAdapter(Url, Fake);

    #[async_trait]
    impl ScannerFixture for FakeAdapter {
        async fn backend(&self, state: ScannerState) -> Option<Arc<dyn SecurityBackend>> {
            let mode = match state {
                ScannerState::Healthy => Mode::Healthy,
                ScannerState::Pending => Mode::Running,
                ScannerState::ServerError => Mode::ScanFails,
                ScannerState::InvalidResponse => Mode::Garbage,
                ScannerState::Unreachable => {
                    return Some(Arc::new(backend(crate::backend::closed_url(), Some(basic()))));
                }
                _ => return None,
            };
            set(&self.1, mode);
            Some(Arc::new(backend(self.0.clone(), Some(basic()))))
        }

        fn image(&self) -> ImageRef {
            image()
        }
    }

    portus_core::security_backend_conformance!(async {
        let (url, fake) = fake_adapter(Some(BASIC)).await;
        FakeAdapter(url, fake)
    });
}

proptest::proptest! {
    /// Any JSON an adapter might send: a report or a parse error, never a panic; one finding
    /// per item, each with the item's id.
    #[test]
    fn any_report_converts_without_panic(value in crate::backend::arbitrary_json(&[
        "generated_at", "artifact", "digest", "scanner", "vulnerabilities", "id", "package", "version",
        "fix_version", "severity", "description", "links",
    ])) {
        let body = serde_json::to_vec(&value).unwrap();
        if let Ok(parsed) = parse_report(&body) {
            let items = value["vulnerabilities"].as_array().map_or(0, Vec::len);
            proptest::prop_assert_eq!(parsed.report.vulnerabilities.len(), items);
            proptest::prop_assert!(value.get("generated_at").is_some_and(serde_json::Value::is_string));
            for v in &parsed.report.vulnerabilities {
                proptest::prop_assert!(Severity::ALL.contains(&v.severity));
                proptest::prop_assert!(v.fixed_in.as_deref() != Some(""));
            }
        }
    }

    /// Well-formed reports keep every item, with the spec's severity names normalized.
    #[test]
    fn spec_severities_are_kept(severities in proptest::collection::vec(
        proptest::sample::select(&["Unknown", "Negligible", "Low", "Medium", "High", "Critical"][..]), 0..8)) {
        let items: Vec<serde_json::Value> = severities
            .iter()
            .enumerate()
            .map(|(i, s)| json!({"id": format!("CVE-2099-{i:04}"), "package": "p", "version": "1", "severity": s}))
            .collect();
        let body = json!({"generated_at": "2026-01-01T00:00:00Z", "vulnerabilities": items}).to_string();
        let parsed = parse_report(body.as_bytes()).unwrap();
        let got: Vec<String> = parsed.report.vulnerabilities.iter().map(|v| v.severity.to_string()).collect();
        proptest::prop_assert_eq!(got, severities);
    }
}

#[test]
fn an_empty_object_is_not_a_clean_report() {
    assert!(parse_report(b"{}").is_err());
    let clean = parse_report(br#"{"generated_at": "2026-01-01T00:00:00Z", "scanner": {"name": "Trivy"}}"#).unwrap();
    assert!(
        clean.report.vulnerabilities.is_empty(),
        "Trivy leaves the list out when clean"
    );
}
