//! docs/quickstart.md, executed, so the document cannot rot. The conventions of its fenced
//! blocks (the info string after ```` ``` ````):
//!
//! - `sh`: run in document order, each in its own `bash -euo pipefail`, all in one working
//!   directory (the reader's "empty directory"), with `portus` (the binary under test),
//!   `docker-registry`, `skopeo`, `podman` and `curl` on `PATH`;
//! - `sh wait-for=HOST:PORT`: a long-running command the reader starts "in a second terminal":
//!   started in the background (stopped at the end of the test), then the test waits until
//!   HOST:PORT accepts connections;
//! - `sh install`: the install step (`cargo install` of this checkout, a release build). It
//!   runs as written with `QUICKSTART_INSTALL=1`, which `scripts/test.sh` sets (with
//!   `CARGO_INSTALL_ROOT` in the sandbox and the build kept in `QUICKSTART_TARGET_DIR`, which
//!   the script fills before the tests start, so the release build does not starve the other
//!   tests of CPU: a cold one takes about 8 minutes on 2 cores), and the installed binary is
//!   the one used. Otherwise the test says so on standard error, checks that the block is the
//!   one command it knows and that `--locked` holds (`cargo metadata --locked`), and puts the
//!   binary under test, built from the same checkout, on `PATH` in its place;
//! - any other (`console`, `text`, `yaml`): not run (docker, system changes); their `$ portus`
//!   lines must parse.
//!
//! Ports: the document's `127.0.0.1:5001` (portus) and `127.0.0.1:5000` (the registry) are
//! replaced in the command text by free ports, and `PORTUS_LISTEN` and `PORTUS_REGISTRY_URL`
//! (documented overrides of `listen` and `registry.url`) are set to them; nothing else of the
//! text changes. podman and skopeo keep images in the sandbox (`CONTAINERS_STORAGE_CONF`).
//!
//! Then the outcome is checked beyond what the commands print: the tag page of the web pages,
//! signed in as the document's administrator, shows the scan's findings. To check that this
//! test notices a broken document, point `QUICKSTART_DOC` at an edited copy.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

use crate::harness::{PORTUS, free_port, require_program, wait_for_port};
use crate::migrating_doc::{Block, fenced_blocks};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/quickstart.md");
/// The document's addresses, replaced by free ports.
const DOC_PORTUS: &str = "127.0.0.1:5001";
const DOC_REGISTRY: &str = "127.0.0.1:5000";
/// The install block the test knows how to stand in for.
const INSTALL: &str = "cargo install --locked --path .";
/// The administrator the document creates, and the image it pushes.
const ADMIN: (&str, &str) = ("admin", "admin-password-1");
const DOC_TAG: &str = "admin/hello:1.0";
/// At least this many blocks run, so that the test cannot pass by finding none.
const MIN_SH_BLOCKS: usize = 8;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The reader's machine: a working directory, a home, the programs on `PATH`, and the
/// long-running commands started so far (stopped on drop).
struct Sandbox {
    dir: PathBuf,
    portus: SocketAddr,
    registry: SocketAddr,
    background: Vec<(Child, PathBuf)>,
    _tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        for program in ["docker-registry", "skopeo", "podman", "curl", "timeout", "cargo"] {
            require_program(program);
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        for sub in ["bin", "home", "work", "logs", "containers"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // podman and skopeo keep their images in the sandbox; vfs works on any file system.
        std::fs::write(
            dir.join("containers/storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{root}/storage\"\nrunroot = \"{root}/run\"\n",
                root = dir.join("containers").display()
            ),
        )
        .unwrap();
        Sandbox {
            portus: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
            registry: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
            dir,
            background: Vec::new(),
            _tmp: tmp,
        }
    }

    /// The document's command text with the sandbox's ports.
    fn substitute(&self, script: &str) -> String {
        script
            .replace(DOC_PORTUS, &self.portus.to_string())
            .replace(DOC_REGISTRY, &self.registry.to_string())
    }

    /// `bash -euo pipefail -c script` in the working directory, with only the reader's
    /// environment (and the sandbox's ports and image store).
    fn command(&self, script: &str) -> Command {
        let path = std::env::var("PATH").unwrap_or_default();
        let mut command = Command::new("timeout");
        command
            .args(["--kill-after=5", "300", "bash", "-euo", "pipefail", "-c", script])
            .env_clear()
            .env("PATH", format!("{}:{path}", self.dir.join("bin").display()))
            .env("HOME", self.dir.join("home"))
            .env("PORTUS_LISTEN", self.portus.to_string())
            .env("PORTUS_REGISTRY_URL", format!("http://{}", self.registry))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("containers/storage.conf"))
            .current_dir(self.dir.join("work"));
        command
    }

