use std::collections::BTreeSet;

use portus_core::policy::PushPolicy;
use portus_scan::sync::SyncStrategy;

use super::*;
use crate::config::Config;

const LOCAL: &str = include_str!("../../../tests/fixtures/portus/config-local.yml");

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn convert_with(local: Option<&str>, variables: &[(String, String)]) -> Conversion {
    convert(PortusSources {
        defaults: ("config.yml", PORTUS_DEFAULTS),
        local: local.map(|text| ("config-local.yml", text)),
        env: variables,
    })
    .unwrap()
}

/// The converted file, read back by this program's loader (no environment).
fn load_back(conversion: &Conversion) -> Config {
    let text = conversion.to_toml();
    Config::parse(&text, "converted", std::iter::empty()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn outcome<'a>(conversion: &'a Conversion, key: &str) -> &'a Outcome {
    &conversion
        .entries
        .iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no entry for {key}"))
        .outcome
}

#[test]
fn every_default_setting_is_carried_over_or_explained() {
    let conversion = convert_with(None, &[]);
    let paths = leaf_paths(&parse_yaml("defaults", PORTUS_DEFAULTS).unwrap());
    assert!(
        paths.len() > 90,
        "the defaults hold all of Portus' keys: {}",
        paths.len()
    );
    let keys: Vec<&str> = conversion.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, paths, "one entry per setting, in file order");
    for entry in &conversion.entries {
        assert_ne!(
            entry.outcome,
            Outcome::Unsupported(rules_unknown()),
            "{} has no rule",
            entry.key
        );
    }
    let text = conversion.to_toml();
    let (comments, _) = text.split_once("\n\n").unwrap();
    for entry in &conversion.entries {
        if !matches!(entry.outcome, Outcome::Mapped(_)) {
            assert!(
                comments.contains(&entry.key),
                "{} is not listed in the comments",
                entry.key
            );
        }
    }
    assert!(comments.contains("email.smtp.password") && comments.contains("write [email] by hand"));
    let config = load_back(&conversion);
    assert!(config.policy.delete_enabled && !config.policy.delete_contributors);
    assert_eq!(config.policy.push_images, PushPolicy::AllowTeams);
    assert_eq!(config.token.issuer, "portus.test.lan");
    assert_eq!(config.token.lifetime_secs, 15 * 60);
    assert_eq!(config.public_url(), "https://portus.test.lan");
    assert!(config.secure_cookies());
    assert_eq!(config.sync.strategy, SyncStrategy::Initial);
    assert_eq!(config.sync.interval_secs, 600);
    let registry = &config.registry;
    assert_eq!(
        (
            registry.connect_timeout_secs,
            registry.request_timeout_secs,
            registry.page_size
        ),
        (2, 120, 100)
    );
    assert!(config.ldap.is_none() && config.web.oidc.is_none());
    assert_eq!(config.security, crate::config::SecurityConfig::default(), "no scanner");
}

fn rules_unknown() -> String {
    "not a Portus 2.5 setting: nothing reads it".into()
}

