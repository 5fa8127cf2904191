//! `portus doctor`: checks what a registry set-up needs, the inverse of `portus config
//! registry`. It gathers facts (the registry's `config.yml`, its `/v2/` challenge and `Date`,
//! a catalog request with portus' own token, the realm, each scanner) and prints one line per
//! check; the decisions are the pure functions of [`checks`].

mod checks;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use portus_auth::{SigningKey, TokenIssuer};
use portus_core::access::GrantedAccess;
use portus_core::traits::VulnerabilityData;

use checks::{Expected, Finding, Level, RealmProbe, RegistryPing};

use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// Arguments of `portus doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The registry's config.yml, compared with what portus expects (realm, service, issuer,
    /// rootcertbundle, notifications endpoint and secret). Without it only the live checks run.
    #[arg(long, value_name = "FILE")]
    pub registry_config: Option<PathBuf>,
    /// Vulnerability data older than this many days is a warning.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub max_data_age_days: u32,
}

/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn run(config: &Config, paths: &DataPaths, args: DoctorArgs) -> Result<(), Error> {
    let mut findings = Vec::new();
    if let Some(warning) = config.unreachable_public_url() {
        findings.push(Finding::warning("public_url", warning, "set public_url in portus.toml"));
    }
    let mut key = signing_key(paths, &mut findings);
    let expected = expected(config, paths, key.as_ref(), &mut findings)?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(config.registry.connect_timeout_secs))
        .timeout(PROBE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Config(format!("cannot make an HTTP client: {e}")))?;

    let mut realm = None;
    match &args.registry_config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let yaml =
                checks::parse_registry_yaml(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
            findings.extend(checks::check_registry_config(&expected, &yaml));
            match &yaml.rootcertbundle {
                Some(bundle) => {
                    let bundle_path = resolve(path, bundle);
                    let certificates = read_certificates(&bundle_path);
                    findings.extend(checks::check_rootcertbundle(
                        &expected,
                        &bundle_path.display().to_string(),
                        &certificates,
                    ));
                }
                None if yaml.realm.is_some() => findings.push(Finding::problem(
                    "rootcertbundle",
                    "auth.token.rootcertbundle is missing",
                    "set auth.token.rootcertbundle to the file `portus config registry` names",
                )),
                None => {}
            }
            realm = yaml.realm.clone();
        }
        None => findings.push(Finding::skipped(
            "registry config",
            "no --registry-config: the registry's config.yml (rootcertbundle, notifications secret) was not read",
        )),
    }

    match &config.registry.url {
        Some(url) => {
            let base = url.as_str().trim_end_matches('/').to_owned();
            let (ping, date) = ping_registry(&http, &base).await;
            if let RegistryPing::Answered {
                challenge: Some(challenge),
                ..
            } = &ping
                && realm.is_none()
            {
                realm = checks::parse_challenge(challenge)
                    .and_then(|(_, params)| params.into_iter().find(|(k, _)| k == "realm").map(|(_, v)| v));
            }
            let reachable = matches!(ping, RegistryPing::Answered { .. });
            findings.extend(checks::check_registry_ping(&expected, &base, &ping));
            if reachable {
                findings.push(checks::check_clock(date, Utc::now()));
                match key.take() {
                    Some(key) => {
                        let answer = catalog(&http, &base, config, key).await;
                        findings.push(checks::check_catalog(&config.registry.service_account, &answer));
                    }
                    None => findings.push(Finding::skipped(
                        "catalog access",
                        "no signing key to sign a token with",
                    )),
                }
            }
        }
        None => findings.push(Finding::skipped(
            "registry",
            "registry.url is not set in portus.toml: the registry's challenge, clock and catalog were not checked",
        )),
    }

    let realm = realm.unwrap_or_else(|| expected.realm.clone());
    let probe = probe_realm(&http, &realm, &expected.service).await;
    findings.push(checks::check_realm_probe(&expected, &realm, &probe));

    let scanner = app::scanner(config)?;
    let max_age = TimeDelta::days(i64::from(args.max_data_age_days));
    for backend in scanner.backends() {
        let health = match tokio::time::timeout(PROBE_TIMEOUT, backend.health()).await {
            Ok(result) => result.map_err(|e| error_chain(&e)),
            Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
        };
        let data: Result<VulnerabilityData, String> =
            match tokio::time::timeout(PROBE_TIMEOUT, backend.vulnerability_data()).await {
                Ok(result) => result.map_err(|e| error_chain(&e)),
                Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
            };
        findings.extend(checks::check_scanner(
            backend.name(),
            &health,
            &data,
            Utc::now(),
            max_age,
        ));
    }
    report(&findings)
}

