//! Each rule of `portus doctor`, without I/O.

use super::*;

const SECRET: &str = "Bearer s3cret";

fn expected() -> Expected {
    Expected {
        realm: "http://portus.example:5001/v2/token".into(),
        service: "registry.example.com".into(),
        issuer: "portus.example".into(),
        webhook_url: "http://portus.example:5001/v2/webhooks/events".into(),
        webhook_authorization: SECRET.into(),
        signing_key_spki: Some(vec![0x30, 1, 2, 3, 4, 5]),
        previous_certificates: vec![("old.crt".into(), vec![0x30, 9, 9, 9])],
    }
}

fn good_yaml() -> String {
    "version: 0.1\nauth:\n  token:\n    realm: \"http://portus.example:5001/v2/token\"\n    service: \"registry.example.com\"\n    \
     issuer: \"portus.example\"\n    rootcertbundle: \"/etc/registry/portus.crt\"\nnotifications:\n  endpoints:\n    - name: portus\n      \
     url: \"http://portus.example:5001/v2/webhooks/events\"\n      headers:\n        Authorization: [\"Bearer s3cret\"]\n"
        .into()
}

fn levels(findings: &[Finding]) -> Vec<(&'static str, Level)> {
    findings.iter().map(|f| (f.check, f.level)).collect()
}

fn only_problem<'a>(findings: &'a [Finding], check: &str) -> &'a Finding {
    let problems: Vec<&Finding> = findings.iter().filter(|f| f.level == Level::Problem).collect();
    assert_eq!(problems.len(), 1, "{findings:#?}");
    assert_eq!(problems[0].check, check, "{findings:#?}");
    problems[0]
}

#[test]
fn the_yaml_portus_prints_passes() {
    let yaml = parse_registry_yaml(&good_yaml()).unwrap();
    assert_eq!(yaml.rootcertbundle.as_deref(), Some("/etc/registry/portus.crt"));
    let findings = check_registry_config(&expected(), &yaml);
    assert!(findings.iter().all(|f| f.level == Level::Ok), "{findings:#?}");
    assert_eq!(
        levels(&findings),
        [
            ("realm", Level::Ok),
            ("service", Level::Ok),
            ("issuer", Level::Ok),
            ("notifications", Level::Ok)
        ]
    );
}

#[test]
fn a_wrong_service_is_a_problem_with_its_fix() {
    let yaml =
        parse_registry_yaml(&good_yaml().replace("service: \"registry.example.com\"", "service: \"other\"")).unwrap();
    let findings = check_registry_config(&expected(), &yaml);
    let problem = only_problem(&findings, "service");
    assert!(problem.message.contains("\"other\""), "{problem:?}");
    assert_eq!(
        problem.fix.as_deref().unwrap().split(" in ").next(),
        Some("set auth.token.service: \"registry.example.com\"")
    );
}

#[test]
fn a_wrong_or_missing_issuer_is_a_problem() {
    let yaml = parse_registry_yaml(&good_yaml().replace("issuer: \"portus.example\"", "issuer: \"portus\"")).unwrap();
    let problem = only_problem(&check_registry_config(&expected(), &yaml), "issuer").clone();
    assert!(problem.fix.unwrap().contains("auth.token.issuer: \"portus.example\""));
    let yaml = parse_registry_yaml(&good_yaml().replace("    issuer: \"portus.example\"\n", "")).unwrap();
    let problem = only_problem(&check_registry_config(&expected(), &yaml), "issuer").clone();
    assert!(problem.message.contains("missing"), "{problem:?}");
}

#[test]
fn a_registry_without_token_auth_is_a_problem() {
    let yaml = parse_registry_yaml("auth:\n  htpasswd:\n    realm: basic\n    path: /x\n").unwrap();
    let findings = check_registry_config(&expected(), &yaml);
    assert!(
        findings
            .iter()
            .any(|f| f.check == "auth" && f.level == Level::Problem && f.message.contains("htpasswd"))
    );
    let findings = check_registry_config(&expected(), &parse_registry_yaml("version: 0.1\n").unwrap());
    assert!(findings.iter().any(|f| f.check == "auth" && f.level == Level::Problem));
    assert!(parse_registry_yaml(": : [").is_err());
}

#[test]
fn another_realm_is_a_warning() {
    let yaml =
        parse_registry_yaml(&good_yaml().replace("portus.example:5001/v2/token", "portus.internal/v2/token")).unwrap();
    let findings = check_registry_config(&expected(), &yaml);
    assert_eq!(findings[0].check, "realm");
    assert_eq!(findings[0].level, Level::Warning);
}

