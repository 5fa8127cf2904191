//! End to end: the `harbor` backend drives real Trivy v0.74.0 against the real registry
//! (Debian's Distribution 2.8, token auth by portus), with an offline Trivy database the test
//! writes, and its findings are merged with Clair v4's, each attributed.
//!
//! The Harbor adapter is a stand-in: the Go module proxy here does not serve
//! `github.com/goharbor/harbor-scanner-trivy`, so [`TrivyAdapter`] below follows its documented
//! behaviour (shared/reference/real-components.md §3: routes, 202/302/404/415/500, the
//! byte-exact 1.1 `Accept`, how it runs Trivy and turns Trivy's JSON into the Harbor 1.1
//! report, severity map included). Trivy, its database format, the registry and the pull
//! token are real. Clair is the `FakeClairV4` stand-in of the harness.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as AxumPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::harness::{
    BackgroundServer, Creds, FakeClairV4, Portus, Registry, free_port, go_tool, http_get, oci_layout_with_files, run,
    skopeo_copy,
};

const REPORT_1_1: &str = "application/vnd.security.vulnerability.report; version=1.1";
const ERROR_TYPE: &str = "application/vnd.scanner.adapter.error; version=1.0";

#[derive(Clone)]
enum Job {
    Running,
    Done(Value),
    Failed(String),
}

#[derive(Clone)]
struct Adapter {
    trivy: PathBuf,
    cache: PathBuf,
    reports: PathBuf,
    jobs: Arc<Mutex<HashMap<String, Job>>>,
    /// `registry.authorization` of every scan request.
    authorizations: Arc<Mutex<Vec<String>>>,
    count: Arc<AtomicUsize>,
}

/// A Harbor scanner adapter that runs Trivy as harbor-scanner-trivy v0.38.0 does.
struct TrivyAdapter {
    addr: SocketAddr,
    state: Adapter,
    _server: BackgroundServer,
}

impl TrivyAdapter {
    fn start(trivy: PathBuf, cache: PathBuf, reports: PathBuf) -> TrivyAdapter {
        std::fs::create_dir_all(&reports).unwrap();
        let state = Adapter {
            trivy,
            cache,
            reports,
            jobs: Arc::default(),
            authorizations: Arc::default(),
            count: Arc::default(),
        };
        let shared = state.clone();
        let server = BackgroundServer::start(move || {
            axum::Router::new()
                .route("/api/v1/scan", axum::routing::post(scan))
                .route("/api/v1/scan/{id}/report", axum::routing::get(report))
                .route("/api/v1/metadata", axum::routing::get(metadata))
                .with_state(shared)
        });
        TrivyAdapter {
            addr: server.addr,
            state,
            _server: server,
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"message": message}}).to_string();
    (status, [("content-type", ERROR_TYPE)], body).into_response()
}

/// `POST /api/v1/scan`: 422 without a usable registry URL, repository or digest; otherwise a
/// 24-hex id at once (202) while Trivy runs in the background.
async fn scan(State(adapter): State<Adapter>, body: axum::body::Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid JSON");
    };
    let url = request["registry"]["url"]
        .as_str()
        .and_then(|u| url::Url::parse(u).ok());
    let repository = request["artifact"]["repository"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let digest = request["artifact"]["digest"].as_str().unwrap_or_default().to_owned();
    let Some(url) = url.filter(|_| !repository.is_empty() && !digest.is_empty()) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid scan request");
    };
    let authorization = request["registry"]["authorization"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    adapter.authorizations.lock().unwrap().push(authorization.clone());
    let id = format!("{:024x}", adapter.count.fetch_add(1, Ordering::SeqCst) + 1);
    adapter.jobs.lock().unwrap().insert(id.clone(), Job::Running);
    let job = id.clone();
    std::thread::spawn(move || {
        let outcome = run_trivy(&adapter, &job, &url, &repository, &digest, &authorization);
        let state = match outcome {
            Ok(report) => Job::Done(report),
            Err(message) => Job::Failed(message),
        };
        adapter.jobs.lock().unwrap().insert(job, state);
    });
    let body = json!({"id": id}).to_string();
    let content_type = "application/vnd.scanner.adapter.scan.response+json; version=1.0";
    (StatusCode::ACCEPTED, [("content-type", content_type)], body).into_response()
}