/// Prints the findings and fails when one is a problem.
fn report(findings: &[Finding]) -> Result<(), Error> {
    for finding in findings {
        let label = match finding.level {
            Level::Ok => "ok",
            Level::Skipped => "skipped",
            Level::Warning => "warning",
            Level::Problem => "PROBLEM",
        };
        println!("{label:<8} {:<19} {}", finding.check, finding.message);
        if let Some(fix) = &finding.fix {
            println!("{:<28} fix: {fix}", "");
        }
    }
    let count = |level| findings.iter().filter(|f| f.level == level).count();
    let (problems, warnings) = (count(Level::Problem), count(Level::Warning));
    println!("{problems} problem(s), {warnings} warning(s)");
    if problems > 0 {
        return Err(Error::Unhealthy(format!(
            "portus doctor found {problems} problem(s): apply the fixes above"
        )));
    }
    Ok(())
}

fn error_chain(error: &dyn std::error::Error) -> String {
    std::iter::successors(error.source(), |s| s.source()).fold(error.to_string(), |text, source| {
        let source = source.to_string();
        if text.contains(&source) {
            text
        } else {
            format!("{text}: {source}")
        }
    })
}

/// The signing key as `portus serve` uses it, without generating one.
fn signing_key(paths: &DataPaths, findings: &mut Vec<Finding>) -> Option<SigningKey> {
    if !paths.key.exists() {
        findings.push(Finding::problem(
            "signing key",
            format!("there is no signing key at {} yet", paths.key.display()),
            "run `portus config registry` (or start `portus serve`) to generate it, or set token.key",
        ));
        return None;
    }
    let loaded = SigningKey::from_pem_file(&paths.key)
        .map_err(|e| e.to_string())
        .and_then(|key| match &paths.certificate {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|pem| {
                    key.with_certificate_chain_pem(&pem)
                        .map_err(|e| format!("{}: {e}", path.display()))
                }),
            None => Ok(key),
        });
    match loaded {
        Ok(key) => {
            findings.push(Finding::ok(
                "signing key",
                format!("{} ({}, kid {})", paths.key.display(), key.algorithm(), key.kid()),
            ));
            Some(key)
        }
        Err(why) => {
            findings.push(Finding::problem(
                "signing key",
                format!("the signing key cannot be used: {why}"),
                "fix token.key and token.certificate in portus.toml",
            ));
            None
        }
    }
}

fn expected(
    config: &Config,
    paths: &DataPaths,
    key: Option<&SigningKey>,
    findings: &mut Vec<Finding>,
) -> Result<Expected, Error> {
    let base = config.public_url();
    let mut previous_certificates = Vec::new();
    for path in &config.token.previous_certificates {
        match read_certificates(path) {
            Ok(certificates) => {
                previous_certificates.extend(certificates.into_iter().map(|c| (path.display().to_string(), c)));
            }
            Err(why) => findings.push(Finding::warning(
                "previous certificate",
                format!("cannot read {}: {why}", path.display()),
                "fix token.previous_certificates in portus.toml",
            )),
        }
    }
    Ok(Expected {
        realm: format!("{base}/v2/token"),
        service: config.token.service.clone(),
        issuer: config.token.issuer.clone(),
        webhook_url: format!("{base}/v2/webhooks/events"),
        webhook_authorization: format!("Bearer {}", paths.webhook_secret()?),
        signing_key_spki: key.map(|k| k.public_key_der().to_vec()),
        previous_certificates,
    })
}

