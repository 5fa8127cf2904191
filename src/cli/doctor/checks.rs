//! The decisions of `portus doctor`: pure functions from gathered facts to findings, each
//! problem with its fix. Nothing here does I/O, so every rule is unit-tested.

use chrono::{DateTime, TimeDelta, Utc};
use portus_core::traits::VulnerabilityData;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// The check passed.
    Ok,
    /// The check could not run (a fact is missing); nothing is known to be wrong.
    Skipped,
    /// Works, but something may go wrong (stale data, a certificate missing for old tokens).
    Warning,
    /// Something that breaks pushes, pulls, sync or scans.
    Problem,
}

/// One checked thing and its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// How bad it is.
    pub(crate) level: Level,
    /// Short name of the check (`service`, `realm`, ...).
    pub(crate) check: &'static str,
    /// What was found.
    pub(crate) message: String,
    /// What to change, for warnings and problems.
    pub(crate) fix: Option<String>,
}

impl Finding {
    fn new(level: Level, check: &'static str, message: String, fix: Option<String>) -> Self {
        Finding {
            level,
            check,
            message,
            fix,
        }
    }

    pub(crate) fn ok(check: &'static str, message: impl Into<String>) -> Self {
        Self::new(Level::Ok, check, message.into(), None)
    }

    pub(crate) fn skipped(check: &'static str, message: impl Into<String>) -> Self {
        Self::new(Level::Skipped, check, message.into(), None)
    }

    pub(crate) fn warning(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(Level::Warning, check, message.into(), Some(fix.into()))
    }

    pub(crate) fn problem(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(Level::Problem, check, message.into(), Some(fix.into()))
    }
}

/// What portus expects of the registry's set-up (from its own configuration).
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    /// `<public_url>/v2/token`.
    pub(crate) realm: String,
    /// `token.service`.
    pub(crate) service: String,
    /// `token.issuer`.
    pub(crate) issuer: String,
    /// `<public_url>/v2/webhooks/events`.
    pub(crate) webhook_url: String,
    /// `Bearer <webhook secret>`: never printed.
    pub(crate) webhook_authorization: String,
    /// DER SubjectPublicKeyInfo of the current signing key, when the key could be read.
    pub(crate) signing_key_spki: Option<Vec<u8>>,
    /// `token.previous_certificates`: file name and DER of each certificate.
    pub(crate) previous_certificates: Vec<(String, Vec<u8>)>,
}

/// One notification endpoint of the registry's `config.yml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) name: String,
    pub(crate) url: String,
    /// The values of its `Authorization` header.
    pub(crate) authorization: Vec<String>,
    pub(crate) disabled: bool,
}

/// What the registry's `config.yml` says (only the keys doctor checks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RegistryYaml {
    pub(crate) realm: Option<String>,
    pub(crate) service: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) rootcertbundle: Option<String>,
    /// Whether `auth` has another scheme than `token` (htpasswd, silly).
    pub(crate) other_auth: Option<String>,
    pub(crate) endpoints: Vec<Endpoint>,
}

