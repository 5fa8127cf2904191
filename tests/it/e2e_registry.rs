//! End to end: a Distribution registry (Debian's 2.8, and 3 for the suites that matter to both)
//! delegates auth to `portus serve`, configured with `portus config registry`; users, teams and
//! namespaces are made with the CLI; `skopeo` pushes and pulls through the token flow.

use std::path::Path;
use std::process::{Command, Output};

use data_encoding::BASE64URL_NOPAD;

use crate::harness::{
    Creds, Flavour, Portus, Registry, against_both_registries, assert_denied, assert_ok, basic, free_port, http_get,
    oci_layout, require_program, run, skopeo_copy, status,
};

const SERVICE: &str = "registry.e2e";

// Fields drop in order: the servers stop (showing their logs if the test failed) before their
// directory is removed.
struct Setup {
    portus: Portus,
    registry: Registry,
    image: String,
    _tmp: tempfile::TempDir,
}

impl Setup {
    fn new(extra_token_toml: impl FnOnce(&Path) -> String) -> Setup {
        Self::with_flavour(Flavour::V2_8, extra_token_toml)
    }

    fn with_flavour(flavour: Flavour, extra_token_toml: impl FnOnce(&Path) -> String) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let extra = extra_token_toml(tmp.path());
        let mut portus = Portus::new(tmp.path(), SERVICE, &extra);
        let yaml = portus.cli(&["config", "registry"], None);
        assert!(
            yaml.starts_with("auth:\n") && yaml.contains("\nnotifications:\n"),
            "{yaml}"
        );
        portus.start();
        let registry = Registry::start_flavour(tmp.path(), &yaml, flavour);
        let image_dir = tmp.path().join("image");
        oci_layout(&image_dir, "1.0", "hello from the portus e2e test\n");
        let image = format!("oci:{}:1.0", image_dir.display());
        Setup {
            _tmp: tmp,
            portus,
            registry,
            image,
        }
    }

    fn reference(&self, repository_and_tag: &str) -> String {
        format!("docker://{}/{}", self.registry.addr, repository_and_tag)
    }

    fn push(&self, creds: Creds, target: &str) -> Output {
        skopeo_copy(&self.image, Creds::Anonymous, &self.reference(target), creds)
    }

    fn pull(&self, creds: Creds, source: &str) -> Output {
        let dest = tempfile::tempdir().unwrap();
        let output = skopeo_copy(
            &self.reference(source),
            creds,
            &format!("dir:{}", dest.path().display()),
            Creds::Anonymous,
        );
        if output.status.success() {
            let manifest = std::fs::read_to_string(dest.path().join("manifest.json")).unwrap();
            assert!(
                manifest.contains("application/vnd.oci.image.layer.v1.tar"),
                "pulled manifest: {manifest}"
            );
        }
        output
    }
}