/// `trivy image` with the adapter's flags (pkg/trivy/wrapper.go), the registry credentials
/// in Trivy's environment variables, and the settings of an offline run (§3.6).
fn run_trivy(
    adapter: &Adapter,
    id: &str,
    registry: &url::Url,
    repository: &str,
    digest: &str,
    authorization: &str,
) -> Result<Value, String> {
    let host = registry.host_str().unwrap_or_default();
    let port = registry.port_or_known_default().unwrap_or(80);
    let reference = format!("{host}:{port}/{repository}@{digest}");
    let output_file = adapter.reports.join(format!("{id}.json"));
    let mut command = Command::new(&adapter.trivy);
    command
        .args([
            "image",
            "--no-progress",
            "--severity",
            "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL",
        ])
        // The adapter passes --vuln-type, which Trivy v0.74.0 keeps as an alias of this.
        .args(["--pkg-types", "os,library", "--format", "json", "--output"])
        .arg(&output_file)
        .arg("--cache-dir")
        .arg(&adapter.cache)
        .args(["--timeout", "5m0s", "--scanners", "vuln"])
        .args(["--skip-db-update", "--skip-java-db-update", "--offline-scan"])
        .env("TRIVY_SKIP_VERSION_CHECK", "true")
        .env("TRIVY_DISABLE_TELEMETRY", "true")
        .env("TRIVY_IMAGE_SRC", "remote");
    if registry.scheme() == "http" {
        command.arg("--insecure");
    }
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        command.env("TRIVY_REGISTRY_TOKEN", token);
    } else if let Some(basic) = authorization.strip_prefix("Basic ") {
        let decoded = data_encoding::BASE64
            .decode(basic.as_bytes())
            .map_err(|e| e.to_string())?;
        let decoded = String::from_utf8(decoded).map_err(|e| e.to_string())?;
        let (user, password) = decoded.split_once(':').ok_or("bad Basic credentials")?;
        command.env("TRIVY_USERNAME", user).env("TRIVY_PASSWORD", password);
    } else if !authorization.is_empty() {
        return Err(format!("unsupported authorization type: {authorization}"));
    }
    let output = run(command.arg(&reference));
    if !output.status.success() {
        return Err(format!(
            "running trivy wrapper: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let trivy: Value =
        serde_json::from_slice(&std::fs::read(&output_file).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    if trivy["SchemaVersion"] != 2 {
        return Err(format!("unsupported trivy report schema: {}", trivy["SchemaVersion"]));
    }
    Ok(harbor_report(&trivy, repository, digest))
}

/// Trivy's JSON as the adapter's transformer (pkg/scan/transformer.go) turns it into a Harbor
/// 1.1 report: CRITICAL…UNKNOWN → Critical…Unknown, `links` = the primary URL (else the
/// references), CVSS under `vendor_attributes`, no `severity`/`vulnerabilities` when clean.
fn harbor_report(trivy: &Value, repository: &str, digest: &str) -> Value {
    let order = ["Unknown", "Low", "Medium", "High", "Critical"];
    let mut highest: Option<usize> = None;
    let mut items = Vec::new();
    for result in trivy["Results"].as_array().into_iter().flatten() {
        for v in result["Vulnerabilities"].as_array().into_iter().flatten() {
            let severity = match v["Severity"].as_str().unwrap_or_default() {
                "CRITICAL" => "Critical",
                "HIGH" => "High",
                "MEDIUM" => "Medium",
                "LOW" => "Low",
                _ => "Unknown",
            };
            let rank = order.iter().position(|s| *s == severity).unwrap();
            highest = highest.max(Some(rank));
            let links = match v["PrimaryURL"].as_str().filter(|u| !u.is_empty()) {
                Some(url) => json!([url]),
                None => v["References"].clone(),
            };
            items.push(json!({
                "id": v["VulnerabilityID"], "package": v["PkgName"], "version": v["InstalledVersion"],
                "fix_version": v["FixedVersion"], "severity": severity, "description": v["Description"],
                "links": links, "status": v["Status"],
                "layer": {"digest": v["Layer"]["Digest"], "diff_id": v["Layer"]["DiffID"]},
                "vendor_attributes": {"CVSS": v["CVSS"]},
            }));
        }
    }
    let mut report = json!({
        "generated_at": chrono::Utc::now().to_rfc3339(),
        "artifact": {"repository": repository, "digest": digest},
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.74.0"},
    });
    if let Some(rank) = highest {
        report["severity"] = json!(order[rank]);
        report["vulnerabilities"] = Value::Array(items);
    }
    report
}

/// `GET /api/v1/scan/{id}/report`: the `Accept` must be empty, `*/*` or exactly the 1.1
/// type (415 otherwise); 404 for an unknown id, 302 back to itself while Trivy runs, 500 with
/// Trivy's error when it failed.
async fn report(State(adapter): State<Adapter>, headers: HeaderMap, AxumPath(id): AxumPath<String>) -> Response {
    let accept = headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !accept.is_empty() && accept != "*/*" && accept != REPORT_1_1 {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("unsupported media type: {accept}"),
        );
    }
    let job = adapter.jobs.lock().unwrap().get(&id).cloned();
    match job {
        None => error(StatusCode::NOT_FOUND, &format!("cannot find scan job: {id}")),
        Some(Job::Running) => (StatusCode::FOUND, [("location", format!("/api/v1/scan/{id}/report"))]).into_response(),
        Some(Job::Failed(message)) => error(StatusCode::INTERNAL_SERVER_ERROR, &message),
        Some(Job::Done(report)) => (StatusCode::OK, [("content-type", REPORT_1_1)], report.to_string()).into_response(),
    }
}

/// `GET /api/v1/metadata`, the database time from `trivy version --format json`.
async fn metadata(State(adapter): State<Adapter>) -> Response {
    let output = run(Command::new(&adapter.trivy)
        .arg("--cache-dir")
        .arg(&adapter.cache)
        .args(["version", "--format", "json"]));
    let Ok(version) = serde_json::from_slice::<Value>(&output.stdout) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "trivy version failed");
    };
    let mut properties = json!({"harbor.scanner-adapter/scanner-type": "os-package-vulnerability"});
    if let Some(at) = version["VulnerabilityDB"]["UpdatedAt"].as_str() {
        properties["harbor.scanner-adapter/vulnerability-database-updated-at"] = json!(at);
    }
    let body = json!({
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": version["Version"]},
        "capabilities": [{"type": "vulnerability",
            "consumes_mime_types": ["application/vnd.oci.image.manifest.v1+json",
                                    "application/vnd.docker.distribution.manifest.v2+json"],
            "produces_mime_types": [REPORT_1_1]}],
        "properties": properties,
    });
    let content_type = "application/vnd.scanner.adapter.metadata+json; version=1.0";
    ([("content-type", content_type)], body.to_string()).into_response()
}