/// Reads the parts of a registry `config.yml` doctor checks.
pub(crate) fn parse_registry_yaml(text: &str) -> Result<RegistryYaml, String> {
    use serde_yaml_ng::Value;
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let string = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let mut yaml = RegistryYaml::default();
    if let Some(auth) = doc.get("auth").and_then(Value::as_mapping) {
        if let Some(token) = auth.get("token") {
            yaml.realm = string(token.get("realm"));
            yaml.service = string(token.get("service"));
            yaml.issuer = string(token.get("issuer"));
            yaml.rootcertbundle = string(token.get("rootcertbundle"));
        }
        yaml.other_auth = auth
            .keys()
            .filter_map(Value::as_str)
            .find(|k| *k != "token")
            .map(str::to_owned);
    }
    let endpoints = doc
        .get("notifications")
        .and_then(|n| n.get("endpoints"))
        .and_then(Value::as_sequence);
    for endpoint in endpoints.into_iter().flatten() {
        let authorization = endpoint.get("headers").and_then(Value::as_mapping).and_then(|headers| {
            headers
                .iter()
                .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case("authorization")))
                .map(|(_, v)| v)
        });
        let authorization = match authorization {
            Some(Value::Sequence(values)) => values.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(Value::String(value)) => vec![value.clone()],
            _ => Vec::new(),
        };
        yaml.endpoints.push(Endpoint {
            name: string(endpoint.get("name")).unwrap_or_default(),
            url: string(endpoint.get("url")).unwrap_or_default(),
            authorization,
            disabled: endpoint.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    Ok(yaml)
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Compares the registry's `config.yml` with what portus expects: realm, service, issuer,
/// the notification endpoint and its secret.
pub(crate) fn check_registry_config(expected: &Expected, actual: &RegistryYaml) -> Vec<Finding> {
    let mut findings = Vec::new();
    if actual.realm.is_none() && actual.service.is_none() && actual.issuer.is_none() {
        let what = match &actual.other_auth {
            Some(other) => format!("the registry's auth section uses `{other}`, not portus' tokens"),
            None => "the registry's config.yml has no auth.token section: anyone can push and pull".into(),
        };
        findings.push(Finding::problem(
            "auth",
            what,
            "replace the registry's auth section with the one `portus config registry` prints",
        ));
    } else {
        findings.push(match &actual.realm {
            Some(realm) if same_url(realm, &expected.realm) => {
                Finding::ok("realm", format!("auth.token.realm is {realm}"))
            }
            Some(realm) => Finding::warning(
                "realm",
                format!(
                    "auth.token.realm is {realm}, but portus' public_url makes it {}",
                    expected.realm
                ),
                format!(
                    "set auth.token.realm: {} in the registry's config.yml, or public_url in portus.toml to the \
                     address clients use",
                    expected.realm
                ),
            ),
            None => Finding::problem(
                "realm",
                "auth.token.realm is missing",
                format!("set auth.token.realm: {} in the registry's config.yml", expected.realm),
            ),
        });
        findings.push(compare_key(
            "service",
            "auth.token.service",
            actual.service.as_deref(),
            &expected.service,
            "token.service",
        ));
        findings.push(compare_key(
            "issuer",
            "auth.token.issuer",
            actual.issuer.as_deref(),
            &expected.issuer,
            "token.issuer",
        ));
    }
    findings.push(check_notifications(expected, &actual.endpoints));
    findings
}

fn compare_key(check: &'static str, key: &str, actual: Option<&str>, expected: &str, ours: &str) -> Finding {
    match actual {
        Some(value) if value == expected => Finding::ok(check, format!("{key} is {value:?}, as portus' {ours}")),
        Some(value) => Finding::problem(
            check,
            format!("{key} is {value:?} but portus' {ours} is {expected:?}: the registry refuses every token"),
            format!("set {key}: {expected:?} in the registry's config.yml (or {ours} = {value:?} in portus.toml)"),
        ),
        None => Finding::problem(
            check,
            format!("{key} is missing"),
            format!("set {key}: {expected:?} in the registry's config.yml"),
        ),
    }
}

/// The notification endpoint that reaches portus' webhook, and its secret.
fn check_notifications(expected: &Expected, endpoints: &[Endpoint]) -> Finding {
    let fix_header = "set its headers to `Authorization: [\"Bearer <secret>\"]` with the value `portus config \
                      registry` prints (the secret is in the data directory's webhook.secret)";
    let ours: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|e| !e.disabled)
        .filter(|e| url::Url::parse(&e.url).is_ok_and(|u| u.path().trim_end_matches('/') == "/v2/webhooks/events"))
        .collect();
    let Some(endpoint) = ours.first() else {
        return Finding::problem(
            "notifications",
            "no enabled notifications endpoint points at portus' /v2/webhooks/events: pushes and deletions \
             reach portus only at the next catalog sync",
            format!(
                "add the notifications endpoint `portus config registry` prints (url: {})",
                expected.webhook_url
            ),
        );
    };
    if !endpoint
        .authorization
        .iter()
        .any(|a| a == &expected.webhook_authorization)
    {
        let what = if endpoint.authorization.is_empty() {
            "sends no Authorization header"
        } else {
            "sends another secret than portus' webhook.secret"
        };
        return Finding::problem(
            "notifications",
            format!(
                "notifications endpoint {:?} ({}) {what}: portus refuses its events with 401",
                endpoint.name, endpoint.url
            ),
            fix_header,
        );
    }
    if !same_url(&endpoint.url, &expected.webhook_url) {
        return Finding::ok(
            "notifications",
            format!(
                "notifications endpoint {:?} sends events to {} with portus' secret (public_url would make it {}: \
                 fine if the registry reaches portus by another name)",
                endpoint.name, endpoint.url, expected.webhook_url
            ),
        );
    }
    Finding::ok(
        "notifications",
        format!(
            "notifications endpoint {:?} sends events to {} with portus' secret",
            endpoint.name, endpoint.url
        ),
    )
}

/// Whether the registry's `rootcertbundle` (the DER certificates read from it) trusts the
/// current signing key (by public key, not file name) and keeps the previous certificates.
pub(crate) fn check_rootcertbundle(
    expected: &Expected,
    path: &str,
    bundle: &Result<Vec<Vec<u8>>, String>,
) -> Vec<Finding> {
    let certificates = match bundle {
        Ok(certificates) => certificates,
        Err(why) => {
            return vec![Finding::problem(
                "rootcertbundle",
                format!("cannot read the registry's rootcertbundle {path}: {why}"),
                "point auth.token.rootcertbundle at the certificate file `portus config registry` names (run \
                 doctor where the registry's files are, or copy the file there)",
            )];
        }
    };
    let mut findings = Vec::new();
    match &expected.signing_key_spki {
        None => findings.push(Finding::skipped(
            "rootcertbundle",
            "portus' signing key could not be read, so the bundle was not compared",
        )),
        Some(spki) if certificates.iter().any(|der| contains(der, spki)) => findings.push(Finding::ok(
            "rootcertbundle",
            format!("{path} holds the certificate of portus' current signing key"),
        )),
        Some(_) => findings.push(Finding::problem(
            "rootcertbundle",
            format!(
                "{path} has {} certificate(s), none for portus' current signing key: the registry refuses every \
                 token",
                certificates.len()
            ),
            "set auth.token.rootcertbundle to the file `portus config registry` names (or copy token.certificate \
             into the bundle) and restart the registry",
        )),
    }
    for (name, der) in &expected.previous_certificates {
        if !certificates.iter().any(|c| c == der) {
            findings.push(Finding::warning(
                "rootcertbundle",
                format!(
                    "{path} lacks the previous certificate {name}: tokens it signed are refused before they expire"
                ),
                "use the bundle `portus config registry` writes (rootcertbundle.pem in the data directory)",
            ));
        }
    }
    findings
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The registry's `WWW-Authenticate` challenge parameters (`Bearer realm="…",service="…"`).
pub(crate) fn parse_challenge(header: &str) -> Option<(String, Vec<(String, String)>)> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.push((key.trim().to_ascii_lowercase(), value.to_owned()));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Some((scheme.to_owned(), params))
}

/// What `GET <registry>/v2/` without credentials answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegistryPing {
    /// No answer.
    Unreachable(String),
    /// An answer: its status and `WWW-Authenticate` header.
    Answered { status: u16, challenge: Option<String> },
}

