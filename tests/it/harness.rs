//! Test harness: free ports, the `portus` binary, Distribution registries (Debian's 2.8 and 3),
//! `skopeo`, and an OCI image layout built from scratch.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use data_encoding::HEXLOWER;

pub(crate) const PORTUS: &str = env!("CARGO_BIN_EXE_portus");

pub(crate) use portus_auth::ldap_testing::free_port;

/// Waits until something accepts connections on `addr`, or panics with `what`'s log.
pub(crate) fn wait_for_port(addr: SocketAddr, what: &str, log: &Path) {
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
pub(crate) fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
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

/// The status code of a response [`http_get`] or [`http_post`] returned; 0 if there is none.
pub(crate) fn status(response: &str) -> u16 {
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// An `Authorization` value with Basic credentials.
pub(crate) fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        data_encoding::BASE64.encode(format!("{user}:{password}").as_bytes())
    )
}

/// Checks that a required program is installed, with a hint on how to get it.
pub(crate) fn require_program(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "'{program}' is not installed: run `sudo scripts/install-test-deps.sh` (Debian: apt-get install docker-registry skopeo openssl)"
    );
}

/// Runs a command, returning its output.
pub(crate) fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// A killed-on-drop child process.
pub(crate) struct Daemon {
    child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub(crate) fn spawn(command: &mut Command, log: PathBuf) -> Daemon {
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
        // A failing test shows what its servers said (and whether one had died) before the
        // temporary directory with their logs is removed.
        if std::thread::panicking() {
            let exited = self.child.try_wait().ok().flatten();
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- {} ({}), last lines:\n{}",
                self.log.display(),
                exited.map_or("still running".to_owned(), |status| format!("had exited: {status}")),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A portus installation in a temporary directory: CLI commands and a running server.
pub(crate) struct Portus {
    pub dir: PathBuf,
    pub addr: SocketAddr,
    config: PathBuf,
    server: Option<Daemon>,
}

impl Portus {
    /// Writes a configuration (`extra_toml` appended to the defaults below) into `dir`.
    pub(crate) fn new(dir: &Path, service: &str, extra_token_toml: &str) -> Portus {
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

    /// Uses `toml` (a whole configuration, such as `portus config import-portus` prints) with
    /// `listen` set to a free port.
    pub(crate) fn with_config(dir: &Path, toml: &str) -> Portus {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = dir.join("portus.toml");
        std::fs::write(&config, format!("listen = \"{addr}\"\n{toml}")).unwrap();
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
        // The first command of a test makes the installation, as `portus serve` would.
        if !self.dir.join("data").join("portus.db").exists() {
            command.arg("--init");
        }
        command
    }

    /// The `Authorization` value (`Bearer <secret>`) the registry sends with notifications,
    /// as `portus config registry` prints it.
    pub(crate) fn webhook_authorization(&self) -> String {
        let yaml = self.cli(&["config", "registry"], None);
        let start = yaml.find("Bearer ").unwrap();
        yaml[start..].split('"').next().unwrap().to_owned()
    }

    /// Runs `portus ARGS` with `stdin` as standard input; panics unless it succeeds.
    pub(crate) fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
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
    pub(crate) fn try_cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.try_cli_env(args, stdin, &[])
    }

    /// Like [`Portus::try_cli`] with extra environment variables.
    pub(crate) fn try_cli_env(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut child = self
            .command()
            .envs(env.iter().copied())
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

    /// Appends TOML (whole tables) to the configuration.
    pub(crate) fn append_config(&self, toml: &str) {
        let mut text = std::fs::read_to_string(&self.config).unwrap();
        text.push('\n');
        text.push_str(toml);
        std::fs::write(&self.config, text).unwrap();
    }

    /// Creates a user with a password.
    pub(crate) fn user(&self, name: &str, password: &str) {
        self.cli(
            &["user", "create", name, "--password-stdin"],
            Some(&format!("{password}\n")),
        );
    }

    /// Starts `portus serve` and waits until it listens.
    pub(crate) fn start(&mut self) {
        self.start_env(&[]);
    }

    /// Starts `portus serve` with extra environment variables and waits until it listens.
    pub(crate) fn start_env(&mut self, env: &[(&str, &str)]) {
        let log = self.dir.join("portus.log");
        let mut command = self.command();
        command.envs(env.iter().copied()).arg("serve");
        self.server = Some(Daemon::spawn(&mut command, log.clone()));
        wait_for_port(self.addr, "portus serve", &log);
    }

    /// Stops `portus serve` (killed, as a crash would), keeping its log as `portus.log.N`.
    pub(crate) fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            let log = server.log.clone();
            drop(server);
            let kept = (1..)
                .map(|n| log.with_extension(format!("log.{n}")))
                .find(|p| !p.exists())
                .unwrap();
            let _ = std::fs::rename(&log, kept);
        }
    }

    /// The server's process id, while it runs.
    pub(crate) fn pid(&self) -> u32 {
        self.server.as_ref().expect("the server runs").child.id()
    }

    /// Waits up to `timeout` for the server to exit on its own; its exit status, `None` if
    /// it is still running.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        let server = self.server.as_mut().expect("the server was started");
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log so far.
    pub(crate) fn log(&self) -> String {
        self.server
            .as_ref()
            .map(|s| std::fs::read_to_string(&s.log).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// The registry's `config.yml`: filesystem storage in `storage`, listening on `addr`, with
/// `auth_yaml` (the `auth` and `notifications` sections, or nothing) at the end.
pub(crate) fn registry_config(storage: &Path, addr: SocketAddr, auth_yaml: &str) -> String {
    format!(
        "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: portus-e2e-not-a-secret\n{auth_yaml}",
        storage.display()
    )
}

/// Which Distribution registry a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// Debian's `docker-registry` (Distribution 2.8).
    V2_8,
    /// Distribution 3 (`registry-v3`, built by scripts/install-test-deps.sh).
    V3,
}

/// A Distribution registry (2.8 or 3), configured with the YAML `portus config registry`
/// prints.
pub(crate) struct Registry {
    pub addr: SocketAddr,
    _daemon: Daemon,
}

impl Registry {
    /// Debian's 2.8 on a free port.
    pub(crate) fn start(dir: &Path, portus_yaml: &str) -> Registry {
        Self::start_flavour(dir, portus_yaml, Flavour::V2_8)
    }

    /// A registry of `flavour` on a free port.
    pub(crate) fn start_flavour(dir: &Path, portus_yaml: &str, flavour: Flavour) -> Registry {
        let addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        Self::start_on_flavour(dir, portus_yaml, addr, flavour)
    }

    /// Debian's 2.8 on `addr`.
    pub(crate) fn start_on(dir: &Path, portus_yaml: &str, addr: SocketAddr) -> Registry {
        Self::start_on_flavour(dir, portus_yaml, addr, Flavour::V2_8)
    }

    /// A registry of `flavour` on `addr`, storing in `dir/registry-data`.
    pub(crate) fn start_on_flavour(dir: &Path, portus_yaml: &str, addr: SocketAddr, flavour: Flavour) -> Registry {
        let storage = dir.join("registry-data");
        std::fs::create_dir_all(&storage).unwrap();
        let config = dir.join("registry.yml");
        std::fs::write(&config, registry_config(&storage, addr, portus_yaml)).unwrap();
        let log = dir.join("registry.log");
        let mut command = match flavour {
            Flavour::V2_8 => {
                require_program("docker-registry");
                Command::new("docker-registry")
            }
            Flavour::V3 => {
                let mut command = Command::new(go_tool("registry-v3"));
                // Distribution 3 exports traces to localhost:4318 unless told not to.
                command.env("OTEL_TRACES_EXPORTER", "none");
                command
            }
        };
        let daemon = Daemon::spawn(command.arg("serve").arg(&config), log.clone());
        wait_for_port(addr, "the registry", &log);
        Registry { addr, _daemon: daemon }
    }
}

/// For each named function taking a [`Flavour`], a module of the same name with two tests
/// running it against Distribution 2.8 (`registry_2_8`) and 3 (`registry_3`).
macro_rules! against_both_registries {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn registry_2_8() {
                super::$name(crate::harness::Flavour::V2_8);
            }
            #[test]
            fn registry_3() {
                super::$name(crate::harness::Flavour::V3);
            }
        }
    )*};
}
pub(crate) use against_both_registries;

/// Asserts that a client command succeeded, showing its error output if not.
pub(crate) fn assert_ok(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} should succeed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asserts that a client command was refused for want of authorization, not for another reason.
pub(crate) fn assert_denied(what: &str, output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
    assert!(!output.status.success(), "{what} should be refused");
    assert!(
        stderr.contains("denied") || stderr.contains("unauthorized") || stderr.contains("authentication required"),
        "{what} failed for another reason than authorization: {stderr}"
    );
}

/// Credentials for skopeo.
#[derive(Clone, Copy)]
pub(crate) enum Creds<'a> {
    Anonymous,
    User(&'a str, &'a str),
}