/// An OCI layout whose `tag` is a one-layer Alpine 3.22-like image with the apk package
/// testpkg 1.0.0-r0 (the fixture of real-components.md §1.7).
fn alpine_layout(dir: &Path, tag: &str) {
    oci_layout_with_files(
        dir,
        tag,
        &[
            (
                "etc/os-release",
                b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.22.1\nPRETTY_NAME=\"Alpine Linux v3.22\"\n",
            ),
            (
                "lib/apk/db/installed",
                b"P:testpkg\nV:1.0.0-r0\nA:x86_64\no:testpkg\n\n",
            ),
        ],
    );
}

/// The stored scan result of `reference` (`portus scan --stored --json`).
fn stored(portus: &Portus, reference: &str) -> Value {
    let output = portus.try_cli(&["scan", reference, "--stored", "--json"], None);
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

#[test]
fn trivy_behind_a_harbor_adapter_finds_the_advisory_and_merges_with_clair() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("trivy-cache");
    let made = run(Command::new(go_tool("trivy-db-fixture")).arg(&cache));
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let adapter = TrivyAdapter::start(go_tool("trivy"), cache, tmp.path().join("reports"));
    let clair = FakeClairV4::start();

    let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut portus = Portus::new(tmp.path(), "registry.harbor", "");
    portus.append_config(&format!(
        "[registry]\nurl = \"http://{registry_addr}\"\n[security]\ninterval_secs = 1\nretry_after_secs = 1\n\
         [security.harbor]\nserver = \"http://{}/\"\n[security.clair_v4]\nserver = \"http://{}/\"\n",
        adapter.addr, clair.addr
    ));
    // The registry sends clients to portus' token endpoint; the go-containerregistry in Trivy
    // refuses a realm that is a loopback IP literal (SSRF guard) but not a host name.
    let realm = format!("http://{}/v2/token", portus.addr);
    let yaml = portus.cli(&["config", "registry"], None);
    assert!(yaml.contains(&realm), "{yaml}");
    let yaml = yaml.replace(&realm, &format!("http://localhost:{}/v2/token", portus.addr.port()));
    portus.start();
    let registry = Registry::start_on(tmp.path(), &yaml, registry_addr);
    portus.user("alice", "alice-password");
    let layout = tmp.path().join("alpine-like");
    alpine_layout(&layout, "1.0");
    let pushed = skopeo_copy(
        &format!("oci:{}:1.0", layout.display()),
        Creds::Anonymous,
        &format!("docker://{}/alice/app:1.0", registry.addr),
        Creds::User("alice", "alice-password"),
    );
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));

    // The background worker submits, polls while Trivy runs, and stores the report.
    let deadline = Instant::now() + Duration::from_secs(180);
    let result = loop {
        let result = stored(&portus, "alice/app:1.0");
        let harbor = result["backends"]["harbor"].as_str().unwrap_or_default().to_owned();
        if result["status"] == "done" {
            break result;
        }
        assert!(!harbor.starts_with("failed"), "{result}\nportus log:\n{}", portus.log());
        assert!(
            Instant::now() < deadline,
            "not scanned in time: {result}\nportus log:\n{}",
            portus.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        result["backends"],
        json!({"clair": "done", "harbor": "done"}),
        "{result}"
    );

    // The adapter was handed the registry and a pull token portus minted; Trivy used it.
    let authorizations = adapter.state.authorizations.lock().unwrap().clone();
    assert!(
        !authorizations.is_empty() && authorizations.iter().all(|a| a.starts_with("Bearer ey")),
        "{authorizations:?}"
    );

    // Through the API, for alice with an application token: both scanners' findings, each
    // attributed to its backend.
    let token = portus.cli(&["token", "create", "alice", "--name", "api"], None);
    let token = token.lines().last().unwrap();
    let tags: Value = serde_json::from_str(&portus.cli(&["tag", "list", "--json"], None)).unwrap();
    let id = tags[0]["id"].as_i64().unwrap();
    let response = http_get(
        portus.addr,
        &format!("/api/v1/tags/{id}/vulnerabilities"),
        &[("Portus-Auth", &format!("alice:{token}"))],
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let findings = body["security"]["vulnerabilities"].as_array().unwrap().clone();
    let by_id = |id: &str| findings.iter().find(|v| v["id"] == id).cloned().unwrap_or(Value::Null);
    let trivy = by_id("CVE-2099-0001");
    assert_eq!(trivy["found_by"], json!(["harbor"]), "{body}");
    assert_eq!(trivy["severity"], "High");
    assert_eq!(trivy["packages"], json!([["testpkg", "1.0.0-r0"]]));
    assert_eq!(trivy["fixed_in"], json!(["1.0.0-r1"]));
    assert!(
        trivy["description"]
            .as_str()
            .unwrap_or_default()
            .contains("portus test fixtures"),
        "{trivy}"
    );
    let clair_finding = by_id("CVE-2016-6304");
    assert_eq!(clair_finding["found_by"], json!(["clair"]), "{body}");
    assert_eq!(findings.len(), 2, "{body}");

    // The database time the adapter reports (Trivy's metadata.json, written by the fixture).
    let settings = portus_scan::backend::harbor::HarborSettings {
        server: format!("http://{}/", adapter.addr),
        ..Default::default()
    };
    let backend = settings.build().unwrap().unwrap();
    let data = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(portus_core::SecurityBackend::vulnerability_data(&backend))
        .unwrap();
    assert_eq!(
        data,
        portus_core::traits::VulnerabilityData::UpdatedAt {
            at: "2026-01-01T00:00:00Z".parse().unwrap()
        }
    );
}