/// Checks the registry's challenge: token auth on, sending clients to portus for its service.
pub(crate) fn check_registry_ping(expected: &Expected, registry: &str, ping: &RegistryPing) -> Vec<Finding> {
    let (status, challenge) = match ping {
        RegistryPing::Unreachable(why) => {
            return vec![Finding::problem(
                "registry",
                format!("cannot reach the registry at {registry}: {why}"),
                "start the registry, or set registry.url in portus.toml to the address portus reaches it at",
            )];
        }
        RegistryPing::Answered { status, challenge } => (*status, challenge.as_deref()),
    };
    if status == 200 {
        return vec![Finding::problem(
            "registry",
            format!("{registry}/v2/ answers 200 without credentials: the registry does not use portus' tokens"),
            "add the auth section `portus config registry` prints to the registry's config.yml",
        )];
    }
    let parsed = challenge.and_then(parse_challenge);
    let Some((_, params)) = parsed.filter(|(s, _)| s.eq_ignore_ascii_case("bearer")) else {
        return vec![Finding::problem(
            "registry",
            format!(
                "{registry}/v2/ answers {status} without a Bearer challenge ({}): it does not use token auth",
                challenge.unwrap_or("no WWW-Authenticate header")
            ),
            "add the auth section `portus config registry` prints to the registry's config.yml",
        )];
    };
    let param = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let mut findings = vec![Finding::ok("registry", format!("{registry} asks for tokens"))];
    match param("realm") {
        Some(realm) if same_url(realm, &expected.realm) => findings.push(Finding::ok(
            "challenge realm",
            format!("the registry sends clients to {realm}"),
        )),
        Some(realm) => findings.push(Finding::warning(
            "challenge realm",
            format!(
                "the registry sends clients to {realm}, portus' public_url makes it {}",
                expected.realm
            ),
            format!(
                "set auth.token.realm: {} in the registry's config.yml, or public_url in portus.toml",
                expected.realm
            ),
        )),
        None => findings.push(Finding::problem(
            "challenge realm",
            "the registry's challenge has no realm",
            format!("set auth.token.realm: {} in the registry's config.yml", expected.realm),
        )),
    }
    match param("service") {
        Some(service) if service == expected.service => findings.push(Finding::ok(
            "challenge service",
            format!("the registry asks for service {service:?}"),
        )),
        Some(service) => findings.push(Finding::problem(
            "challenge service",
            format!(
                "the registry asks for service {service:?} but portus' token.service is {:?}",
                expected.service
            ),
            format!(
                "set auth.token.service: {:?} in the registry's config.yml and restart it",
                expected.service
            ),
        )),
        None => findings.push(Finding::problem(
            "challenge service",
            "the registry's challenge names no service",
            format!(
                "set auth.token.service: {:?} in the registry's config.yml",
                expected.service
            ),
        )),
    }
    findings
}

