//! Test harness: free ports, the `portus` binary, Debian's `docker-registry`, `skopeo`, and an
//! OCI image layout built from scratch.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use data_encoding::HEXLOWER;

pub const PORTUS: &str = env!("CARGO_BIN_EXE_portus");

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts connections on `addr`, or panics with `what`'s log.
pub fn wait_for_port(addr: SocketAddr, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not listen on {addr}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A minimal HTTP/1.1 GET; returns the status line and headers and body as one string.
pub fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Checks that a required program is installed, with a hint on how to get it.
pub fn require_program(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "'{program}' is not installed: run `sudo scripts/install-test-deps.sh` (Debian: apt-get install docker-registry skopeo openssl)"
    );
}

/// Runs a command, returning its output.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// A killed-on-drop child process.
pub struct Daemon {
    child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn spawn(command: &mut Command, log: PathBuf) -> Daemon {
        let file = std::fs::File::create(&log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        Daemon { child, log }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A portus installation in a temporary directory: CLI commands and a running server.
pub struct Portus {
    pub dir: PathBuf,
    pub addr: SocketAddr,
    config: PathBuf,
    server: Option<Daemon>,
}

impl Portus {
    /// Writes a configuration (`extra_toml` appended to the defaults below) into `dir`.
    pub fn new(dir: &Path, service: &str, extra_token_toml: &str) -> Portus {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = dir.join("portus.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"{addr}\"\n[token]\nservice = \"{service}\"\nissuer = \"portus.test\"\n{extra_token_toml}\n[auth]\nbcrypt_cost = 4\n"
            ),
        )
        .unwrap();
        Portus {
            dir: dir.to_path_buf(),
            addr,
            config,
            server: None,
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(PORTUS);
        command
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .arg("--config")
            .arg(&self.config)
            .env_remove("PORTUS_DATA_DIR")
            .env_remove("PORTUS_CONFIG")
            .env("PORTUS_LOG", "info");
        command
    }

    /// Runs `portus ARGS` with `stdin` as standard input; panics unless it succeeds.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        let output = self.try_cli(args, stdin);
        assert!(
            output.status.success(),
            "portus {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs `portus ARGS` and returns its output whatever the outcome.
    pub fn try_cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Creates a user with a password.
    pub fn user(&self, name: &str, password: &str) {
        self.cli(
            &["user", "create", name, "--password-stdin"],
            Some(&format!("{password}\n")),
        );
    }

    /// Starts `portus serve` and waits until it listens.
    pub fn start(&mut self) {
        let log = self.dir.join("portus.log");
        let mut command = self.command();
        command.arg("serve");
        self.server = Some(Daemon::spawn(&mut command, log.clone()));
        wait_for_port(self.addr, "portus serve", &log);
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.server
            .as_ref()
            .map(|s| std::fs::read_to_string(&s.log).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// Debian's Distribution registry, configured with the YAML `portus config registry` prints.
pub struct Registry {
    pub addr: SocketAddr,
    _daemon: Daemon,
}

impl Registry {
    pub fn start(dir: &Path, portus_yaml: &str) -> Registry {
        require_program("docker-registry");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let storage = dir.join("registry-data");
        std::fs::create_dir_all(&storage).unwrap();
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: portus-e2e-not-a-secret\n{portus_yaml}",
                storage.display()
            ),
        )
        .unwrap();
        let log = dir.join("registry.log");
        let daemon = Daemon::spawn(Command::new("docker-registry").arg("serve").arg(&config), log.clone());
        wait_for_port(addr, "docker-registry", &log);
        Registry { addr, _daemon: daemon }
    }
}

/// Credentials for skopeo.
#[derive(Clone, Copy)]
pub enum Creds<'a> {
    Anonymous,
    User(&'a str, &'a str),
}

/// `skopeo copy` an image; returns the output.
pub fn skopeo_copy(src: &str, src_creds: Creds, dest: &str, dest_creds: Creds) -> Output {
    require_program("skopeo");
    let mut command = Command::new("skopeo");
    command.args([
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
    ]);
    // An empty auth file keeps credentials of other tools on this machine out of the test.
    let authfile = std::env::temp_dir().join("portus-e2e-empty-auth.json");
    std::fs::write(&authfile, "{\"auths\":{}}").unwrap();
    command.env("REGISTRY_AUTH_FILE", &authfile);
    for (flag, creds) in [("src", src_creds), ("dest", dest_creds)] {
        match creds {
            Creds::Anonymous => {
                if (flag == "src" && src.starts_with("docker://")) || (flag == "dest" && dest.starts_with("docker://"))
                {
                    command.arg(format!("--{flag}-no-creds"));
                }
            }
            Creds::User(user, password) => {
                command.arg(format!("--{flag}-creds={user}:{password}"));
            }
        }
    }
    command.arg(src).arg(dest);
    run(&mut command)
}

fn sha256(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        HEXLOWER.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
    )
}

fn tar_with_one_file(name: &str, contents: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", contents.len()).as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let checksum: u32 = header.iter().map(|b| *b as u32).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(contents);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    tar
}

/// Writes an OCI image layout with one single-layer image tagged `tag`; returns the manifest
/// digest.
pub fn oci_layout(dir: &Path, tag: &str, file_contents: &str) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let digest = sha256(data);
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), data).unwrap();
        (digest, data.len())
    };
    let (layer_digest, layer_size) = put(&tar_with_one_file("hello.txt", file_contents.as_bytes()));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]}
    });
    let (config_digest, config_size) = put(&serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}]
    });
    let (manifest_digest, manifest_size) = put(&serde_json::to_vec(&manifest).unwrap());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}").unwrap();
    manifest_digest
}
