//! Moving a Portus configuration over: `portus config import-portus` on Portus' files and
//! variables, Portus' RSA signing key (as `openssl genrsa` writes it) with the `kid` Portus
//! computed for it, and a registry configured for Portus that accepts this program's tokens.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use data_encoding::BASE64URL_NOPAD;

use crate::harness::{
    Creds, PORTUS, Portus, Registry, assert_denied, assert_ok, basic, free_port, http_get, oci_layout, require_program,
    run, skopeo_copy, status,
};

const DEFAULTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/config/portus_import/portus-2.5-config.yml"
);
const LOCAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/portus/config-local.yml");

/// A signing key and certificate made as Portus' documentation has them made: `openssl genrsa
/// 4096` (PKCS#1, "BEGIN RSA PRIVATE KEY", as OpenSSL wrote it before 3.0) and `openssl req
/// -new -x509` for the registry's rootcertbundle.
pub(crate) fn portus_key(dir: &Path) -> (PathBuf, PathBuf) {
    require_program("openssl");
    let key = dir.join("server.key");
    let cert = dir.join("server.crt");
    let output = run(Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("4096"));
    assert_ok("openssl genrsa", &output);
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    let output = run(Command::new("openssl")
        .args(["req", "-new", "-x509", "-days", "30", "-subj", "/CN=portus.e2e", "-key"])
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    assert_ok("openssl req", &output);
    (key, cert)
}

/// RFC 4648 base32 (upper case, no padding), written here so the expected `kid` does not come
/// from the code under test.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, String::new());
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The `kid` Portus (and libtrust) compute for `key`: the DER SubjectPublicKeyInfo from
/// openssl, its SHA-256 from openssl, the first 240 bits in base32, in groups of four.
fn portus_kid(key: &Path) -> String {
    let der = key.with_extension("pub.der");
    let output = run(Command::new("openssl")
        .args(["rsa", "-pubout", "-outform", "DER", "-in"])
        .arg(key)
        .arg("-out")
        .arg(&der));
    assert_ok("openssl rsa -pubout", &output);
    let digest = run(Command::new("openssl").args(["dgst", "-sha256", "-binary"]).arg(&der));
    assert_ok("openssl dgst", &digest);
    assert_eq!(digest.stdout.len(), 32);
    let encoded = base32(&digest.stdout[..30]);
    assert_eq!(encoded.len(), 48);
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

/// `portus ARGS` with exactly the `PORTUS_*` variables given (none inherited).
fn portus(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(PORTUS);
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("PORTUS_")) {
        command.env_remove(name);
    }
    run(command.envs(env.iter().copied()).args(args))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn libtrust_kid_of_a_portus_key_is_the_one_portus_computed() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, _) = portus_key(tmp.path());
    let expected = portus_kid(&key);
    let signing = portus::auth::SigningKey::from_pem_file(&key).unwrap();
    let issuer =
        portus::auth::TokenIssuer::new(signing, "portus.e2e", std::time::Duration::from_secs(300), true).unwrap();
    let token = issuer.issue("alice", "registry", &[]).unwrap().token;
    let header: serde_json::Value = serde_json::from_slice(
        &BASE64URL_NOPAD
            .decode(token.split('.').next().unwrap().as_bytes())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], expected.as_str(), "the token header carries Portus' kid");

    // The same key as PKCS#8 (what `openssl genrsa` writes since OpenSSL 3) is the same key.
    let pkcs8 = tmp.path().join("server.pkcs8.key");
    let output = run(Command::new("openssl")
        .args(["pkcs8", "-topk8", "-nocrypt", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&pkcs8));
    assert_ok("openssl pkcs8", &output);
    assert_eq!(portus::auth::SigningKey::from_pem_file(&pkcs8).unwrap().kid(), expected);
}