/// What `GET <realm>?service=<service>` without credentials answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RealmProbe {
    /// No answer.
    Unreachable(String),
    /// A token (anonymous, no access); `issuer` is its `iss` claim if readable.
    Token { issuer: Option<String> },
    /// Another answer: status and the start of the body.
    Other { status: u16, body: String },
}

/// Checks that the realm is a portus token endpoint for our service and issuer.
pub(crate) fn check_realm_probe(expected: &Expected, realm: &str, probe: &RealmProbe) -> Finding {
    match probe {
        RealmProbe::Unreachable(why) => Finding::problem(
            "realm reachable",
            format!("the realm {realm} cannot be reached: {why}"),
            "start `portus serve`, or set public_url in portus.toml (and auth.token.realm in the registry's \
             config.yml) to the address clients reach portus at",
        ),
        RealmProbe::Token { issuer: Some(issuer) } if issuer != &expected.issuer => Finding::problem(
            "realm reachable",
            format!(
                "the realm {realm} issues tokens as {issuer:?}, not as this portus ({:?}): another token server \
                 answers there",
                expected.issuer
            ),
            "point auth.token.realm at this portus, or run doctor with this portus' configuration",
        ),
        RealmProbe::Token { .. } => Finding::ok("realm reachable", format!("{realm} issues tokens")),
        RealmProbe::Other { body, .. } if body.contains("unknown service") => Finding::problem(
            "realm reachable",
            format!("the realm {realm} refuses service {:?}: {body}", expected.service),
            "the realm is a portus with another token.service: point auth.token.realm at this portus",
        ),
        RealmProbe::Other { status, body } => Finding::problem(
            "realm reachable",
            format!("the realm {realm} answers {status}, not a token: {body}"),
            format!(
                "point auth.token.realm (and public_url) at portus' token endpoint, {}",
                expected.realm
            ),
        ),
    }
}