    fn bash(&self, script: &str) -> Output {
        self.command(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    }

    /// Starts a long-running block and waits for its address.
    fn start(&mut self, block: &Block, addr: SocketAddr) {
        let log = self.dir.join(format!("logs/line-{}.log", block.line));
        let file = std::fs::File::create(&log).unwrap();
        let child = self
            .command(&self.substitute(&block.text))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .unwrap();
        self.background.push((child, log.clone()));
        wait_for_port(addr, &format!("the block at line {}", block.line), &log);
    }

    /// The install block: run as written with `QUICKSTART_INSTALL=1`, otherwise checked and
    /// stood in for by the binary under test.
    fn install(&self, block: &Block) {
        let command = block.text.trim();
        let root = self.dir.join("cargo");
        if std::env::var("QUICKSTART_INSTALL").as_deref() == Ok("1") {
            let started = Instant::now();
            // The release build is kept where the test script caches third-party builds, so
            // a later run rebuilds only this workspace's crates.
            let target = std::env::var("QUICKSTART_TARGET_DIR")
                .or_else(|_| std::env::var("CARGO_TARGET_DIR"))
                .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_owned());
            let output = self
                .command(&format!("cd {} && {command}", env!("CARGO_MANIFEST_DIR")))
                .env("CARGO_INSTALL_ROOT", &root)
                .env("CARGO_TARGET_DIR", target)
                .env("HOME", std::env::var("HOME").unwrap_or_default())
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "the install block at line {}: {}",
                block.line,
                text(&output.stderr)
            );
            eprintln!("quickstart: `{command}` took {:?}", started.elapsed());
            std::os::unix::fs::symlink(root.join("bin/portus"), self.dir.join("bin/portus")).unwrap();
            return;
        }
        eprintln!(
            "quickstart: the install block (`{command}`) is not run (a release build); set \
             QUICKSTART_INSTALL=1 to run it. The binary under test stands in for it."
        );
        assert_eq!(command, INSTALL, "the install block at line {}", block.line);
        let locked = Command::new("cargo")
            .args([
                "metadata",
                "--locked",
                "--offline",
                "--format-version",
                "1",
                "--no-deps",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            locked.status.success(),
            "`--locked` fails: Cargo.lock is not up to date: {}",
            text(&locked.stderr)
        );
        std::os::unix::fs::symlink(PORTUS, self.dir.join("bin/portus")).unwrap();
    }