#[test]
#[cfg(all(feature = "ldap", feature = "oidc", feature = "clair-legacy"))]
fn the_local_file_is_deep_merged_as_portus_does() {
    use portus_auth::ldap::TlsMethod;

    let conversion = convert_with(Some(LOCAL), &[]);
    let config = load_back(&conversion);
    let ldap = config.ldap.clone().expect("ldap.enabled: true");
    assert_eq!(ldap.hostname, "ldap.example.org");
    assert_eq!(ldap.port, Some(636), "the local value");
    assert_eq!(ldap.timeout, 5, "config.yml's value, kept by the deep merge");
    assert_eq!(ldap.uid, "uid");
    assert_eq!(ldap.encryption.method, TlsMethod::Ldaps);
    assert_eq!(
        ldap.encryption.ca_file.unwrap().to_str(),
        Some("/etc/portus/ldap-ca.pem")
    );
    assert_eq!(ldap.base, "ou=people,dc=example,dc=org");
    assert_eq!(ldap.admin_base.as_deref(), Some("ou=admins,dc=example,dc=org"));
    assert_eq!(ldap.group_base.as_deref(), Some("ou=groups,dc=example,dc=org"));
    assert_eq!(ldap.filter.as_deref(), Some("objectClass=inetOrgPerson"));
    let account = ldap.authentication.expect("authentication.enabled: true");
    assert_eq!(account.bind_dn, "cn=portus,ou=services,dc=example,dc=org");
    assert_eq!(account.password.expose(), "ldap-service-secret");
    assert!(ldap.guess_email.enabled, "`yes` is true in Ruby's YAML");
    assert_eq!(ldap.guess_email.attr, "mail");
    let oidc = config.web.oidc.clone().expect("openid_connect.enabled: true");
    assert_eq!(oidc.issuer, "https://id.example.org/realms/main");
    assert_eq!(oidc.client_id, "portus");
    assert_eq!(oidc.client_secret.as_deref(), Some("oidc-client-secret"));
    let github = config.web.github.clone().expect("github.enabled: true");
    assert_eq!(
        (github.client_id.as_str(), github.client_secret.as_str()),
        ("gh-client", "gh-client-secret")
    );
    assert_eq!(
        (github.organization.as_deref(), github.team.as_deref()),
        (Some("example"), None)
    );
    assert!(config.web.gitlab.is_none() && config.web.bitbucket.is_none());
    let google = config.web.google.clone().expect("google_oauth2.enabled: true");
    assert_eq!(
        (google.client_id.as_str(), google.client_secret.as_str()),
        ("google-client.apps.googleusercontent.com", "google-client-secret")
    );
    assert_eq!(google.hosted_domains, ["example.org"], "domain and options.hd, once");
    assert_eq!(config.policy.push_images, PushPolicy::AdminOnly);
    assert!(!config.policy.create_team && config.policy.manage_team);
    assert!(config.policy.delete_contributors);
    assert_eq!(config.sync.strategy, SyncStrategy::UpdateDelete);
    assert_eq!(config.token.lifetime_secs, 300);
    assert_eq!(config.token.issuer, "portus.example.org");
    assert_eq!(config.public_url(), "https://portus.example.org");
    assert_eq!(config.security.clair.server, "http://clair.example.org:6060");
    assert_eq!(
        (config.security.clair.timeout, config.security.clair.health_port),
        (300, 6061)
    );

    // What Portus ignored, and what is not carried over, is said so.
    assert!(matches!(outcome(&conversion, "ldap.method"), Outcome::Unsupported(r) if r.contains("Portus ignored it")));
    assert!(
        matches!(outcome(&conversion, "oauth.github.client_secret"), Outcome::Mapped(k) if k == &["web.github.client_secret"])
    );
    assert!(
        matches!(outcome(&conversion, "delete.garbage_collector.older_than"), Outcome::Unsupported(r) if r.contains("no garbage collector") && r.contains("retention.rules"))
    );
    assert!(matches!(outcome(&conversion, "signup.enabled"), Outcome::NotNeeded(_)));
    assert!(matches!(
        outcome(&conversion, "ldap.group_sync.default_role"),
        Outcome::Unsupported(_)
    ));
    let notes = conversion.attention.join("\n");
    assert!(
        notes.contains("[[ldap.groups]]") && notes.contains("role = \"contributor\""),
        "{notes}"
    );
    assert!(
        notes.contains("register <public_url>/sign_in/github/callback"),
        "{notes}"
    );
    let summary = conversion.summary();
    assert!(
        summary.contains("ldap.hostname → ldap.hostname") && summary.contains("ldap.method"),
        "{summary}"
    );
    assert!(
        notes.contains("register <public_url>/sign_in/google/callback"),
        "{notes}"
    );
    for secret in [
        "ldap-service-secret",
        "oidc-client-secret",
        "gh-client-secret",
        "google-client-secret",
    ] {
        assert!(!summary.contains(secret), "the report shows no values");
    }
}