/// Checks a catalog request made with a token for portus' service account.
pub(crate) fn check_catalog(account: &str, answer: &Result<u16, String>) -> Finding {
    match answer {
        Ok(200) => Finding::ok(
            "catalog access",
            format!("the registry accepts tokens of the service account {account:?} (catalog listed)"),
        ),
        Ok(401) => Finding::problem(
            "catalog access",
            format!("the registry refuses a token portus signed for {account:?}: sync and scans cannot read it"),
            "make auth.token.service, auth.token.issuer and auth.token.rootcertbundle match portus (see the \
             checks above, and the registry's log for the reason)",
        ),
        Ok(status) => Finding::problem(
            "catalog access",
            format!("the catalog request with portus' token answered {status}"),
            "check the registry's log; the catalog must be readable for portus' sync",
        ),
        Err(why) => Finding::problem(
            "catalog access",
            format!("the catalog request failed: {why}"),
            "check registry.url in portus.toml",
        ),
    }
}

/// Checks the registry's clock (its `Date` header) against ours: the registry allows 60 s
/// of leeway on `nbf`/`exp`, portus back-dates `nbf` by 5 s.
pub(crate) fn check_clock(registry_date: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Finding {
    let Some(date) = registry_date else {
        return Finding::skipped("clock", "the registry sent no readable Date header");
    };
    let skew = (date - now).num_seconds();
    let fix = "synchronize both machines' clocks (NTP)";
    if skew.abs() >= 60 {
        Finding::problem(
            "clock",
            format!("the registry's clock is {skew:+} s off portus': tokens are refused as not yet valid or expired"),
            fix,
        )
    } else if skew.abs() > 10 {
        Finding::warning("clock", format!("the registry's clock is {skew:+} s off portus'"), fix)
    } else {
        Finding::ok(
            "clock",
            format!("the registry's clock is within {} s of portus'", skew.abs().max(1)),
        )
    }
}

/// Checks one scanner: reachable, with vulnerability data no older than `max_age`.
pub(crate) fn check_scanner(
    name: &str,
    health: &Result<(), String>,
    data: &Result<VulnerabilityData, String>,
    now: DateTime<Utc>,
    max_age: TimeDelta,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Err(why) = health {
        findings.push(Finding::problem(
            "scanner",
            format!("{name} is not healthy: {why}"),
            format!("start {name} or fix its [security] section in portus.toml; scans fail until then"),
        ));
        return findings;
    }
    findings.push(Finding::ok("scanner", format!("{name} answers")));
    let refresh = format!("let {name} update its vulnerability data (or import it, when air-gapped)");
    findings.push(match data {
        Ok(VulnerabilityData::Missing) => Finding::warning(
            "vulnerability data",
            format!("{name} has no vulnerability data yet: its reports are empty, not clean"),
            refresh,
        ),
        Ok(VulnerabilityData::UpdatedAt { at }) if now - *at > max_age => Finding::warning(
            "vulnerability data",
            format!(
                "{name}'s vulnerability data is {} days old (updated {})",
                (now - *at).num_days(),
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            refresh,
        ),
        Ok(VulnerabilityData::UpdatedAt { at }) => Finding::ok(
            "vulnerability data",
            format!(
                "{name}'s vulnerability data was updated {}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ),
        Ok(_) => Finding::skipped("vulnerability data", format!("{name} does not say how old its data is")),
        Err(why) => Finding::warning(
            "vulnerability data",
            format!("{name} did not say how old its data is: {why}"),
            refresh,
        ),
    });
    findings
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