/// `skopeo copy` an image; returns the output.
pub(crate) fn skopeo_copy(src: &str, src_creds: Creds, dest: &str, dest_creds: Creds) -> Output {
    skopeo_copy_with(&[], src, src_creds, dest, dest_creds)
}

/// `skopeo copy EXTRA...` an image; returns the output.
pub(crate) fn skopeo_copy_with(extra: &[&str], src: &str, src_creds: Creds, dest: &str, dest_creds: Creds) -> Output {
    require_program("skopeo");
    let mut command = Command::new("skopeo");
    command
        .args([
            "--insecure-policy",
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .args(extra);
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

/// An uncompressed tar of regular files (mode 0644), in order.
fn tar_with_files(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = Vec::new();
    for (name, contents) in files {
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
        tar.extend_from_slice(&header);
        tar.extend_from_slice(contents);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.resize(tar.len() + 1024, 0);
    tar
}

/// Writes an OCI image layout with one single-layer image tagged `tag`; returns the manifest
/// digest.
pub(crate) fn oci_layout(dir: &Path, tag: &str, file_contents: &str) -> String {
    oci_layout_with_files(dir, tag, &[("hello.txt", file_contents.as_bytes())])
}

/// Writes an OCI image layout with one single-layer image tagged `tag` whose layer (an
/// uncompressed tar) holds `files`; returns the manifest digest.
pub(crate) fn oci_layout_with_files(dir: &Path, tag: &str, files: &[(&str, &[u8])]) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let digest = sha256(data);
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), data).unwrap();
        (digest, data.len())
    };
    let (layer_digest, layer_size) = put(&tar_with_files(files));
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

/// Polls `condition` every 50 ms for up to `timeout`; returns whether it became true.
pub(crate) fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A minimal HTTP/1.1 POST; returns the whole response.
pub(crate) fn http_post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// `skopeo delete`; returns the output.
pub(crate) fn skopeo_delete(reference: &str, creds: Creds) -> Output {
    let mut command = Command::new("skopeo");
    command.args(["--insecure-policy", "delete", "--tls-verify=false"]);
    if let Creds::User(user, password) = creds {
        command.arg(format!("--creds={user}:{password}"));
    }
    run(command.arg(reference))
}

/// The manifest digest skopeo reads for `reference` (without converting it).
pub(crate) fn skopeo_digest(reference: &str, creds: Creds) -> String {
    let mut command = Command::new("skopeo");
    command.args(["--insecure-policy", "inspect", "--raw", "--tls-verify=false"]);
    if let Creds::User(user, password) = creds {
        command.arg(format!("--creds={user}:{password}"));
    }
    let output = run(command.arg(reference));
    assert!(
        output.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    sha256(&output.stdout)
}

/// Writes an OCI layout whose `tag` is an image index of two single-layer images (amd64 and
/// arm64); returns the index digest in the layout (skopeo may re-serialize it when pushing).
pub(crate) fn oci_index_layout(dir: &Path, tag: &str) -> String {
    let platforms = ["amd64", "arm64"];
    let mut children = Vec::new();
    for arch in platforms {
        let sub = dir.join(format!("tmp-{arch}"));
        let digest = oci_layout(&sub, "x", &format!("hello from {arch}\n"));
        // Move the child's blobs into the shared layout.
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        for entry in std::fs::read_dir(sub.join("blobs/sha256")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), blobs.join(entry.file_name())).unwrap();
        }
        let size = std::fs::metadata(blobs.join(digest.trim_start_matches("sha256:")))
            .unwrap()
            .len();
        std::fs::remove_dir_all(&sub).unwrap();
        children.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
            "platform": {"architecture": arch, "os": "linux"}
        }));
    }
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children
    });
    let bytes = serde_json::to_vec(&index).unwrap();
    let digest = sha256(&bytes);
    std::fs::write(
        dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:")),
        &bytes,
    )
    .unwrap();
    let layout_index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": bytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&layout_index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}").unwrap();
    digest
}