    /// Signs in to the web pages as the document's administrator and returns the page of the
    /// document's tag (found by following links, as a reader clicks).
    fn tag_page(&self) -> String {
        let base = format!("http://{}", self.portus);
        let (repository, tag) = DOC_TAG.rsplit_once(':').unwrap();
        // The list shows the name with or without its namespace.
        let (namespace, name) = repository.split_once('/').unwrap();
        let script = format!(
            r#"jar=$(mktemp)
form=$(curl -sf -c "$jar" -b "$jar" {base}/sign_in)
csrf=$(printf '%s' "$form" | grep -o 'name="csrf"[^>]*' | grep -o 'value="[^"]*"' | head -n1 | cut -d'"' -f2)
curl -sf -o /dev/null -c "$jar" -b "$jar" --data-urlencode username={user} --data-urlencode password={password} \
  --data-urlencode "csrf=$csrf" {base}/sign_in
repo=$(curl -sf -b "$jar" {base}/repositories | grep -oE '<a href="/repositories/[0-9]+">({namespace}/)?{name}</a>' | grep -oE '/repositories/[0-9]+')
tag=$(curl -sf -b "$jar" "{base}$repo" | grep -oE '<a href="/tags/[0-9]+">{tag}</a>' | grep -oE '/tags/[0-9]+')
curl -sf -b "$jar" "{base}$tag"
"#,
            user = ADMIN.0,
            password = ADMIN.1,
        );
        let output = self.bash(&script);
        assert!(
            output.status.success(),
            "the tag page of {DOC_TAG}, signed in: {}{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        text(&output.stdout)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for (child, log) in &mut self.background {
            if std::thread::panicking() {
                let log_text = std::fs::read_to_string(&*log).unwrap_or_default();
                let tail: Vec<&str> = log_text.lines().rev().take(30).collect();
                eprintln!(
                    "--- {}, last lines:\n{}",
                    log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            // The block's bash and what it started are one process group.
            let _ = Command::new("kill").args(["--", &format!("-{}", child.id())]).status();
            let _ = child.wait();
        }
    }
}

#[test]
fn quickstart_doc_commands_take_a_new_user_to_a_scanned_pushed_image() {
    let path = std::env::var("QUICKSTART_DOC").unwrap_or_else(|_| DOC.to_owned());
    let markdown = std::fs::read_to_string(&path).unwrap();
    let blocks = fenced_blocks(&markdown);
    let mut sandbox = Sandbox::new();
    let started = Instant::now();
    let mut ran = 0;
    for block in &blocks {
        let mut words = block.info.split_whitespace();
        if words.next() != Some("sh") {
            continue;
        }
        let option = words.next();
        match option {
            Some("install") => sandbox.install(block),
            Some(wait) if wait.starts_with("wait-for=") => {
                let addr: SocketAddr = sandbox.substitute(&wait["wait-for=".len()..]).parse().unwrap();
                sandbox.start(block, addr);
            }
            None => {
                let output = sandbox.bash(&sandbox.substitute(&block.text));
                assert!(
                    output.status.success(),
                    "{path}:{}: the block failed ({}):\n{}\n--- stdout:\n{}--- stderr:\n{}",
                    block.line,
                    output.status,
                    block.text,
                    text(&output.stdout),
                    text(&output.stderr)
                );
            }
            Some(other) => panic!("{path}:{}: unknown block option {other}", block.line),
        }
        ran += 1;
    }
    eprintln!("quickstart: {ran} blocks ran in {:?}", started.elapsed());
    assert!(ran >= MIN_SH_BLOCKS, "only {ran} sh blocks in {path}");

    // What the reader was told to look at.
    let page = sandbox.tag_page();
    for finding in ["CVE-2016-6304", "CVE-2016-7052", "CVE-2016-2178"] {
        assert!(page.contains(finding), "the tag page lists {finding}:\n{page}");
    }
    // "Without credentials the pull is refused".
    let anonymous = sandbox.bash(&format!(
        "skopeo inspect --tls-verify=false docker://{}/{DOC_TAG}",
        sandbox.registry
    ));
    assert!(!anonymous.status.success(), "an anonymous pull of {DOC_TAG} is refused");
    assert!(
        text(&anonymous.stderr).contains("unauthorized"),
        "{}",
        text(&anonymous.stderr)
    );
    // The written configuration, the registry's, and the pulled image are where the
    // document says.
    let work = sandbox.dir.join("work");
    for file in [
        "portus.toml",
        "registry.yml",
        "portus-data/token.crt",
        "pulled-hello/index.json",
    ] {
        assert!(work.join(file).exists(), "{file} after the quickstart");
    }
    let secret = std::fs::read_to_string(work.join("portus-data/webhook.secret")).unwrap();
    for (_, log) in &sandbox.background {
        let log_text = std::fs::read_to_string(log).unwrap();
        assert!(
            !log_text.contains(secret.trim()),
            "{} shows the webhook secret",
            log.display()
        );
    }
    // What keeps it out: the log level the printed configuration sets.
    let registry_yml = std::fs::read_to_string(work.join("registry.yml")).unwrap();
    assert!(registry_yml.contains("level: warn"), "{registry_yml}");

    // Console blocks are not run, but their `portus` command lines parse.
    for block in blocks.iter().filter(|b| !b.info.starts_with("sh")) {
        for line in block.text.lines() {
            let Some(command) = line.strip_prefix("$ portus ") else {
                continue;
            };
            let output = sandbox.bash(&format!("portus {command} --help"));
            assert!(
                output.status.success(),
                "{path}:{}: `portus {command}` does not parse",
                block.line
            );
        }
    }
}

/// `portus init` in an empty directory writes `portus.toml` and the installation and prints a
/// registry configuration; a second run refuses to replace the file (it may hold the reader's
/// edits) unless `--force`, which keeps the signing key and secret the registry trusts.
#[test]
fn portus_init_writes_once_and_force_keeps_the_installation() {
    let tmp = tempfile::tempdir().unwrap();
    let init = |args: &[&str]| {
        Command::new(PORTUS)
            .arg("init")
            .args(args)
            .current_dir(tmp.path())
            .env_remove("PORTUS_CONFIG")
            .env_remove("PORTUS_DATA_DIR")
            .output()
            .unwrap()
    };
    let first = init(&[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let yaml = text(&first.stdout);
    for key in [
        "version: 0.1",
        "rootdirectory:",
        "addr: \"127.0.0.1:5000\"",
        "rootcertbundle:",
        "Authorization:",
    ] {
        assert!(yaml.contains(key), "{key} in {yaml}");
    }
    let toml_path = tmp.path().join("portus.toml");
    let key = std::fs::read(tmp.path().join("portus-data/token.key")).unwrap();
    std::fs::write(&toml_path, "listen = \"127.0.0.1:6001\"\n").unwrap();

    let again = init(&[]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("exists already"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&toml_path).unwrap(),
        "listen = \"127.0.0.1:6001\"\n"
    );

    let forced = init(&["--force"]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert!(
        std::fs::read_to_string(&toml_path)
            .unwrap()
            .contains("[security.dummy]")
    );
    assert_eq!(std::fs::read(tmp.path().join("portus-data/token.key")).unwrap(), key);
    assert_eq!(text(&forced.stdout), yaml, "the same registry configuration");

    // The next commands find portus.toml without --config.
    let listed = Command::new(PORTUS)
        .args(["user", "list"])
        .current_dir(tmp.path())
        .env_remove("PORTUS_CONFIG")
        .env_remove("PORTUS_DATA_DIR")
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(text(&listed.stderr).contains("using the configuration portus.toml"));
}