/// A path of the registry's configuration, relative ones taken from the file's directory.
fn resolve(config_file: &Path, value: &str) -> PathBuf {
    let path = Path::new(value);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    config_file.parent().unwrap_or(Path::new(".")).join(path)
}

/// The DER certificates of a PEM file.
fn read_certificates(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let certificates = pem_certificates(&text)?;
    if certificates.is_empty() {
        return Err("no CERTIFICATE block".into());
    }
    Ok(certificates)
}

fn pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut certificates = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (&mut current, line) {
            (None, "-----BEGIN CERTIFICATE-----") => current = Some(String::new()),
            (Some(body), "-----END CERTIFICATE-----") => {
                let der = data_encoding::BASE64
                    .decode(body.as_bytes())
                    .map_err(|e| format!("a CERTIFICATE block is not base64: {e}"))?;
                certificates.push(der);
                current = None;
            }
            (Some(body), line) => body.push_str(line),
            (None, _) => {}
        }
    }
    Ok(certificates)
}

/// `GET /v2/` without credentials: the challenge and the registry's `Date`.
async fn ping_registry(http: &reqwest::Client, base: &str) -> (RegistryPing, Option<DateTime<Utc>>) {
    match http.get(format!("{base}/v2/")).send().await {
        Ok(response) => {
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let date = header(reqwest::header::DATE)
                .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
                .map(|d| d.with_timezone(&Utc));
            let ping = RegistryPing::Answered {
                status: response.status().as_u16(),
                challenge: header(reqwest::header::WWW_AUTHENTICATE),
            };
            (ping, date)
        }
        Err(e) => (RegistryPing::Unreachable(error_chain(&e)), None),
    }
}

/// `GET /v2/_catalog?n=1` with a token portus signs for its service account, as the sync does.
async fn catalog(http: &reqwest::Client, base: &str, config: &Config, key: SigningKey) -> Result<u16, String> {
    let issuer = TokenIssuer::new(
        key,
        config.token.issuer.clone(),
        Duration::from_secs(config.token.lifetime_secs),
        config.token.x5c,
    )
    .map_err(|e| e.to_string())?;
    let access = [GrantedAccess {
        resource_type: "registry".into(),
        name: "catalog".into(),
        actions: vec!["*".into()],
    }];
    let token = issuer
        .issue(&config.registry.service_account, &config.token.service, &access)
        .map_err(|e| e.to_string())?;
    let response = http
        .get(format!("{base}/v2/_catalog?n=1"))
        .bearer_auth(token.token)
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    Ok(response.status().as_u16())
}

/// `GET <realm>?service=<service>` without credentials: a portus answers with an anonymous
/// token carrying its issuer.
async fn probe_realm(http: &reqwest::Client, realm: &str, service: &str) -> RealmProbe {
    let mut url = match url::Url::parse(realm) {
        Ok(url) => url,
        Err(e) => return RealmProbe::Unreachable(format!("not a URL: {e}")),
    };
    url.query_pairs_mut().append_pair("service", service);
    let response = match http.get(url).send().await {
        Ok(response) => response,
        Err(e) => return RealmProbe::Unreachable(error_chain(&e)),
    };
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if status == 200
        && let Ok(answer) = serde_json::from_str::<serde_json::Value>(&body)
        && let Some(token) = answer.get("token").and_then(|t| t.as_str())
    {
        let issuer = token
            .split('.')
            .nth(1)
            .and_then(|claims| data_encoding::BASE64URL_NOPAD.decode(claims.as_bytes()).ok())
            .and_then(|claims| serde_json::from_slice::<serde_json::Value>(&claims).ok())
            .and_then(|claims| claims.get("iss").and_then(|i| i.as_str()).map(str::to_owned));
        return RealmProbe::Token { issuer };
    }
    RealmProbe::Other {
        status,
        body: body.chars().take(200).collect(),
    }
}