/// The whole acceptance scenario of the foundation issue, against one key setup.
fn scenario(setup: &Setup) {
    let challenge = http_get(setup.registry.addr, "/v2/", &[]);
    assert!(
        challenge.contains(&format!(
            "Bearer realm=\"http://{}/v2/token\",service=\"{SERVICE}\"",
            setup.portus.addr
        )),
        "registry must challenge with our realm: {challenge}"
    );

    let p = &setup.portus;
    p.user("alice", "alice-password");
    p.user("bob", "bob-password");
    p.user("carol", "carol-password");
    p.user("dave", "dave-password");
    p.cli(&["team", "create", "devs", "--owner", "alice"], None);
    p.cli(&["team", "add-member", "devs", "carol", "--role", "viewer"], None);
    p.cli(&["team", "add-member", "devs", "dave", "--role", "contributor"], None);
    p.cli(
        &[
            "namespace",
            "create",
            "shared",
            "--team",
            "devs",
            "--visibility",
            "private",
        ],
        None,
    );
    p.cli(
        &[
            "namespace",
            "create",
            "open",
            "--team",
            "devs",
            "--visibility",
            "public",
        ],
        None,
    );
    let alice = Creds::User("alice", "alice-password");
    let bob = Creds::User("bob", "bob-password");
    let carol = Creds::User("carol", "carol-password");
    let dave = Creds::User("dave", "dave-password");

    // Alice pushes to her personal namespace and pulls back.
    assert_ok("alice push alice/app:1.0", &setup.push(alice, "alice/app:1.0"));
    assert_ok("alice pull alice/app:1.0", &setup.pull(alice, "alice/app:1.0"));

    // Bob is no member: no push into alice's namespace, no pull of her private namespace.
    assert_denied("bob push alice/app:bob", &setup.push(bob, "alice/app:bob"));
    assert_denied("bob pull alice/app:1.0", &setup.pull(bob, "alice/app:1.0"));
    assert_ok("bob push bob/app:1.0 (his own)", &setup.push(bob, "bob/app:1.0"));

    // Anonymous pulls work for public namespaces only.
    assert_ok("alice push open/app:1.0", &setup.push(alice, "open/app:1.0"));
    assert_ok("alice push shared/app:1.0", &setup.push(alice, "shared/app:1.0"));
    assert_ok(
        "anonymous pull open/app:1.0",
        &setup.pull(Creds::Anonymous, "open/app:1.0"),
    );
    assert_denied(
        "anonymous pull shared/app:1.0",
        &setup.pull(Creds::Anonymous, "shared/app:1.0"),
    );
    assert_denied(
        "anonymous push open/app:anon",
        &setup.push(Creds::Anonymous, "open/app:anon"),
    );

    // A viewer pulls but does not push.
    assert_ok(
        "carol (viewer) pull shared/app:1.0",
        &setup.pull(carol, "shared/app:1.0"),
    );
    assert_denied(
        "carol (viewer) push shared/app:carol",
        &setup.push(carol, "shared/app:carol"),
    );

    // A disabled user is refused at once, with the same credentials that worked before.
    assert_ok(
        "dave (contributor) push shared/app:dave",
        &setup.push(dave, "shared/app:dave"),
    );
    p.cli(&["user", "disable", "dave"], None);
    assert_denied("disabled dave pull shared/app:1.0", &setup.pull(dave, "shared/app:1.0"));
    assert_denied(
        "disabled dave push shared/app:dave2",
        &setup.push(dave, "shared/app:dave2"),
    );
    p.cli(&["user", "enable", "dave"], None);
    assert_ok(
        "re-enabled dave pull shared/app:1.0",
        &setup.pull(dave, "shared/app:1.0"),
    );

    // Wrong passwords are refused.
    assert_denied(
        "alice with a wrong password",
        &setup.pull(Creds::User("alice", "wrong"), "alice/app:1.0"),
    );

    // An application token works as the password, and only for its owner.
    let token_output = p.cli(&["token", "create", "alice", "--name", "ci"], None);
    let token = token_output.lines().last().unwrap().trim().to_owned();
    assert!(
        token.starts_with("pat_") && !token.contains(' '),
        "token alone on the last line: {token_output}"
    );
    assert_ok(
        "alice push with an application token",
        &setup.push(Creds::User("alice", &token), "alice/app:2.0"),
    );
    assert_ok(
        "alice pull with an application token",
        &setup.pull(Creds::User("alice", &token), "alice/app:2.0"),
    );
    assert_denied(
        "bob with alice's application token",
        &setup.pull(Creds::User("bob", &token), "alice/app:2.0"),
    );

    // The token server logged the issued grants and no secret.
    let log = p.log();
    assert!(
        !log.contains("alice-password") && !log.contains(&token),
        "secrets must never be logged"
    );
}

against_both_registries!(
    es256_generated_key_with_kid_and_x5c,
    rs256_operator_key_found_by_libtrust_kid_alone,
    es256_key_found_by_libtrust_kid_alone,
    key_rotation_keeps_old_tokens_valid_until_the_old_certificate_leaves_the_bundle,
);

fn es256_generated_key_with_kid_and_x5c(flavour: Flavour) {
    require_program("skopeo");
    let setup = Setup::with_flavour(flavour, |_| String::new());
    assert!(
        std::fs::read_to_string(setup.portus.dir.join("data/token.key"))
            .unwrap()
            .contains("PRIVATE KEY")
    );
    scenario(&setup);
}

/// Without x5c, 2.8 finds the key by its libtrust kid computed from the rootcertbundle, 3 by
/// the same kid listed in the `jwks` file.
fn rs256_operator_key_found_by_libtrust_kid_alone(flavour: Flavour) {
    require_program("openssl");
    let setup = Setup::with_flavour(flavour, |dir| {
        let key = dir.join("rsa.key");
        let cert = dir.join("rsa.crt");
        let output = run(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30"])
            .args([
                "-subj",
                "/CN=portus e2e rsa",
                "-keyout",
                key.to_str().unwrap(),
                "-out",
                cert.to_str().unwrap(),
            ]));
        assert_ok("openssl req", &output);
        // Without x5c the registry must find the key by its libtrust kid.
        format!(
            "key = \"{}\"\ncertificate = \"{}\"\nx5c = false\n",
            key.display(),
            cert.display()
        )
    });
    scenario(&setup);
}