#[test]
fn the_webhook_secret_must_match() {
    for (from, to, says) in [
        ("Bearer s3cret", "Bearer wrong", "another secret"),
        (
            "      headers:\n        Authorization: [\"Bearer s3cret\"]\n",
            "",
            "no Authorization",
        ),
    ] {
        let yaml = parse_registry_yaml(&good_yaml().replace(from, to)).unwrap();
        let findings = check_registry_config(&expected(), &yaml);
        let problem = only_problem(&findings, "notifications");
        assert!(problem.message.contains(says), "{problem:?}");
        assert!(!format!("{problem:?}").contains("s3cret"), "the secret is never shown");
    }
    // A single string header value is read too, and the name is case-insensitive.
    let yaml =
        parse_registry_yaml(&good_yaml().replace("Authorization: [\"Bearer s3cret\"]", "authorization: Bearer s3cret"))
            .unwrap();
    assert!(
        check_registry_config(&expected(), &yaml)
            .iter()
            .all(|f| f.level == Level::Ok)
    );
}

#[test]
fn notifications_must_reach_the_webhook() {
    let yaml = parse_registry_yaml(&good_yaml().replace("/v2/webhooks/events", "/hooks")).unwrap();
    let problem = only_problem(&check_registry_config(&expected(), &yaml), "notifications").clone();
    assert!(
        problem
            .fix
            .unwrap()
            .contains("http://portus.example:5001/v2/webhooks/events")
    );
    let yaml =
        parse_registry_yaml(&good_yaml().replace("    - name: portus\n", "    - name: portus\n      disabled: true\n"))
            .unwrap();
    only_problem(&check_registry_config(&expected(), &yaml), "notifications");
    // Another host name for portus (an internal address) is fine.
    let yaml = parse_registry_yaml(&good_yaml().replace("portus.example:5001/v2/webhooks", "portus:5001/v2/webhooks"))
        .unwrap();
    assert!(
        check_registry_config(&expected(), &yaml)
            .iter()
            .all(|f| f.level == Level::Ok)
    );
}

#[test]
fn the_bundle_must_hold_the_current_key_and_should_keep_previous_certificates() {
    let current = vec![0x30, 0xff, 0x30, 1, 2, 3, 4, 5, 0xee];
    let previous = vec![0x30, 9, 9, 9];
    let other = vec![0x30, 7, 7, 7, 7, 7, 7, 7];
    let check = |certs: Vec<Vec<u8>>| check_rootcertbundle(&expected(), "/b.pem", &Ok(certs));
    assert_eq!(
        levels(&check(vec![current.clone(), previous.clone()])),
        [("rootcertbundle", Level::Ok)]
    );
    let missing_current = check(vec![other.clone(), previous.clone()]);
    assert!(
        only_problem(&missing_current, "rootcertbundle")
            .message
            .contains("none for portus' current signing key")
    );
    let missing_previous = check(vec![current.clone()]);
    assert_eq!(
        levels(&missing_previous),
        [("rootcertbundle", Level::Ok), ("rootcertbundle", Level::Warning)]
    );
    let unreadable = check_rootcertbundle(&expected(), "/b.pem", &Err("no such file".into()));
    assert!(
        only_problem(&unreadable, "rootcertbundle")
            .message
            .contains("no such file")
    );
    let no_key = Expected {
        signing_key_spki: None,
        previous_certificates: vec![],
        ..expected()
    };
    assert_eq!(
        levels(&check_rootcertbundle(&no_key, "/b.pem", &Ok(vec![other]))),
        [("rootcertbundle", Level::Skipped)]
    );
}