/// An axum app served on 127.0.0.1 from a thread of its own; stopped when dropped.
pub(crate) struct BackgroundServer {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundServer {
    /// Serves the router `make_app` builds (inside the server's runtime).
    pub(crate) fn start(make_app: impl FnOnce() -> axum::Router + Send + 'static) -> BackgroundServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, make_app())
                    .with_graceful_shutdown(async {
                        rx.await.ok();
                    })
                    .await
                    .unwrap();
            });
        });
        BackgroundServer {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An HTTP proxy in front of the registry that answers 500 to requests whose path contains
/// a given text: a registry failing midway.
pub(crate) struct FaultyProxy {
    pub addr: SocketAddr,
    _server: BackgroundServer,
}

impl FaultyProxy {
    pub(crate) fn start(upstream: SocketAddr, fail_path_containing: &str) -> FaultyProxy {
        let fail = fail_path_containing.to_owned();
        let server = BackgroundServer::start(move || {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            axum::Router::new().fallback(move |request: axum::extract::Request| {
                let (client, fail) = (client.clone(), fail.clone());
                async move { forward(client, upstream, &fail, request).await }
            })
        });
        FaultyProxy {
            addr: server.addr,
            _server: server,
        }
    }
}

async fn forward(
    client: reqwest::Client,
    upstream: SocketAddr,
    fail: &str,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    if path.contains(fail) {
        let body = "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"injected failure\"}]}";
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, body).into_response();
    }
    let mut outgoing = client.request(request.method().clone(), format!("http://{upstream}{path}"));
    for (name, value) in request.headers() {
        if name != axum::http::header::HOST {
            outgoing = outgoing.header(name, value);
        }
    }
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    match outgoing.body(body).send().await {
        Ok(response) => {
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.unwrap_or_default();
            let mut answer = (status, bytes).into_response();
            for (name, value) in headers.iter() {
                if name != axum::http::header::CONTENT_LENGTH && name != axum::http::header::TRANSFER_ENCODING {
                    answer.headers_mut().insert(name, value.clone());
                }
            }
            answer
        }
        Err(_) => axum::http::StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// A Clair v4 test server: validates `POST /indexer/api/v1/index_report` like Clair does, then,
/// as Clair would, downloads every layer from its `uri` with the given headers and refuses to
/// finish the index unless each download succeeds. The vulnerability report lists one finding.
pub(crate) struct FakeClairV4 {
    pub addr: SocketAddr,
    /// Layer downloads that succeeded.
    pub fetched: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _server: BackgroundServer,
}

impl FakeClairV4 {
    pub(crate) fn start() -> FakeClairV4 {
        use axum::extract::{Path as AxumPath, State};
        use axum::response::IntoResponse;
        type Shared = (
            reqwest::Client,
            std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
            std::sync::Arc<std::sync::atomic::AtomicUsize>,
        );

        async fn index(
            State((client, indexed, fetched)): State<Shared>,
            body: axum::body::Bytes,
        ) -> axum::response::Response {
            let Ok(manifest) = serde_json::from_slice::<serde_json::Value>(&body) else {
                return axum::http::StatusCode::BAD_REQUEST.into_response();
            };
            let hash = manifest["hash"].as_str().unwrap_or_default().to_owned();
            let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
            if !hash.starts_with("sha256:") || layers.is_empty() {
                return axum::http::StatusCode::BAD_REQUEST.into_response();
            }
            for layer in layers {
                let mut request = client.get(layer["uri"].as_str().unwrap_or_default());
                if let Some(headers) = layer["headers"].as_object() {
                    for (name, values) in headers {
                        for value in values.as_array().into_iter().flatten() {
                            request = request.header(name, value.as_str().unwrap_or_default());
                        }
                    }
                }
                let ok = request.send().await.map(|r| r.status().is_success()).unwrap_or(false);
                if !ok {
                    let report = serde_json::json!({"manifest_hash": hash, "state": "IndexError", "success": false,
                        "err": "failed to fetch layers", "packages": {}, "distributions": {}, "environments": {}});
                    return (axum::http::StatusCode::CREATED, axum::Json(report)).into_response();
                }
                fetched.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            indexed.lock().unwrap().insert(hash.clone());
            let report = serde_json::json!({"manifest_hash": hash, "state": "IndexFinished", "success": true, "err": "",
                "packages": {}, "distributions": {}, "environments": {}});
            (axum::http::StatusCode::CREATED, axum::Json(report)).into_response()
        }
        async fn report(
            State((_, indexed, _)): State<Shared>,
            AxumPath(digest): AxumPath<String>,
        ) -> axum::response::Response {
            if !indexed.lock().unwrap().contains(&digest) {
                return axum::http::StatusCode::NOT_FOUND.into_response();
            }
            axum::Json(serde_json::json!({
                "manifest_hash": digest, "distributions": {}, "environments": {},
                "packages": {"1": {"id": "1", "name": "openssl", "version": "1.0.2k"}},
                "vulnerabilities": {"9": {"id": "9", "updater": "test", "name": "CVE-2016-6304", "links": "https://nvd.nist.gov/vuln/detail/CVE-2016-6304",
                    "normalized_severity": "Critical", "severity": "Critical", "fixed_in_version": "1.0.2i"}},
                "package_vulnerabilities": {"1": ["9"]}
            }))
            .into_response()
        }

        let fetched = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let shared: Shared = (reqwest::Client::new(), Default::default(), fetched.clone());
        let server = BackgroundServer::start(move || {
            axum::Router::new()
                .route(
                    "/indexer/api/v1/index_report/{digest}",
                    axum::routing::get(|| async { axum::http::StatusCode::NOT_FOUND }),
                )
                .route("/indexer/api/v1/index_report", axum::routing::post(index))
                .route(
                    "/matcher/api/v1/vulnerability_report/{digest}",
                    axum::routing::get(report),
                )
                .with_state(shared)
        });
        FakeClairV4 {
            addr: server.addr,
            fetched,
            _server: server,
        }
    }
}

/// The aiosmtpd release `scripts/install-test-deps.sh` installs.
const AIOSMTPD_VERSION: &str = "1.4.6";

/// A real SMTP server (Python's aiosmtpd, from PyPI, in the venv `scripts/install-test-deps.sh`
/// makes) on a free port of 127.0.0.1, keeping every mail it accepts in a maildir.
pub(crate) struct SmtpSink {
    pub port: u16,
    maildir: PathBuf,
    _daemon: Daemon,
}

impl SmtpSink {
    /// The venv's Python: `PORTUS_AIOSMTPD_PYTHON` when set, else where the install script
    /// puts it (under `PORTUS_TEST_CACHE`, `$XDG_CACHE_HOME/portus-test` or
    /// `~/.cache/portus-test`).
    fn python() -> PathBuf {
        if let Some(python) = std::env::var_os("PORTUS_AIOSMTPD_PYTHON") {
            return PathBuf::from(python);
        }
        test_cache_dir()
            .join(format!("aiosmtpd-{AIOSMTPD_VERSION}"))
            .join("bin/python")
    }

    /// Starts the server in `dir` and waits until it listens.
    pub(crate) fn start(dir: &Path) -> SmtpSink {
        let python = Self::python();
        assert!(
            python.is_file(),
            "aiosmtpd {AIOSMTPD_VERSION} is not installed at {}: run `sudo scripts/install-test-deps.sh`",
            python.display()
        );
        let maildir = dir.join("maildir");
        let port = free_port();
        let log = dir.join("aiosmtpd.log");
        let daemon = Daemon::spawn(
            Command::new(&python)
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir),
            log.clone(),
        );
        wait_for_port(format!("127.0.0.1:{port}").parse().unwrap(), "aiosmtpd", &log);
        SmtpSink {
            port,
            maildir,
            _daemon: daemon,
        }
    }

    /// The mails received so far (whole messages, headers and body), oldest first.
    pub(crate) fn mails(&self) -> Vec<String> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(self.maildir.join("new"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| std::fs::read_to_string(path).unwrap())
            .collect()
    }

    /// Waits up to `timeout` for at least `count` mails; answers the mails received by then.
    pub(crate) fn wait_for(&self, count: usize, timeout: Duration) -> Vec<String> {
        wait_until(timeout, || self.mails().len() >= count);
        self.mails()
    }
}

/// Where scripts/install-test-deps.sh caches what it downloads and builds: `PORTUS_TEST_CACHE`,
/// else `$XDG_CACHE_HOME/portus-test`, else `~/.cache/portus-test`.
pub(crate) fn test_cache_dir() -> PathBuf {
    std::env::var_os("PORTUS_TEST_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("portus-test")))
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/portus-test"))
}

/// A Go program built by scripts/install-test-deps.sh (`registry-v3`, `clair`, `clairctl`,
/// `trivy` from their pinned modules; the in-tree `trivy-db-fixture`): its path in the
/// cache's `go-tools/bin`.
pub(crate) fn go_tool(name: &str) -> PathBuf {
    let path = test_cache_dir().join("go-tools/bin").join(name);
    assert!(
        path.is_file(),
        "'{name}' is not built at {}: run scripts/install-test-deps.sh",
        path.display()
    );
    path
}

/// Real Clair v4 (`clair -mode combo`, built by scripts/install-test-deps.sh) on free loopback
/// ports, with its own new database on the test PostgreSQL (`PORTUS_TEST_POSTGRES_URL`), set up
/// as an air-gapped installation: updaters off, the indexer only reaching private addresses.
/// Vulnerability data comes from [`Clair::import`] (`clairctl import-updaters`). Stopped when
/// dropped.
pub(crate) struct Clair {
    /// The API (indexer and matcher).
    pub addr: SocketAddr,
    /// `/healthz` and `/readyz`.
    introspection: SocketAddr,
    dir: PathBuf,
    config: PathBuf,
    imports: usize,
    daemon: Option<Daemon>,
}

impl Clair {
    /// Creates the database, writes `clair.yaml` in `dir` and starts Clair.
    pub(crate) fn start(dir: &Path) -> Clair {
        require_program("psql");
        let admin = std::env::var("PORTUS_TEST_POSTGRES_URL")
            .expect("PORTUS_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh");
        // One database per instance: tests run in parallel on one cluster.
        let name = format!(
            "clair_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let created = run(Command::new("psql").args([
            admin.as_str(),
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("CREATE DATABASE {name}"),
        ]));
        assert_ok("create Clair's database", &created);
        let (base, _) = admin.rsplit_once('/').unwrap();
        let connstring = format!("{base}/{name}?sslmode=disable");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let introspection: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        // The Red Hat scanners download CPE mapping files from Red Hat at every index unless
        // given local ones; air-gapped, a missing mapping fails every index ("rhel: unable to
        // create a mappingFile object"). Empty ones will do for images that are not RHEL.
        let repo2cpe = dir.join("repository-to-cpe.json");
        let name2repos = dir.join("container-name-repos-map.json");
        std::fs::write(&repo2cpe, "{\"data\": {}}").unwrap();
        std::fs::write(&name2repos, "{\"data\": {}}").unwrap();
        // Every part migrates its own tables (nothing else creates them); the notifier must
        // reach a database too or start-up hangs. Without updaters and enrichment, the only
        // vulnerability data is what `import` loads.
        let yaml = format!(
            "http_listen_addr: {addr}\nintrospection_addr: {introspection}\nlog_level: info\n\
             indexer:\n  connstring: {connstring}\n  migrations: true\n  airgap: true\n\
             \x20 scanner:\n    repo:\n      rhel-repository-scanner:\n        repo2cpe_mapping_file: {}\n\
             \x20   package:\n      rhel_containerscanner:\n        name2repos_mapping_file: {}\n\
             matcher:\n  connstring: {connstring}\n  migrations: true\n  disable_updaters: true\n  disable_enrichment: true\n\
             notifier:\n  connstring: {connstring}\n  migrations: true\n",
            repo2cpe.display(),
            name2repos.display()
        );
        // The name must end in `.yaml`: Clair refuses `.yml`.
        let config = dir.join("clair.yaml");
        std::fs::write(&config, yaml).unwrap();
        let mut clair = Clair {
            addr,
            introspection,
            dir: dir.to_path_buf(),
            config,
            imports: 0,
            daemon: None,
        };
        clair.resume();
        clair
    }

    /// The API's URL, for portus' `security.clair_v4.server`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops Clair (its database stays).
    pub(crate) fn stop(&mut self) {
        self.daemon = None;
    }

    /// Starts Clair (again) on the same ports and database, and waits until it is ready.
    pub(crate) fn resume(&mut self) {
        let log = self.dir.join("clair.log");
        // Appends: a restart keeps what the first run said.
        let previous = std::fs::read_to_string(&log).unwrap_or_default();
        let daemon = Daemon::spawn(
            Command::new(go_tool("clair"))
                .arg("-conf")
                .arg(&self.config)
                .args(["-mode", "combo"]),
            log.clone(),
        );
        if !previous.is_empty() {
            std::fs::write(self.dir.join("clair.previous.log"), previous).unwrap();
        }
        self.daemon = Some(daemon);
        let ready = wait_until(Duration::from_secs(60), || {
            TcpStream::connect_timeout(&self.introspection, Duration::from_millis(200)).is_ok()
                && status(&http_get(self.introspection, "/readyz", &[])) == 200
        });
        assert!(
            ready,
            "Clair did not become ready; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Loads `vulnerabilities` (claircore Vulnerability objects) as one update operation of
    /// the updater `updater`, the way an air-gapped installation does: a file in the format
    /// `clairctl export-updaters` writes, read by `clairctl import-updaters`. Each call is a
    /// new update (fresh fingerprint and reference), which replaces that updater's data.
    pub(crate) fn import(&mut self, updater: &str, vulnerabilities: &[serde_json::Value]) {
        self.imports += 1;
        let reference = format!("6f1c2a9e-1111-4c5d-9e7f-{:012x}", self.imports);
        let lines: Vec<String> = vulnerabilities
            .iter()
            .map(|vulnerability| {
                serde_json::json!({
                    "Updater": updater, "Fingerprint": format!("portus-test-{}", self.imports),
                    "Date": "2026-01-01T00:00:00Z", "Ref": reference, "Kind": "vulnerability",
                    "Vuln": vulnerability,
                })
                .to_string()
            })
            .collect();
        let file = self.dir.join(format!("updates-{}.json", self.imports));
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let output = run(Command::new(go_tool("clairctl"))
            .arg("-c")
            .arg(&self.config)
            .arg("import-updaters")
            .arg(&file));
        assert_ok("clairctl import-updaters", &output);
    }
}

/// The `name=value` of every cookie `response` sets.
pub(crate) fn cookies(response: &str) -> Vec<String> {
    response
        .lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect()
}

/// Signs in to the web pages; the `Cookie` value of the session.
pub(crate) fn web_session(portus: &Portus, user: &str, password: &str) -> String {
    let form = http_get(portus.addr, "/sign_in", &[]);
    let start = form.find("name=\"csrf\" value=\"").expect("a sign-in form") + 19;
    let csrf = form[start..].split('"').next().unwrap();
    let twin = cookies(&form).join("; ");
    let answer = http_post(
        portus.addr,
        "/sign_in",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &twin)],
        &format!("csrf={csrf}&username={user}&password={password}"),
    );
    assert_eq!(status(&answer), 303, "sign in: {answer}");
    cookies(&answer).join("; ")
}