fn es256_key_found_by_libtrust_kid_alone(flavour: Flavour) {
    require_program("skopeo");
    let setup = Setup::with_flavour(flavour, |_| "x5c = false\n".into());
    setup.portus.user("erin", "erin-password");
    let erin = Creds::User("erin", "erin-password");
    assert_ok("erin push erin/app:1.0", &setup.push(erin, "erin/app:1.0"));
    assert_ok("erin pull erin/app:1.0", &setup.pull(erin, "erin/app:1.0"));
    assert_denied(
        "anonymous pull erin/app:1.0",
        &setup.pull(Creds::Anonymous, "erin/app:1.0"),
    );
}

/// A bearer token from `portus` for `scope`, fetched the way a client does, with its `kid`.
fn bearer_token(portus: &Portus, user: &str, password: &str, scope: &str) -> (String, String) {
    let response = http_get(
        portus.addr,
        &format!("/v2/token?service={SERVICE}&scope={scope}"),
        &[("Authorization", &basic(user, password))],
    );
    assert_eq!(status(&response), 200, "{response}");
    let body: serde_json::Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    let header = BASE64URL_NOPAD
        .decode(token.split('.').next().unwrap().as_bytes())
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    (token, header["kid"].as_str().unwrap().to_owned())
}

/// The registry's status code for listing `repository`'s tags with `token`.
fn tags_list_status(registry: &Registry, repository: &str, token: &str) -> u16 {
    status(&http_get(
        registry.addr,
        &format!("/v2/{repository}/tags/list"),
        &[("Authorization", &format!("Bearer {token}"))],
    ))
}

/// A new EC P-256 key and its self-signed certificate, made by an operator with openssl.
fn openssl_es256_key(dir: &Path, name: &str) -> String {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.crt"));
    let output = run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args(["-days", "30", "-subj", &format!("/CN=portus e2e {name}")])
        .args(["-keyout", key.to_str().unwrap(), "-out", cert.to_str().unwrap()]));
    assert_ok("openssl req", &output);
    format!("key = \"{}\"\ncertificate = \"{}\"\n", key.display(), cert.display())
}

/// Key rotation as docs/security.md describes it: while the old certificate is in
/// `token.previous_certificates`, the registry accepts tokens of both keys (picking the key by
/// `kid`/`x5c`); once it is removed, the old key's tokens are refused and the new key's work.
/// Distribution 3 runs it without `x5c`: it finds both keys by `kid` in the `jwks` file.
fn key_rotation_keeps_old_tokens_valid_until_the_old_certificate_leaves_the_bundle(flavour: Flavour) {
    require_program("skopeo");
    require_program("openssl");
    let tmp = tempfile::tempdir().unwrap();
    let registry_addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let image_dir = tmp.path().join("image");
    oci_layout(&image_dir, "1.0", "rotation\n");
    let image = format!("oci:{}:1.0", image_dir.display());
    let reference = format!("docker://{registry_addr}/alice/app:1.0");
    let alice = Creds::User("alice", "alice-password");
    let x5c = match flavour {
        Flavour::V2_8 => "",
        Flavour::V3 => "x5c = false\n",
    };

    // Before: the generated key.
    let mut before = Portus::new(tmp.path(), SERVICE, x5c);
    before.user("alice", "alice-password");
    let yaml = before.cli(&["config", "registry"], None);
    before.start();
    let registry = Registry::start_on_flavour(tmp.path(), &yaml, registry_addr, flavour);
    assert_ok(
        "push with the old key",
        &skopeo_copy(&image, Creds::Anonymous, &reference, alice),
    );
    let (old_token, old_kid) = bearer_token(&before, "alice", "alice-password", "repository:alice/app:pull");
    assert_eq!(tags_list_status(&registry, "alice/app", &old_token), 200);
    drop(before);
    drop(registry);

    // During: a new key signs; the old certificate stays trusted.
    let new_key = openssl_es256_key(tmp.path(), "new");
    let old_certificate = tmp.path().join("data/token.crt").canonicalize().unwrap();
    let mut during = Portus::new(
        tmp.path(),
        SERVICE,
        &format!(
            "{new_key}{x5c}previous_certificates = [\"{}\"]\n",
            old_certificate.display()
        ),
    );
    let yaml = during.cli(&["config", "registry"], None);
    assert!(yaml.contains("rootcertbundle.pem"), "{yaml}");
    during.start();
    let registry = Registry::start_on_flavour(tmp.path(), &yaml, registry_addr, flavour);
    let (new_token, new_kid) = bearer_token(&during, "alice", "alice-password", "repository:alice/app:pull");
    assert_ne!(old_kid, new_kid);
    assert_eq!(
        tags_list_status(&registry, "alice/app", &old_token),
        200,
        "old key during rotation"
    );
    assert_eq!(tags_list_status(&registry, "alice/app", &new_token), 200);
    let pulled = tempfile::tempdir().unwrap();
    let dest = format!("dir:{}", pulled.path().display());
    assert_ok(
        "pull with the new key",
        &skopeo_copy(&reference, alice, &dest, Creds::Anonymous),
    );
    drop(during);
    drop(registry);

    // After: only the new certificate.
    let mut after = Portus::new(tmp.path(), SERVICE, &format!("{new_key}{x5c}"));
    let yaml = after.cli(&["config", "registry"], None);
    assert!(!yaml.contains("rootcertbundle.pem"), "{yaml}");
    after.start();
    let registry = Registry::start_on_flavour(tmp.path(), &yaml, registry_addr, flavour);
    assert_eq!(
        tags_list_status(&registry, "alice/app", &old_token),
        401,
        "old key after rotation"
    );
    assert_eq!(tags_list_status(&registry, "alice/app", &new_token), 200);
    assert_ok(
        "pull after rotation",
        &skopeo_copy(&reference, alice, &dest, Creds::Anonymous),
    );
    drop(after);
    drop(registry);
}

