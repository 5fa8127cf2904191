//! `portus doctor` against a real registry (Debian's `docker-registry`) started with the YAML
//! `portus config registry` prints, once as printed and once with each common mistake.

use std::net::SocketAddr;
use std::process::Output;

use crate::harness::{Portus, Registry, free_port};

const SERVICE: &str = "registry.doctor";
const ISSUER: &str = "portus.test";

// Fields drop in order: the servers stop before their directory is removed.
struct Setup {
    portus: Portus,
    _registry: Registry,
    tmp: tempfile::TempDir,
}

impl Setup {
    /// portus (running) and a registry started with the YAML portus prints, changed by `edit`.
    fn new(edit: impl FnOnce(&Portus, String, &std::path::Path) -> String) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut portus = Portus::new(tmp.path(), SERVICE, "");
        portus.append_config(&format!("[registry]\nurl = \"http://{registry_addr}\"\n"));
        let yaml = portus.cli(&["config", "registry"], None);
        let yaml = edit(&portus, yaml, tmp.path());
        portus.start();
        let registry = Registry::start_on(tmp.path(), &yaml, registry_addr);
        Setup {
            portus,
            _registry: registry,
            tmp,
        }
    }

    /// `portus doctor --registry-config <the registry's config.yml>`.
    fn doctor(&self) -> (Output, String) {
        let config = self.tmp.path().join("registry.yml");
        self.doctor_with(&["--registry-config", config.to_str().unwrap()])
    }

    fn doctor_with(&self, args: &[&str]) -> (Output, String) {
        let mut all = vec!["doctor"];
        all.extend_from_slice(args);
        let output = self.portus.try_cli(&all, None);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (output, stdout)
    }
}

/// The lines of `stdout` that report a problem with `check`.
fn problems<'a>(stdout: &'a str, check: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("PROBLEM") && l["PROBLEM".len()..].trim_start().starts_with(check))
        .collect()
}

/// The fix printed under the first problem with `check`.
fn fix_of<'a>(stdout: &'a str, check: &str) -> &'a str {
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("PROBLEM") && l["PROBLEM".len()..].trim_start().starts_with(check))
        .unwrap_or_else(|| panic!("no problem with {check}:\n{stdout}"));
    lines[at + 1]
        .trim()
        .strip_prefix("fix: ")
        .unwrap_or_else(|| panic!("no fix:\n{stdout}"))
}

fn assert_fails(output: &Output, stdout: &str) {
    assert!(
        !output.status.success(),
        "doctor should fail:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("portus doctor found"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn doctor_passes_the_setup_portus_prints() {
    let setup = Setup::new(|_, yaml, _| yaml);
    let (output, stdout) = setup.doctor();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("PROBLEM"), "{stdout}");
    for check in [
        "realm ",
        "service ",
        "issuer ",
        "notifications ",
        "rootcertbundle ",
        "challenge service ",
        "clock ",
        "catalog access ",
        "realm reachable ",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("ok") && l[2..].trim_start().starts_with(check)),
            "no ok line for {check}:\n{stdout}"
        );
    }
    assert!(stdout.ends_with("0 problem(s), 0 warning(s)\n"), "{stdout}");
    assert!(
        !stdout.contains(&setup.portus.webhook_authorization()),
        "the secret is never printed"
    );
}

#[test]
fn doctor_finds_a_wrong_service() {
    let setup =
        Setup::new(|_, yaml, _| yaml.replace(&format!("service: \"{SERVICE}\""), "service: \"registry.wrong\""));
    let (output, stdout) = setup.doctor();
    assert_fails(&output, &stdout);
    assert_eq!(problems(&stdout, "service").len(), 1, "{stdout}");
    assert!(
        fix_of(&stdout, "service").starts_with(&format!("set auth.token.service: \"{SERVICE}\" in")),
        "{stdout}"
    );
    assert_eq!(problems(&stdout, "catalog access").len(), 1, "{stdout}");
    // Without the registry's config.yml its challenge still shows the mismatch.
    let (output, stdout) = setup.doctor_with(&[]);
    assert_fails(&output, &stdout);
    assert!(
        problems(&stdout, "challenge service")[0].contains("\"registry.wrong\""),
        "{stdout}"
    );
}

