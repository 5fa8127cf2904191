//! The Clair v2 backend against a fake Clair that checks the v1 layer API strictly: base layer
//! first, every parent known, paths and headers present.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode as Status;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use portus_core::traits::Layer;
use serde::Deserialize;
use serde_json::json;

use super::*;

#[derive(Clone, Default)]
struct Fake {
    /// Layer name -> (parent name, blob path).
    layers: Arc<Mutex<HashMap<String, (String, String)>>>,
    fail_with: Arc<Mutex<Option<(u16, &'static str)>>>,
    null_features: Arc<Mutex<bool>>,
    slow: Arc<Mutex<bool>>,
    malformed: Arc<Mutex<bool>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Envelope {
    layer: StrictLayer,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct StrictLayer {
    name: String,
    path: String,
    headers: HashMap<String, String>,
    parent_name: String,
    format: String,
}

fn clair_error(status: u16, message: &str) -> Response {
    (
        Status::from_u16(status).unwrap(),
        axum::Json(json!({"Error": {"Message": message}})),
    )
        .into_response()
}

async fn post_layer(State(fake): State<Fake>, body: axum::body::Bytes) -> Response {
    if let Some((status, message)) = *fake.fail_with.lock().unwrap() {
        return clair_error(status, message);
    }
    let Ok(Envelope { layer }) = serde_json::from_slice::<Envelope>(&body) else {
        return clair_error(400, "could not decode layer");
    };
    let mut layers = fake.layers.lock().unwrap();
    let path_ok = layer.path.starts_with("http://") && layer.path.contains("/v2/alice/app/blobs/sha256:");
    let auth_ok = layer
        .headers
        .get("Authorization")
        .is_some_and(|a| a.starts_with("Bearer "));
    if layer.name.is_empty() || layer.format != "Docker" || !path_ok || !auth_ok {
        return clair_error(400, "bad layer");
    }
    if !layer.parent_name.is_empty() && !layers.contains_key(&layer.parent_name) {
        return clair_error(400, "parent layer is unknown, it must be processed first");
    }
    layers.insert(layer.name.clone(), (layer.parent_name, layer.path));
    (
        Status::CREATED,
        axum::Json(json!({"Layer": {"Name": layer.name, "IndexedByVersion": 3}})),
    )
        .into_response()
}

async fn get_layer(State(fake): State<Fake>, Path(name): Path<String>, RawQuery(query): RawQuery) -> Response {
    if query.as_deref() != Some("features&vulnerabilities") {
        return clair_error(400, "expected ?features&vulnerabilities");
    }
    if !fake.layers.lock().unwrap().contains_key(&name) {
        return clair_error(404, "the resource cannot be found");
    }
    if *fake.slow.lock().unwrap() {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    if *fake.malformed.lock().unwrap() {
        return (Status::OK, "{\"Layer\": {\"Features\": [").into_response();
    }
    if *fake.null_features.lock().unwrap() {
        return axum::Json(json!({"Layer": {"Name": name, "Features": null}})).into_response();
    }
    axum::Json(
        json!({"Layer": {"Name": name, "NamespaceName": "debian:8", "ParentName": "", "IndexedByVersion": 3,
        "Features": [
            {"Name": "openssl", "NamespaceName": "debian:8", "VersionFormat": "dpkg", "Version": "1.0.1t-1+deb8u2",
             "AddedBy": "sha256:x", "Vulnerabilities": [
                {"Name": "CVE-2016-6304", "NamespaceName": "debian:8", "Description": "OCSP growth",
                 "Link": "https://security-tracker.debian.org/tracker/CVE-2016-6304", "Severity": "Defcon1",
                 "Metadata": {"NVD": {"CVSSv2": {"Score": 7.8, "Vectors": "AV:N"}}}, "FixedBy": "1.0.1t-1+deb8u4"}]},
            {"Name": "bash", "Version": "4.3", "Vulnerabilities": []}
        ]}}),
    )
    .into_response()
}

async fn fake_clair() -> (Url, Fake) {
    let fake = Fake::default();
    let app = axum::Router::new()
        .route("/v1/layers", post(post_layer))
        .route("/v1/layers/{name}", get(get_layer))
        .route(
            "/v1/namespaces",
            get(|| async { axum::Json(json!({"Namespaces": [{"Name": "debian:8"}]})) }),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap()).parse().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, fake)
}

fn image(layers: &[&str]) -> ImageRef {
    ImageRef {
        repository: "alice/app".into(),
        tag: "1.0".into(),
        digest: "sha256:manifest".into(),
        layers: layers
            .iter()
            .map(|d| Layer {
                digest: (*d).into(),
                url: format!("http://127.0.0.1:5000/v2/alice/app/blobs/{d}"),
                media_type: None,
            })
            .collect(),
        registry_authorization: Some("Bearer pull-token".into()),
    }
}

#[tokio::test]
async fn posts_the_chain_base_first_and_reads_the_top() {
    let (url, fake) = fake_clair().await;
    let clair = ClairLegacy::new(url, Duration::from_secs(5)).unwrap();
    let scanned = clair
        .scan(&image(&["sha256:base", EMPTY_LAYER, "sha256:top"]))
        .await
        .unwrap();
    let ScanOutcome::Finished(report) = scanned else {
        panic!("finished expected")
    };
    assert_eq!(report.vulnerabilities.len(), 1);
    let v = &report.vulnerabilities[0];
    assert_eq!((v.id.as_str(), v.severity), ("CVE-2016-6304", Severity::Critical));
    assert_eq!(
        (v.package.as_deref(), v.fixed_in.as_deref()),
        (Some("openssl"), Some("1.0.1t-1+deb8u4"))
    );
    assert_eq!(fake.layers.lock().unwrap().len(), 2, "the empty layer is skipped");

    // The same top blob in another chain gets its own name: no "parent layer is unknown".
    clair.scan(&image(&["sha256:other-base", "sha256:top"])).await.unwrap();
    assert_eq!(fake.layers.lock().unwrap().len(), 4);
    clair.health().await.unwrap();
}

#[tokio::test]
async fn errors_are_never_clean() {
    let (url, fake) = fake_clair().await;
    let clair = ClairLegacy::new(url, Duration::from_secs(5)).unwrap();
    *fake.fail_with.lock().unwrap() = Some((500, "database is down"));
    let err = clair.scan(&image(&["sha256:a"])).await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    *fake.fail_with.lock().unwrap() = Some((422, "could not extract layer"));
    let err = clair.scan(&image(&["sha256:a"])).await.unwrap_err();
    assert!(!err.is_temporary(), "422 is not retried: {err}");
    *fake.fail_with.lock().unwrap() = None;
    *fake.null_features.lock().unwrap() = true;
    assert!(
        clair.scan(&image(&["sha256:a"])).await.is_err(),
        "Features: null is not a clean report"
    );
    assert!(
        clair.scan(&image(&[EMPTY_LAYER])).await.is_err(),
        "nothing to scan is an error"
    );
    *fake.null_features.lock().unwrap() = false;
    assert!(
        matches!(
            clair.scan(&image(&["sha256:a"])).await.unwrap(),
            ScanOutcome::Finished(_)
        ),
        "recovers"
    );
}

#[tokio::test]
async fn slow_malformed_and_down_scanners_are_errors() {
    let (url, fake) = fake_clair().await;
    let clair = ClairLegacy::new(url, Duration::from_secs(1)).unwrap();
    *fake.slow.lock().unwrap() = true;
    assert!(
        clair.scan(&image(&["sha256:a"])).await.unwrap_err().is_temporary(),
        "a timeout is temporary"
    );
    *fake.slow.lock().unwrap() = false;
    *fake.malformed.lock().unwrap() = true;
    let err = clair.scan(&image(&["sha256:a"])).await.unwrap_err();
    assert!(!err.is_temporary(), "{err}");
    *fake.malformed.lock().unwrap() = false;
    assert!(
        matches!(
            clair.scan(&image(&["sha256:a"])).await.unwrap(),
            ScanOutcome::Finished(_)
        ),
        "recovers"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = ClairLegacy::new(
        format!("http://127.0.0.1:{port}/").parse().unwrap(),
        Duration::from_secs(1),
    )
    .unwrap();
    assert!(down.scan(&image(&["sha256:a"])).await.unwrap_err().is_temporary());
    assert!(down.health().await.is_err());
}

/// A stand-in for Clair v2's health listener: `GET /health` answers `status`, nothing else
/// is served there (as in Clair, whose API is on another port).
async fn fake_health(status: Status) -> u16 {
    let app = axum::Router::new().route("/health", get(move || async move { status }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

#[tokio::test]
async fn health_asks_the_health_port_as_configured() {
    // The API is down: only the health listener answers, so health must go there.
    let api = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let healthy = fake_health(Status::OK).await;
    let settings = ClairLegacySettings {
        server: format!("http://127.0.0.1:{api}/"),
        timeout: 5,
        health_port: healthy,
    };
    let clair = settings.build().unwrap().unwrap();
    clair.health().await.unwrap();

    // Clair answers 500 on /health when its database does not answer.
    let sick = fake_health(Status::INTERNAL_SERVER_ERROR).await;
    let clair = ClairLegacySettings {
        health_port: sick,
        ..settings.clone()
    }
    .build()
    .unwrap()
    .unwrap();
    assert!(clair.health().await.is_err(), "a 500 on /health is unhealthy");

    // Nothing listening on the health port: unhealthy, though the API itself answers.
    let (api_url, _fake) = fake_clair().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clair = ClairLegacySettings {
        server: api_url.to_string(),
        timeout: 5,
        health_port: closed,
    }
    .build()
    .unwrap()
    .unwrap();
    assert!(clair.health().await.is_err());

    let zero = ClairLegacySettings {
        health_port: 0,
        ..settings
    };
    assert!(zero.validate().unwrap_err().to_string().contains("health_port"));
}

/// The shared `SecurityBackend` suite against the strict fake Clair v2. Clair v2 analyses a
/// layer while it is posted, so it has no pending state.
mod conformance {
    use std::sync::Arc;

    use async_trait::async_trait;
    use portus_core::testing::{ScannerFixture, ScannerState};

    use super::*;

    struct FakeClairV2(Url, Fake);

    #[async_trait]
    impl ScannerFixture for FakeClairV2 {
        async fn backend(&self, state: ScannerState) -> Option<Arc<dyn SecurityBackend>> {
            let fake = &self.1;
            *fake.fail_with.lock().unwrap() = None;
            *fake.malformed.lock().unwrap() = false;
            let url = match state {
                ScannerState::Healthy => self.0.clone(),
                ScannerState::ServerError => {
                    *fake.fail_with.lock().unwrap() = Some((500, "database is down"));
                    self.0.clone()
                }
                ScannerState::InvalidResponse => {
                    *fake.malformed.lock().unwrap() = true;
                    self.0.clone()
                }
                ScannerState::Unreachable => crate::backend::closed_url(),
                _ => return None,
            };
            Some(Arc::new(ClairLegacy::new(url, Duration::from_secs(5)).unwrap()))
        }

        fn image(&self) -> ImageRef {
            image(&["sha256:base", "sha256:top"])
        }
    }

    portus_core::security_backend_conformance!(async {
        let (url, fake) = fake_clair().await;
        FakeClairV2(url, fake)
    });
}

proptest::proptest! {
    /// Any JSON Clair v2 might send for a layer: a report, "no features" or a parse error,
    /// never a panic; one finding per (feature, vulnerability).
    #[test]
    fn any_layer_answer_converts_without_panic(value in crate::backend::arbitrary_json(&[
        "Layer", "Features", "Name", "Version", "Vulnerabilities", "Severity", "FixedBy", "Link",
        "Description", "NamespaceName",
    ])) {
        if let Ok(response) = serde_json::from_value::<super::LayerResponse>(value)
            && let Some(features) = response.layer.and_then(|l| l.features)
        {
            let expected: usize = features.iter().map(|f| f.vulnerabilities.len()).sum();
            proptest::prop_assert_eq!(super::convert(features).vulnerabilities.len(), expected);
        }
    }
}