/// Scoped and expiring application tokens through the real registry: a pull-only token pulls
/// but cannot push, a `devs/*` token reaches nothing in `ops`, an expired token gets nothing.
#[test]
fn scoped_and_expiring_tokens_get_no_more_than_their_scope_from_the_registry() {
    let setup = Setup::new(|_| String::new());
    let p = &setup.portus;
    p.user("alice", "alice-password");
    p.cli(&["team", "create", "devs", "--owner", "alice"], None);
    for namespace in ["devs", "ops"] {
        p.cli(&["namespace", "create", namespace, "--team", "devs"], None);
    }
    assert_ok(
        "push devs",
        &setup.push(Creds::User("alice", "alice-password"), "devs/app:1"),
    );
    assert_ok(
        "push ops",
        &setup.push(Creds::User("alice", "alice-password"), "ops/app:1"),
    );

    let created = p.cli(
        &[
            "token",
            "create",
            "alice",
            "--name",
            "ci",
            "--scope",
            "devs/*:pull",
            "--expires-in",
            "30d",
        ],
        None,
    );
    let ci = created.lines().last().unwrap().trim().to_owned();
    assert_ok(
        "pull with the pull-only token",
        &setup.pull(Creds::User("alice", &ci), "devs/app:1"),
    );
    assert_denied(
        "push with the pull-only token",
        &setup.push(Creds::User("alice", &ci), "devs/app:2"),
    );
    assert_denied(
        "pull ops with a devs/* token",
        &setup.pull(Creds::User("alice", &ci), "ops/app:1"),
    );
    let listed = p.cli(&["token", "list", "alice", "--json"], None);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["scopes"], serde_json::json!(["devs/*:pull"]));
    assert!(listed[0]["last_used_at"].is_string(), "its use is shown: {listed}");

    // A token that expires in two seconds: it works, then it does not.
    let full = p.cli(&["token", "create", "alice", "--name", "laptop"], None);
    let full = full.lines().last().unwrap().trim().to_owned();
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let body = serde_json::json!({"application": "brief", "expires_at": soon}).to_string();
    let tokens = format!("/api/v1/users/{}/application_tokens", user_id(p, "alice"));
    let answer = crate::harness::http_post(
        p.addr,
        &tokens,
        &[
            ("Authorization", &format!("Bearer {full}")),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert_eq!(status(&answer), 201, "{answer}");
    let brief = answer
        .split("\"plain_token\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert_ok(
        "pull before the expiry",
        &setup.pull(Creds::User("alice", &brief), "devs/app:1"),
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_denied(
        "pull after the expiry",
        &setup.pull(Creds::User("alice", &brief), "devs/app:1"),
    );
}

/// The id of user `name`, from `portus user list --json`.
fn user_id(portus: &Portus, name: &str) -> i64 {
    let users: serde_json::Value = serde_json::from_str(&portus.cli(&["user", "list", "--json"], None)).unwrap();
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == name)
        .and_then(|u| u["id"].as_i64())
        .unwrap()
}