#[test]
fn doctor_finds_a_wrong_issuer() {
    let setup = Setup::new(|_, yaml, _| yaml.replace(&format!("issuer: \"{ISSUER}\""), "issuer: \"portus\""));
    let (output, stdout) = setup.doctor();
    assert_fails(&output, &stdout);
    assert!(
        fix_of(&stdout, "issuer").starts_with(&format!("set auth.token.issuer: \"{ISSUER}\" in")),
        "{stdout}"
    );
    assert_eq!(
        problems(&stdout, "catalog access").len(),
        1,
        "the registry refuses portus' tokens: {stdout}"
    );
    assert!(problems(&stdout, "service").is_empty(), "{stdout}");
}

#[test]
fn doctor_finds_a_bundle_without_the_current_certificate() {
    let setup = Setup::new(|portus, yaml, dir| {
        // Another key's certificate, as when the registry still trusts an old Portus key.
        let (_, other) =
            portus_auth::token::generate_key_and_certificate(portus_auth::SigningAlgorithm::Es256, ISSUER).unwrap();
        let other_path = dir.join("other.crt");
        std::fs::write(&other_path, other).unwrap();
        let ours = portus.dir.join("data").join("token.crt").canonicalize().unwrap();
        let ours = format!("rootcertbundle: \"{}\"", ours.display());
        assert!(yaml.contains(&ours), "{yaml}");
        yaml.replace(&ours, &format!("rootcertbundle: \"{}\"", other_path.display()))
    });
    let (output, stdout) = setup.doctor();
    assert_fails(&output, &stdout);
    let bundle = problems(&stdout, "rootcertbundle");
    assert_eq!(bundle.len(), 1, "{stdout}");
    assert!(bundle[0].contains("none for portus' current signing key"), "{stdout}");
    assert_eq!(problems(&stdout, "catalog access").len(), 1, "{stdout}");
}

#[test]
fn doctor_finds_an_unreachable_realm() {
    let closed = format!("http://127.0.0.1:{}/v2/token", free_port());
    let realm = closed.clone();
    let setup = Setup::new(move |portus, yaml, _| {
        let ours = format!("realm: \"http://{}/v2/token\"", portus.addr);
        assert!(yaml.contains(&ours), "{yaml}");
        yaml.replace(&ours, &format!("realm: \"{realm}\""))
    });
    let (output, stdout) = setup.doctor();
    assert_fails(&output, &stdout);
    let unreachable = problems(&stdout, "realm reachable");
    assert_eq!(unreachable.len(), 1, "{stdout}");
    assert!(unreachable[0].contains(&closed), "{stdout}");
    assert!(fix_of(&stdout, "realm reachable").contains("public_url"), "{stdout}");
    // The realm differs from public_url too: said, with its fix, as a warning.
    assert!(
        stdout.lines().any(|l| l.starts_with("warning") && l.contains(&closed)),
        "{stdout}"
    );
}

#[test]
fn doctor_finds_a_wrong_webhook_secret() {
    let setup = Setup::new(|portus, yaml, _| {
        let secret = portus.webhook_authorization();
        assert!(yaml.contains(&secret), "{yaml}");
        yaml.replace(&secret, "Bearer not-the-secret")
    });
    let (output, stdout) = setup.doctor();
    assert_fails(&output, &stdout);
    let webhook = problems(&stdout, "notifications");
    assert_eq!(webhook.len(), 1, "{stdout}");
    assert!(webhook[0].contains("another secret"), "{stdout}");
    assert!(
        fix_of(&stdout, "notifications").contains("portus config registry"),
        "{stdout}"
    );
    // Tokens are fine: only the notifications are wrong.
    assert!(problems(&stdout, "catalog access").is_empty(), "{stdout}");
}