#[test]
fn challenges_are_parsed() {
    let (scheme, params) =
        parse_challenge(r#"Bearer realm="http://p:5001/v2/token",service="registry, the one",scope="x:y:pull""#)
            .unwrap();
    assert_eq!(scheme, "Bearer");
    assert_eq!(
        params,
        [
            ("realm".to_owned(), "http://p:5001/v2/token".to_owned()),
            ("service".to_owned(), "registry, the one".to_owned()),
            ("scope".to_owned(), "x:y:pull".to_owned())
        ]
    );
    assert_eq!(
        parse_challenge("Basic realm=x").unwrap().1,
        [("realm".to_owned(), "x".to_owned())]
    );
    assert!(parse_challenge("Bearer realm=\"unterminated").is_none());
}

#[test]
fn the_registry_challenge_names_portus() {
    let ping = |challenge: &str| RegistryPing::Answered {
        status: 401,
        challenge: Some(challenge.into()),
    };
    let good = ping(r#"Bearer realm="http://portus.example:5001/v2/token",service="registry.example.com""#);
    assert!(
        check_registry_ping(&expected(), "r", &good)
            .iter()
            .all(|f| f.level == Level::Ok)
    );
    let wrong = ping(r#"Bearer realm="http://portus.example:5001/v2/token",service="registry""#);
    let findings = check_registry_ping(&expected(), "r", &wrong);
    assert!(
        only_problem(&findings, "challenge service")
            .fix
            .as_deref()
            .unwrap()
            .contains("\"registry.example.com\"")
    );
    let open = RegistryPing::Answered {
        status: 200,
        challenge: None,
    };
    only_problem(&check_registry_ping(&expected(), "r", &open), "registry");
    let basic = ping("Basic realm=\"x\"");
    only_problem(&check_registry_ping(&expected(), "r", &basic), "registry");
    let down = RegistryPing::Unreachable("connection refused".into());
    assert!(
        only_problem(&check_registry_ping(&expected(), "r", &down), "registry")
            .message
            .contains("refused")
    );
}

#[test]
fn the_realm_must_answer_with_our_tokens() {
    let e = expected();
    let realm = &e.realm;
    assert_eq!(
        check_realm_probe(
            &e,
            realm,
            &RealmProbe::Token {
                issuer: Some("portus.example".into())
            }
        )
        .level,
        Level::Ok
    );
    for probe in [
        RealmProbe::Unreachable("connection refused".into()),
        RealmProbe::Token {
            issuer: Some("old-portus".into()),
        },
        RealmProbe::Other {
            status: 404,
            body: "not found".into(),
        },
        RealmProbe::Other {
            status: 400,
            body: "unknown service 'x'".into(),
        },
    ] {
        let finding = check_realm_probe(&e, realm, &probe);
        assert_eq!(finding.level, Level::Problem, "{probe:?}");
        assert!(finding.fix.is_some());
    }
}

#[test]
fn catalog_answers() {
    assert_eq!(check_catalog("portus", &Ok(200)).level, Level::Ok);
    for answer in [Ok(401), Ok(500), Err("timeout".to_owned())] {
        assert_eq!(check_catalog("portus", &answer).level, Level::Problem);
    }
}

#[test]
fn clock_skew() {
    let now = Utc::now();
    assert_eq!(check_clock(Some(now + TimeDelta::seconds(3)), now).level, Level::Ok);
    assert_eq!(
        check_clock(Some(now - TimeDelta::seconds(30)), now).level,
        Level::Warning
    );
    let far = check_clock(Some(now + TimeDelta::seconds(120)), now);
    assert_eq!(far.level, Level::Problem);
    assert!(far.message.contains("+120"), "{far:?}");
    assert_eq!(check_clock(None, now).level, Level::Skipped);
}

#[test]
fn scanners_must_answer_with_fresh_data() {
    let now = Utc::now();
    let week = TimeDelta::days(7);
    let check = |health: Result<(), String>, data: Result<VulnerabilityData, String>| {
        levels(&check_scanner("clair", &health, &data, now, week))
    };
    let fresh = VulnerabilityData::UpdatedAt {
        at: now - TimeDelta::days(1),
    };
    let stale = VulnerabilityData::UpdatedAt {
        at: now - TimeDelta::days(30),
    };
    assert_eq!(
        check(Ok(()), Ok(fresh)),
        [("scanner", Level::Ok), ("vulnerability data", Level::Ok)]
    );
    assert_eq!(
        check(Ok(()), Ok(stale)),
        [("scanner", Level::Ok), ("vulnerability data", Level::Warning)]
    );
    assert_eq!(
        check(Ok(()), Ok(VulnerabilityData::Missing)),
        [("scanner", Level::Ok), ("vulnerability data", Level::Warning)]
    );
    assert_eq!(
        check(Ok(()), Ok(VulnerabilityData::Unknown)),
        [("scanner", Level::Ok), ("vulnerability data", Level::Skipped)]
    );
    assert_eq!(check(Err("down".into()), Ok(fresh)), [("scanner", Level::Problem)]);
    // The threshold is the caller's.
    let month = check_scanner("clair", &Ok(()), &Ok(stale), now, TimeDelta::days(31));
    assert_eq!(month[1].level, Level::Ok);
}