#[test]
#[cfg(feature = "ldap")]
fn portus_variables_override_the_files_as_cconfig_reads_them() {
    let variables = env(&[
        ("PORTUS_DELETE_ENABLED", "FALSE"),
        ("PORTUS_LDAP_ENABLED", "true"),
        ("PORTUS_LDAP_HOSTNAME", "ldap2.example.org"),
        ("PORTUS_LDAP_PORT", "1389"),
        ("PORTUS_SECURITY_CLAIR_SERVER", "http://clair2:6060"),
        ("PORTUS_MACHINE_FQDN_VALUE", "auth.example.org"),
        ("PORTUS_KEY_PATH", "/srv/Portus/config/server.key"),
        ("PORTUS_SECRET_KEY_BASE", "rails-secret-value"),
        ("PORTUS_PASSWORD", "internal-user-password"),
        ("PORTUS_DB_ADAPTER", "postgresql"),
        ("PORTUS_DB_HOST", "db.example.org"),
        ("PORTUS_DB_PASSWORD", "database-password"),
        ("PORTUS_INIT_REGISTRY_HOSTNAME", "registry.example.org:5000"),
        ("PORTUS_INIT_REGISTRY_USE_SSL", "true"),
        ("PORTUS_TOKEN_SERVICE", "this-programs-own"),
        ("HOME", "/root"),
    ]);
    let conversion = convert_with(Some(LOCAL), &variables);
    let config = load_back(&conversion);
    assert!(
        !config.policy.delete_enabled,
        "FALSE from the environment beats the files"
    );
    let ldap = config.ldap.as_ref().unwrap();
    assert_eq!((ldap.hostname.as_str(), ldap.port), ("ldap2.example.org", Some(1389)));
    assert_eq!(config.security.clair.server, "http://clair2:6060");
    assert_eq!(config.token.issuer, "auth.example.org");
    assert_eq!(
        config.token.key.as_deref().and_then(|p| p.to_str()),
        Some("/srv/Portus/config/server.key")
    );
    assert_eq!(config.token.service, "registry.example.org:5000");
    assert_eq!(
        config.registry.url.as_ref().unwrap().as_str(),
        "https://registry.example.org:5000/"
    );

    let entry = conversion.entries.iter().find(|e| e.key == "delete.enabled").unwrap();
    assert_eq!(entry.variable.as_deref(), Some("PORTUS_DELETE_ENABLED"));
    assert!(
        matches!(outcome(&conversion, "PORTUS_DB_HOST"), Outcome::Unsupported(r) if r.contains("portus import portus"))
    );
    assert!(matches!(
        outcome(&conversion, "PORTUS_SECRET_KEY_BASE"),
        Outcome::NotNeeded(_)
    ));
    assert!(
        conversion
            .entries
            .iter()
            .all(|e| e.key != "PORTUS_TOKEN_SERVICE" && e.key != "HOME")
    );

    let summary = conversion.summary();
    for line in [
        "PORTUS_DELETE_ENABLED (delete.enabled) → policy.delete_enabled; `portus serve` reads it too, as policy.delete_enabled (its own name: PORTUS_POLICY_DELETE_ENABLED)",
        "PORTUS_LDAP_HOSTNAME (ldap.hostname) → ldap.hostname; `portus serve` does not read it: keep the file's value",
        "PORTUS_SECURITY_CLAIR_SERVER (security.clair.server) → security.clair.server; `portus serve` reads it under the same name",
        "PORTUS_KEY_PATH → token.key; `portus serve` reads it too, as token.key (its own name: PORTUS_TOKEN_KEY)",
        "PORTUS_DB_HOST not supported",
    ] {
        assert!(summary.contains(line), "missing '{line}' in:\n{summary}");
    }
    assert!(summary.contains("--database postgres://portus:$PORTUS_DB_PASSWORD@db.example.org/portus_production"));
    let text = conversion.to_toml();
    for secret in ["rails-secret-value", "internal-user-password", "database-password"] {
        assert!(
            !summary.contains(secret) && !text.contains(secret),
            "{secret} must not be written"
        );
    }
}

