//! A real OpenLDAP `slapd` for tests (feature `testing`): started on a free loopback port in a
//! temporary directory, seeded with a small directory (people alice, bob, ...; group
//! developers), killed on drop. Used by this crate's LDAP tests and the workspace's end-to-end
//! tests.
//!
//! Needs `slapd` and `slapadd` (Debian package `slapd`); panics with instructions otherwise.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::ldap::LdapConfig;

const SLAPD_CONF: &str = include_str!("../tests/ldap/slapd.conf.in");
const SEED: &str = include_str!("../tests/ldap/seed.ldif");
const INSTALL_HINT: &str = "run scripts/install-test-deps.sh (installs slapd and ldap-utils)";

/// Finds an installed program in the usual sbin directories or on `PATH`.
pub fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        .into_iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{name}` not found: the LDAP tests need a real OpenLDAP server; {INSTALL_HINT}"))
}

/// A loopback port nothing listens on, for a server a test is about to start (or for a port
/// that must refuse connections).
///
/// Never the same port twice in one process, and below Linux's ephemeral range (32768 and up):
/// asking the kernel for port 0 would hand out a port that the very next outgoing connection
/// of any concurrent test may take before the server binds it.
pub fn free_port() -> u16 {
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Processes started close together (test binaries, a developer's second run) start apart.
    let base = std::process::id().wrapping_mul(2_654_435_761) % SPAN;
    loop {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(step < SPAN, "no free loopback port left in {FIRST}..{}", FIRST + SPAN);
        let port = u16::try_from(FIRST + (base + step) % SPAN).expect("below 32768");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// PEM files of a test PKI: a CA and a server certificate for 127.0.0.1 and localhost.
#[derive(Debug)]
pub struct Pki {
    /// The CA certificate.
    pub ca: String,
    /// The server certificate.
    pub server_cert: String,
    /// The server key.
    pub server_key: String,
}

/// Generates a test PKI.
pub fn pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "portus LDAP test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut server_params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    server_params.distinguished_name.push(DnType::CommonName, "localhost");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();
    Pki {
        ca: ca.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
    }
}

/// A running slapd; killed (and reaped) on drop.
#[derive(Debug)]
pub struct Slapd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// The `ldap://` port.
    pub port: u16,
    /// The `ldaps://` port, when started with TLS.
    pub ldaps_port: Option<u16>,
}

impl Slapd {
    /// Starts a plain-LDAP server seeded with the test directory.
    pub fn start() -> Slapd {
        Slapd::launch(None)
    }

    /// Also listens on `ldaps://` and offers StartTLS, with a certificate signed by `pki.ca`.
    pub fn start_with_tls(pki: &Pki) -> Slapd {
        Slapd::launch(Some(pki))
    }

    fn launch(pki: Option<&Pki>) -> Slapd {
        let slapd = program("slapd");
        let slapadd = program("slapadd");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        std::fs::create_dir(path.join("db")).unwrap();
        let tls = match pki {
            Some(pki) => {
                std::fs::write(path.join("server.pem"), &pki.server_cert).unwrap();
                std::fs::write(path.join("server.key"), &pki.server_key).unwrap();
                format!(
                    "TLSCertificateFile {0}/server.pem\nTLSCertificateKeyFile {0}/server.key",
                    path.display()
                )
            }
            None => String::new(),
        };
        let conf = path.join("slapd.conf");
        std::fs::write(
            &conf,
            SLAPD_CONF
                .replace("@DIR@", &path.display().to_string())
                .replace("@TLS@", &tls),
        )
        .unwrap();
        std::fs::write(path.join("seed.ldif"), SEED).unwrap();
        let seeded = Command::new(&slapadd)
            .arg("-q")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(path.join("seed.ldif"))
            .output()
            .unwrap();
        assert!(
            seeded.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&seeded.stderr)
        );

        let port = free_port();
        let ldaps_port = pki.map(|_| free_port());
        let mut urls = format!("ldap://127.0.0.1:{port}/");
        if let Some(ldaps) = ldaps_port {
            urls.push_str(&format!(" ldaps://127.0.0.1:{ldaps}/"));
        }
        let log = std::fs::File::create(path.join("slapd.log")).unwrap();
        // `-d 0` keeps slapd in the foreground, so the child is slapd itself (no daemonized
        // grandchild whose pid would have to be read from a pid file) and can be reaped.
        let child = Command::new(&slapd)
            .args(["-d", "0", "-h", &urls, "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL_HINT}", slapd.display()));
        let mut server = Slapd {
            child: Some(child),
            dir,
            port,
            ldaps_port,
        };
        for port in [Some(port), ldaps_port].into_iter().flatten() {
            server.wait_for(port);
        }
        server
    }

    fn wait_for(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("slapd exited with {status}:\n{}", self.log());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "slapd does not listen on {port} after 10 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// slapd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// Stops the server (an LDAP outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Plain LDAP, anonymous search under `ou=people`, e-mail from `mail`.
    pub fn config(&self) -> LdapConfig {
        config_for(self.port)
    }

    /// Applies `ldif` (changes, as `ldapmodify` reads them) as the directory's administrator,
    /// e.g. to take someone out of a group; panics unless `ldapmodify` (Debian package
    /// `ldap-utils`) succeeds.
    pub fn modify(&self, ldif: &str) {
        let file = self.write("change.ldif", ldif);
        let output = Command::new(program("ldapmodify"))
            .args(["-x", "-H", &format!("ldap://127.0.0.1:{}", self.port)])
            .args(["-D", "cn=admin,dc=example,dc=org", "-w", "adminpw", "-f"])
            .arg(&file)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ldapmodify: {e}; {INSTALL_HINT}"));
        assert!(
            output.status.success(),
            "ldapmodify failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Writes a file into the server's directory.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Plain LDAP on `port`, anonymous search under `ou=people`, e-mail from `mail`.
pub fn config_for(port: u16) -> LdapConfig {
    serde_json::from_value(serde_json::json!({
        "hostname": "127.0.0.1",
        "port": port,
        "timeout": 5,
        "base": "ou=people,dc=example,dc=org",
        "guess_email": {"enabled": true, "attr": "mail"},
    }))
    .expect("a valid LDAP configuration")
}
