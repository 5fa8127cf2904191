//! Runs `examples/minimal_server.rs` (built by `cargo test`) and requests tokens from it.

use std::net::SocketAddr;
use std::process::Command;

use crate::harness::{
    Creds, Daemon, Registry, assert_denied, assert_ok, free_port, http_get, oci_layout, skopeo_copy, wait_for_port,
};

fn example_binary() -> std::path::PathBuf {
    example_named("minimal_server")
}

fn example_named(name: &str) -> std::path::PathBuf {
    // Integration tests live in target/<profile>/deps; examples in target/<profile>/examples.
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let binary = deps
        .parent()
        .unwrap()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run the tests with `cargo test` so examples are built",
        binary.display()
    );
    binary
}

#[test]
fn minimal_embedding_server_issues_tokens() {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("example.log");
    let _server = Daemon::spawn(Command::new(example_binary()).arg(addr.to_string()), log.clone());
    wait_for_port(addr, "minimal_server example", &log);

    // demo:demo is accepted by the example's custom authenticator.
    let basic = "Basic ZGVtbzpkZW1v";
    let ok = http_get(
        addr,
        "/v2/token?service=example-registry&scope=repository:demo/app:pull,push",
        &[("Authorization", basic)],
    );
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let claims = claims_of(&ok);
    assert_eq!(claims["sub"], "demo");
    assert_eq!(claims["access"][0]["actions"], serde_json::json!(["pull", "push"]));

    // demo:wrong is refused; anonymous gets nothing on a private namespace.
    let denied = http_get(
        addr,
        "/v2/token?service=example-registry",
        &[("Authorization", "Basic ZGVtbzp3cm9uZw==")],
    );
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    let anonymous = http_get(
        addr,
        "/v2/token?service=example-registry&scope=repository:demo/app:pull",
        &[],
    );
    assert!(anonymous.starts_with("HTTP/1.1 200"), "{anonymous}");
    assert_eq!(claims_of(&anonymous)["access"], serde_json::json!([]));
    assert_eq!(claims_of(&anonymous)["sub"], "");
}

fn claims_of(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let payload = json["token"].as_str().unwrap().split('.').nth(1).unwrap();
    serde_json::from_slice(&data_encoding::BASE64URL_NOPAD.decode(payload.as_bytes()).unwrap()).unwrap()
}

#[test]
fn custom_backend_example_merges_with_a_builtin_backend() {
    let binary = example_binary().with_file_name(format!("custom_backend{}", std::env::consts::EXE_SUFFIX));
    let output = Command::new(&binary)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let merged: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(merged["status"], "done");
    let first = &merged["vulnerabilities"][0];
    assert_eq!(first["id"], "CVE-2016-6304");
    assert_eq!(
        first["severity"], "Critical",
        "the highest severity of the two backends wins"
    );
    assert_eq!(first["found_by"], serde_json::json!(["advisory-feed", "dummy"]));
    assert_eq!(
        merged["backends"],
        serde_json::json!({"advisory-feed": "done", "dummy": "done"})
    );
    assert_eq!(merged["vulnerabilities"].as_array().unwrap().len(), 4);
}

/// The README's embedding example: at most 30 non-blank lines, and a token server the real
/// registry accepts. `demo` pushes and pulls in its namespace; a wrong password, anonymous
/// pushes and pushes elsewhere are refused by the registry on the example's word.
#[test]
fn thirty_line_embedding_is_a_token_server_the_registry_accepts() {
    let source = include_str!("../../examples/embed_token_auth.rs");
    let lines = source.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(lines <= 30, "examples/embed_token_auth.rs has {lines} non-blank lines");
    let code: String = source
        .lines()
        .skip_while(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        include_str!("../../README.md").contains(code.trim()),
        "README.md's embedding section must show examples/embed_token_auth.rs as it is"
    );

    let tmp = tempfile::tempdir().unwrap();
    let (key_pem, cert_pem) =
        portus::auth::token::generate_key_and_certificate(portus::auth::SigningAlgorithm::Es256, "embed").unwrap();
    let (key, cert) = (tmp.path().join("token.key"), tmp.path().join("token.crt"));
    std::fs::write(&key, key_pem).unwrap();
    std::fs::write(&cert, cert_pem).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = tmp.path().join("embed.log");
    let mut command = Command::new(example_named("embed_token_auth"));
    let _server = Daemon::spawn(command.arg(addr.to_string()).arg(&key).arg(&cert), log.clone());
    wait_for_port(addr, "embed_token_auth example", &log);
    let yaml = format!(
        "auth:\n  token:\n    realm: http://{addr}/v2/token\n    service: registry\n    issuer: portus\n    rootcertbundle: {}\n",
        cert.display()
    );
    let registry = Registry::start(tmp.path(), &yaml);
    let image_dir = tmp.path().join("image");
    oci_layout(&image_dir, "1.0", "hello from the embedding example\n");
    let image = format!("oci:{}:1.0", image_dir.display());
    let at = |reference: &str| format!("docker://{}/{reference}", registry.addr);
    let demo = Creds::User("demo", "demo-password");

    assert_ok(
        "demo pushes demo/app",
        &skopeo_copy(&image, Creds::Anonymous, &at("demo/app:1.0"), demo),
    );
    let pulled = tmp.path().join("pulled");
    let into = format!("dir:{}", pulled.display());
    assert_ok(
        "demo pulls demo/app",
        &skopeo_copy(&at("demo/app:1.0"), demo, &into, Creds::Anonymous),
    );
    assert!(pulled.join("manifest.json").is_file());
    let wrong = Creds::User("demo", "wrong");
    assert_denied(
        "a wrong password",
        &skopeo_copy(&image, Creds::Anonymous, &at("demo/app:2.0"), wrong),
    );
    assert_denied(
        "an anonymous push",
        &skopeo_copy(&image, Creds::Anonymous, &at("demo/app:2.0"), Creds::Anonymous),
    );
    assert_denied(
        "a push outside demo/",
        &skopeo_copy(&image, Creds::Anonymous, &at("other/app:1.0"), demo),
    );
}