#[test]
fn portus_serve_reads_exact_equivalents_and_warns_about_the_rest() {
    let variables = env(&[
        ("PORTUS_DELETE_ENABLED", "false"),
        ("PORTUS_MACHINE_FQDN_VALUE", "portus.example.org"),
        ("PORTUS_REGISTRY_JWT_EXPIRATION_TIME_VALUE", "5"),
        ("PORTUS_KEY_PATH", "/srv/Portus/config/server.key"),
        ("PORTUS_USER_PERMISSION_PUSH_IMAGES_POLICY", "allow-personal"),
        ("PORTUS_REGISTRY_READ_TIMEOUT_VALUE", "120"),
        ("PORTUS_DELETE_CONTRIBUTORS", "true"),
        ("PORTUS_POLICY_DELETE_CONTRIBUTORS", "false"),
        ("PORTUS_LDAP_HOSTNAME", "ldap.example.org"),
        ("PORTUS_DB_HOST", "db"),
        ("PORTUS_SECURITY_DUMMY_SERVER", "x"),
        ("PORTUS_SOMETHING_ELSE", "x"),
    ]);
    let startup = startup_environment(&variables).unwrap();
    let notes: Vec<(&str, NoteLevel)> = startup.notes.iter().map(|n| (n.variable.as_str(), n.level)).collect();
    assert_eq!(
        notes,
        [
            ("PORTUS_DELETE_ENABLED", NoteLevel::Info),
            ("PORTUS_MACHINE_FQDN_VALUE", NoteLevel::Info),
            ("PORTUS_REGISTRY_JWT_EXPIRATION_TIME_VALUE", NoteLevel::Info),
            ("PORTUS_KEY_PATH", NoteLevel::Info),
            ("PORTUS_USER_PERMISSION_PUSH_IMAGES_POLICY", NoteLevel::Info),
            ("PORTUS_REGISTRY_READ_TIMEOUT_VALUE", NoteLevel::Info),
            ("PORTUS_DELETE_CONTRIBUTORS", NoteLevel::Warn),
            ("PORTUS_LDAP_HOSTNAME", NoteLevel::Warn),
            ("PORTUS_DB_HOST", NoteLevel::Warn),
        ],
        "this program's own variables (same name or not) and unknown ones get no note"
    );
    let message = |variable: &str| &startup.notes.iter().find(|n| n.variable == variable).unwrap().message;
    assert!(
        message("PORTUS_DELETE_ENABLED").contains("policy.delete_enabled")
            && message("PORTUS_DELETE_ENABLED").contains("PORTUS_POLICY_DELETE_ENABLED")
    );
    assert!(message("PORTUS_DELETE_CONTRIBUTORS").contains("PORTUS_POLICY_DELETE_CONTRIBUTORS is set and wins"));
    assert!(message("PORTUS_LDAP_HOSTNAME").contains("import-portus"));

    let config = Config::parse("", "test", variables.clone()).unwrap();
    assert!(!config.policy.delete_enabled);
    assert!(!config.policy.delete_contributors, "this program's own variable wins");
    assert_eq!(config.policy.push_images, PushPolicy::AllowPersonal);
    assert_eq!(config.token.issuer, "portus.example.org");
    assert_eq!(config.token.lifetime_secs, 300);
    assert_eq!(
        config.token.key.as_deref().and_then(|p| p.to_str()),
        Some("/srv/Portus/config/server.key")
    );
    assert_eq!(config.registry.request_timeout_secs, 120);

    for (variable, value) in [
        ("PORTUS_DELETE_ENABLED", "maybe"),
        ("PORTUS_REGISTRY_JWT_EXPIRATION_TIME_VALUE", "0"),
        ("PORTUS_USER_PERMISSION_PUSH_IMAGES_POLICY", "everyone"),
    ] {
        let err = Config::parse("", "test", env(&[(variable, value)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(variable), "{err}");
    }
}

#[test]
fn portus_files_and_settings_given_to_the_loader_point_to_the_converter() {
    let cases = [
        (
            "config.yml as it is",
            PORTUS_DEFAULTS.to_owned(),
            "is a Portus configuration (YAML)",
        ),
        (
            "config-local.yml as it is",
            LOCAL.to_owned(),
            "is a Portus configuration (YAML)",
        ),
        (
            "an ldap: block pasted into the TOML",
            "listen = \"127.0.0.1:5001\"\nldap:\n  enabled: true\n  hostname: \"ldap\"\n".to_owned(),
            "is a Portus configuration (YAML)",
        ),
        (
            "Portus' ldap keys written as TOML",
            "[ldap]\nenabled = true\nhostname = \"h\"\nbase = \"dc=x\"\n".to_owned(),
            "`ldap.enabled` is a Portus setting",
        ),
        (
            "Portus' service account switch",
            "[ldap]\nhostname = \"h\"\nbase = \"dc=x\"\n[ldap.authentication]\nenabled = true\n".to_owned(),
            "`ldap.authentication.enabled` is a Portus setting",
        ),
        (
            "a Portus section",
            "[machine_fqdn]\nvalue = \"portus.example.org\"\n".to_owned(),
            "`machine_fqdn` is a Portus setting",
        ),
        (
            "a Portus registry key",
            "[registry]\njwt_expiration_time = 5\n".to_owned(),
            "`registry.jwt_expiration_time` is a Portus setting",
        ),
    ];
    for (what, text, expected) in cases {
        let err = Config::parse(&text, "portus.toml", std::iter::empty())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{what}: {err}");
        assert!(err.contains("portus config import-portus"), "{what}: {err}");
    }
    let err = Config::parse("[token\n", "portus.toml", std::iter::empty())
        .unwrap_err()
        .to_string();
    assert!(
        !err.contains("import-portus"),
        "other TOML errors stay as they are: {err}"
    );
}

#[test]
fn odd_values_are_read_as_portus_read_them_with_a_note() {
    let local = "delete:\n  enabled: maybe\nuser_permission:\n  push_images:\n    policy: everyone\nbackground:\n  sync:\n    strategy: on-start\nldap:\n  enabled: true\n  hostname: h\n  base: dc=x\n  encryption:\n    method: tls\nregistry:\n  jwt_expiration_time:\n    value: soon\n";
    let conversion = convert_with(Some(local), &[]);
    let config = load_back(&conversion);
    assert!(!config.policy.delete_enabled, "not true, so off in Portus");
    assert_eq!(
        config.policy.push_images,
        PushPolicy::AdminOnly,
        "Portus let nobody push"
    );
    assert_eq!(config.sync.strategy, SyncStrategy::Update);
    assert_eq!(config.token.lifetime_secs, 900, "the default");
    let notes = conversion.attention.join("\n");
    for expected in [
        "delete.enabled: 'maybe' is not true or false",
        "user_permission.push_images.policy: 'everyone'",
        "--strategy update-delete",
        "ldap.encryption.method 'tls' is unknown",
        "registry.jwt_expiration_time.value: 'soon'",
    ] {
        assert!(notes.contains(expected), "missing '{expected}' in:\n{notes}");
    }

    let extra = convert(PortusSources {
        defaults: (
            "config.yml",
            "delete:\n  enabled: true\nshiny_new_feature:\n  enabled: true\n",
        ),
        local: None,
        env: &[],
    })
    .unwrap();
    assert_eq!(
        outcome(&extra, "shiny_new_feature.enabled"),
        &Outcome::Unsupported(rules_unknown())
    );

    for (text, expected) in [("- a\n- b\n", "expected a YAML mapping"), ("a: [\n", "not YAML")] {
        let err = convert(PortusSources {
            defaults: ("config.yml", PORTUS_DEFAULTS),
            local: Some(("config-local.yml", text)),
            env: &[],
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("config-local.yml") && err.contains(expected), "{err}");
    }
}

#[test]
fn every_variable_portus_reads_is_known() {
    let variables = portus_variables();
    for name in [
        "PORTUS_DELETE_ENABLED",
        "PORTUS_LDAP_HOSTNAME",
        "PORTUS_LDAP_AUTHENTICATION_BIND_DN",
        "PORTUS_SECURITY_CLAIR_SERVER",
        "PORTUS_MACHINE_FQDN_VALUE",
        "PORTUS_KEY_PATH",
        "PORTUS_SECRET_KEY_BASE",
        "PORTUS_PASSWORD",
        "PORTUS_DB_HOST",
        "PORTUS_DB_USERNAME",
        "PORTUS_DB_PASSWORD",
        "PORTUS_DB_DATABASE",
        "PORTUS_DB_ADAPTER",
        "PORTUS_DB_PORT",
    ] {
        assert!(variables.contains(name), "{name}");
    }
    let exact: BTreeSet<&str> = env::EXACT.iter().map(|rule| rule.ours).collect();
    for key in exact {
        assert!(crate::config::KEYS.contains(&key), "{key} is a key of this program");
    }
}

#[test]
fn openid_connect_without_the_password_form_is_carried_over_and_loads() {
    let local = "oauth:\n  local_login:\n    enabled: false\n  openid_connect:\n    enabled: true\n    issuer: \"https://id.example.org\"\n    identifier: \"portus\"\n    secret: \"s\"\n";
    let conversion = convert_with(Some(local), &[]);
    assert_eq!(
        outcome(&conversion, "oauth.local_login.enabled"),
        &Outcome::Mapped(vec!["web.local_login".into()])
    );
    let config = load_back(&conversion);
    assert!(!config.web.local_login);
    assert!(
        !config.web.signup,
        "Portus' default sign-up stays off without the password form"
    );
    // Without OpenID Connect nothing could replace the password form: not carried over.
    let alone = convert_with(Some("oauth:\n  local_login:\n    enabled: false\n"), &[]);
    assert!(load_back(&alone).web.local_login);
}

#[test]
#[cfg(feature = "oidc")]
fn gitlab_and_bitbucket_are_carried_over_with_their_restrictions() {
    let local = "oauth:\n  local_login:\n    enabled: false\n  gitlab:\n    enabled: true\n    application_id: \"app\"\n    secret: \"gl-secret\"\n    group: \"ops\"\n    domain: \"example.org\"\n    server: \"https://git.example.org\"\n  bitbucket:\n    enabled: true\n    key: \"key\"\n    secret: \"bb-secret\"\n    domain: \"\"\n    options:\n      team: \"acme\"\n";
    let conversion = convert_with(Some(local), &[]);
    let config = load_back(&conversion);
    assert!(
        !config.web.local_login,
        "GitLab and Bitbucket replace the password form"
    );
    let gitlab = config.web.gitlab.clone().expect("gitlab.enabled: true");
    assert_eq!(
        (
            gitlab.client_id.as_str(),
            gitlab.client_secret.as_str(),
            gitlab.base_url.as_str()
        ),
        ("app", "gl-secret", "https://git.example.org")
    );
    assert_eq!(
        (gitlab.group.as_deref(), gitlab.allowed_domains.clone()),
        (Some("ops"), vec!["example.org".to_owned()])
    );
    let bitbucket = config.web.bitbucket.clone().expect("bitbucket.enabled: true");
    assert_eq!(
        (bitbucket.client_id.as_str(), bitbucket.workspace.as_deref()),
        ("key", Some("acme"))
    );
    assert!(bitbucket.allowed_domains.is_empty());
    let notes = conversion.attention.join("\n");
    assert!(
        notes.contains("oauth.gitlab.group is now the group's full path"),
        "{notes}"
    );
    assert!(notes.contains("now a workspace slug"), "{notes}");
    assert!(config.web.github.is_none());
}

#[test]
fn anonymous_browsing_is_carried_over() {
    let off = convert_with(Some("anonymous_browsing:\n  enabled: false\n"), &[]);
    assert_eq!(
        outcome(&off, "anonymous_browsing.enabled"),
        &Outcome::Mapped(vec!["web.anonymous_browsing".into()])
    );
    assert!(!load_back(&off).web.anonymous_browsing);
    assert!(
        load_back(&convert_with(None, &[])).web.anonymous_browsing,
        "Portus' default: on"
    );
}