#[test]
fn import_portus_prints_a_configuration_this_program_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, cert) = portus_key(tmp.path());
    let key_path = key.to_str().unwrap();
    let output = portus(
        &[
            "config",
            "import-portus",
            DEFAULTS,
            LOCAL,
            "--env",
            "--certificate",
            cert.to_str().unwrap(),
        ],
        &[
            ("PORTUS_KEY_PATH", key_path),
            ("PORTUS_DELETE_ENABLED", "false"),
            ("PORTUS_DB_HOST", "db.example.org"),
            ("PORTUS_DB_PASSWORD", "db-password-value"),
        ],
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("# This program's configuration for a Portus installation"),
        "{stdout}"
    );
    assert!(
        stdout.contains("# Not supported here (not carried over):\n#   - email.from"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("key = \"{key_path}\"")) && stdout.contains("delete_enabled = false"));
    assert!(stdout.contains("[ldap]") && stdout.contains("[web.oidc]"), "{stdout}");
    let kid = portus_kid(&key);
    assert!(
        stderr.contains(&format!("Signing key {key_path}: RS256 with kid {kid}, the kid Portus sent for it; tokens also carry its certificate")),
        "{stderr}"
    );
    assert!(
        stderr.contains("PORTUS_DB_HOST not supported") && stderr.contains("Check by hand:"),
        "{stderr}"
    );
    assert!(!stdout.contains("db-password-value") && !stderr.contains("db-password-value"));

    // The result is this program's configuration.
    let converted = tmp.path().join("portus.toml");
    std::fs::write(&converted, &stdout).unwrap();
    let data = tmp.path().join("data");
    let loaded = portus(
        &[
            "--config",
            converted.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            // A new installation: made here, as `portus serve` would.
            "--init",
            "activity",
        ],
        &[],
    );
    assert_ok("portus activity with the converted configuration", &loaded);

    // Without --env, the variables are named but not read.
    let output = portus(
        &["config", "import-portus", DEFAULTS],
        &[("PORTUS_DELETE_ENABLED", "false")],
    );
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("delete_enabled = true"));
    assert!(text(&output.stderr).contains("were not read (PORTUS_DELETE_ENABLED): pass --env"));

    // A key that does not match the certificate is refused before anything is printed.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (_, other_cert) = portus_key(&other);
    let output = portus(
        &[
            "config",
            "import-portus",
            DEFAULTS,
            "--env",
            "--certificate",
            other_cert.to_str().unwrap(),
        ],
        &[("PORTUS_KEY_PATH", key_path)],
    );
    assert!(
        !output.status.success() && output.stdout.is_empty(),
        "{}",
        text(&output.stderr)
    );

    // The certificate without its key: refused, nothing printed (a generated key would not
    // match the registry's rootcertbundle).
    let output = portus(
        &[
            "config",
            "import-portus",
            DEFAULTS,
            "--env",
            "--certificate",
            cert.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!output.status.success() && output.stdout.is_empty());
    assert!(
        text(&output.stderr).contains("the key is not known: pass PORTUS_KEY_PATH with --env"),
        "{}",
        text(&output.stderr)
    );
    // Nor does `portus` replace a configured certificate with a generated key's.
    let before = std::fs::read(&cert).unwrap();
    let lone_certificate = tmp.path().join("lone-certificate.toml");
    std::fs::write(
        &lone_certificate,
        format!(
            "[token]\nservice = \"registry\"\nissuer = \"portus.e2e\"\ncertificate = \"{}\"\n",
            cert.display()
        ),
    )
    .unwrap();
    let refused = portus(
        &[
            "--config",
            lone_certificate.to_str().unwrap(),
            "--data-dir",
            tmp.path().join("lone-data").to_str().unwrap(),
            "config",
            "registry",
        ],
        &[],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("is set but token.key is not"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(std::fs::read(&cert).unwrap(), before, "the certificate is untouched");

    // Portus' file given to this program as it is: refused, with the way to convert it.
    let refused = portus(
        &["--config", DEFAULTS, "--data-dir", data.to_str().unwrap(), "activity"],
        &[],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("is a Portus configuration (YAML); this program reads TOML: convert a Portus configuration with `portus config import-portus"),
        "{}",
        text(&refused.stderr)
    );
}

/// A registry configured for Portus (its rootcertbundle holds Portus' certificate, its issuer
/// is Portus' machine_fqdn, its service the registry's hostname) accepts the tokens this
/// program signs with Portus' key, taken from the converted configuration: pushes and pulls
/// work as the roles allow, found by the libtrust `kid` alone as with Portus.
#[test]
fn a_registry_set_up_for_portus_accepts_tokens_signed_with_portus_key() {
    require_program("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let (key, cert) = portus_key(tmp.path());
    let registry_addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let service = format!("{registry_addr}");
    let local = tmp.path().join("config-local.yml");
    std::fs::write(
        &local,
        "machine_fqdn:\n  value: \"portus.e2e\"\ncheck_ssl_usage:\n  enabled: false\n",
    )
    .unwrap();
    let converted = portus(
        &["config", "import-portus", DEFAULTS, local.to_str().unwrap(), "--env"],
        &[
            ("PORTUS_KEY_PATH", key.to_str().unwrap()),
            ("PORTUS_INIT_REGISTRY_HOSTNAME", &service),
        ],
    );
    assert_ok("portus config import-portus", &converted);
    let mut p = Portus::with_config(tmp.path(), &text(&converted.stdout));
    p.user("alice", "alice-password");
    p.user("bob", "bob-password");
    p.start_env(&[
        ("PORTUS_DELETE_ENABLED", "true"),
        ("PORTUS_LDAP_HOSTNAME", "ldap.example.org"),
    ]);

    // The registry's auth section as it was for Portus; only the realm points here now.
    let yaml = format!(
        "auth:\n  token:\n    realm: \"http://{}/v2/token\"\n    service: \"{service}\"\n    issuer: \"portus.e2e\"\n    rootcertbundle: \"{}\"\n",
        p.addr,
        cert.display()
    );
    let registry = Registry::start_on(tmp.path(), &yaml, registry_addr);
    let image_dir = tmp.path().join("image");
    oci_layout(&image_dir, "1.0", "signed with Portus' key\n");
    let image = format!("oci:{}:1.0", image_dir.display());
    let reference = format!("docker://{}/alice/app:1.0", registry.addr);
    let alice = Creds::User("alice", "alice-password");
    assert_ok("alice push", &skopeo_copy(&image, Creds::Anonymous, &reference, alice));
    let pulled = tempfile::tempdir().unwrap();
    let dest = format!("dir:{}", pulled.path().display());
    assert_ok("alice pull", &skopeo_copy(&reference, alice, &dest, Creds::Anonymous));
    assert_denied(
        "bob pull of alice's private namespace",
        &skopeo_copy(&reference, Creds::User("bob", "bob-password"), &dest, Creds::Anonymous),
    );

    // The token carries Portus' kid and no certificate: the registry found the key by kid.
    let response = http_get(
        p.addr,
        &format!("/v2/token?service={service}&scope=repository:alice/app:pull"),
        &[("Authorization", &basic("alice", "alice-password"))],
    );
    assert_eq!(status(&response), 200, "{response}");
    let body: serde_json::Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let token = body["token"].as_str().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &BASE64URL_NOPAD
            .decode(token.split('.').next().unwrap().as_bytes())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], portus_kid(&key).as_str());
    assert!(header.get("x5c").is_none(), "{header}");

    // Portus variables at start-up: the exact one is read and named, the other is named.
    let log = p.log();
    assert!(
        log.contains("PORTUS_DELETE_ENABLED (Portus) is read as policy.delete_enabled; this program's own variable is PORTUS_POLICY_DELETE_ENABLED"),
        "{log}"
    );
    assert!(
        log.contains("WARN") && log.contains("PORTUS_LDAP_HOSTNAME is a Portus setting"),
        "{log}"
    );
}
