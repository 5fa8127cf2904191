//! docs/migrating-from-portus.md, executed, so the document cannot rot: every ```` ```sh ````
//! block runs in order, each in its own `bash -euo pipefail`, in a sandbox prepared as the
//! document's prerequisites say: a Portus database (the fixture) in a fresh MariaDB database
//! with a read-only user, Portus' `config.yml` and `config-local.yml`, a key and certificate
//! made with openssl as Portus' documentation has them made, Debian's registry holding an image
//! and configured for Portus, `portus` on `PATH` (the binary under test), and the document's
//! `migration.env`. Then the outcome is checked: the report, the users, a pull with an old
//! password, the rollback, and Portus' database and files unchanged.
//!
//! To check that this test notices a broken document, point `MIGRATING_DOC` at an edited copy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::harness::{
    Creds, PORTUS, assert_denied, assert_ok, free_port, http_get, oci_layout, registry_config, require_program, run,
    skopeo_copy, status,
};
use crate::portus_config::portus_key;
use crate::portus_import::{BOB_TOKEN, MysqlUrl, PortusDatabase, check, feed};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/migrating-from-portus.md");
const PORTUS_DEFAULTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/config/portus_import/portus-2.5-config.yml"
);
/// The document keeps at least this many runnable blocks, so this test cannot pass by finding
/// none (it has 10: back up, convert, dry run, import, registry, start, list, pull, sync,
/// rollback).
const MIN_SH_BLOCKS: usize = 10;
/// The `portus` command lines of `console` blocks checked to parse.
const MIN_CONSOLE_COMMANDS: usize = 5;
/// alice's password in Portus (the fixture's header), typed at the check step's prompt.
const ALICE_PASSWORD: &str = "alice-password-1";
/// The registry's address in the document's sample report.
const DOC_REGISTRY: &str = "registry.example.org:5000";

/// A fenced code block of the document.
pub(crate) struct Block {
    /// The info string: `sh`, `console`, `text`, `yaml`…
    pub(crate) info: String,
    /// Its lines, without the fence's indentation.
    pub(crate) text: String,
    /// The line of its opening fence.
    pub(crate) line: usize,
}

/// The fenced code blocks of a Markdown document, in order (docs/quickstart.md's test uses it
/// too).
pub(crate) fn fenced_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(Block, usize)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let block = Block {
                        info: info.trim().to_owned(),
                        text: String::new(),
                        line: index + 1,
                    };
                    open = Some((block, indent));
                }
            }
            Some((block, fence_indent)) => {
                if trimmed == "```" {
                    blocks.push(open.take().unwrap().0);
                } else {
                    let strip = indent.min(*fence_indent);
                    block.text.push_str(&line[strip..]);
                    block.text.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "a code block is not closed");
    blocks
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A migration sandbox in a temporary directory. The registry and `portus serve` run from
/// scripts that stand in for the service manager and keep their process ids in pid files;
/// they are stopped when the sandbox is dropped.
struct Sandbox {
    dir: PathBuf,
    /// The value of each of the document's variables.
    values: Vec<(String, String)>,
    registry: SocketAddr,
    listen: SocketAddr,
    registry_config: PathBuf,
    /// The registry's `config.yml` without `auth` and `notifications`.
    registry_base_config: String,
    _tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new(database: &PortusDatabase) -> Sandbox {
        for program in ["docker-registry", "skopeo", "openssl", "mysqldump", "curl", "timeout"] {
            require_program(program);
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let registry: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        for sub in [
            "bin",
            "home/.config/containers",
            "work",
            "portus/config",
            "portus/secrets",
            "registry/storage",
        ] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }

        // Portus knew its registry at the address clients pull from (its auth.token.service).
        let admin = MysqlUrl::parse(&database.url);
        check(
            "point Portus' registry row at the sandbox registry",
            feed(
                admin.client(Some(&admin.database)),
                &format!("UPDATE registries SET hostname = '{registry}', use_ssl = FALSE;"),
            ),
        );
        // The document's read-only database user: the migration must work with SELECT alone.
        let source = MysqlUrl {
            user: format!("ro_{}", admin.database),
            password: "read-only-password".into(),
            ..MysqlUrl::parse(&database.url)
        };
        check(
            "create a read-only user (scripts/test-mariadb.sh grants its user WITH GRANT OPTION)",
            feed(
                admin.client(None),
                &format!(
                    "CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}';\n\
                     GRANT SELECT ON {database}.* TO '{user}'@'{host}';",
                    user = source.user,
                    host = source.host,
                    password = source.password,
                    database = source.database
                ),
            ),
        );
        let write = feed(source.client(Some(&source.database)), "UPDATE users SET email = email;");
        assert!(!write.status.success(), "the read-only user cannot write");

        // Portus' configuration files: its 2.5 defaults and a local override.
        let config_dir = dir.join("portus/config");
        std::fs::copy(PORTUS_DEFAULTS, config_dir.join("config.yml")).unwrap();
        std::fs::write(
            config_dir.join("config-local.yml"),
            format!(
                "machine_fqdn:\n  value: \"{listen}\"\ncheck_ssl_usage:\n  enabled: false\ndelete:\n  enabled: true\n"
            ),
        )
        .unwrap();
        let (key, cert) = portus_key(&dir.join("portus/secrets"));

        // `portus` on PATH, and the service manager's stand-ins.
        let bin = dir.join("bin");
        std::os::unix::fs::symlink(PORTUS, bin.join("portus")).unwrap();
        let registry_config_path = dir.join("registry/config.yml");
        let wait = |addr: SocketAddr| {
            format!(
                "for _ in $(seq 1 200); do (echo >/dev/tcp/{}/{}) 2>/dev/null && exit 0; sleep 0.1; done",
                addr.ip(),
                addr.port()
            )
        };
        let stop = |pidfile: &Path, addr: SocketAddr| {
            format!(
                "if [ -f {pid} ]; then\n  kill \"$(cat {pid})\" 2>/dev/null || true\n  rm -f {pid}\n  \
                 for _ in $(seq 1 200); do (echo >/dev/tcp/{ip}/{port}) 2>/dev/null || break; sleep 0.1; done\nfi\n",
                pid = pidfile.display(),
                ip = addr.ip(),
                port = addr.port()
            )
        };
        let script = |name: &str, body: String| {
            let path = bin.join(name);
            std::fs::write(
                &path,
                format!("#!/usr/bin/env bash\n# {name}: stands in for the service manager.\nset -eu\n{body}"),
            )
            .unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            path
        };
        let registry_pid = dir.join("registry.pid");
        let serve_pid = dir.join("serve.pid");
        let restart_registry = script(
            "restart-registry",
            format!(
                "{stop}env -i PATH=\"$PATH\" docker-registry serve {config} >>{log} 2>&1 </dev/null &\n\
                 echo $! > {pid}\n{wait}\necho 'the registry did not start' >&2; exit 1\n",
                stop = stop(&registry_pid, registry),
                config = registry_config_path.display(),
                log = dir.join("registry.log").display(),
                pid = registry_pid.display(),
                wait = wait(registry),
            ),
        );
        let start_serve = script(
            "start-serve",
            format!(
                "env -i PATH=\"$PATH\" PORTUS_CONFIG={config} PORTUS_DATA_DIR={data} PORTUS_LOG=info \
                 portus serve >>{log} 2>&1 </dev/null &\necho $! > {pid}\n{wait}\n\
                 echo 'portus serve did not start' >&2; exit 1\n",
                config = dir.join("etc/portus/portus.toml").display(),
                data = dir.join("data").display(),
                log = dir.join("serve.log").display(),
                pid = serve_pid.display(),
                wait = wait(listen),
            ),
        );
        let stop_serve = script("stop-serve", stop(&serve_pid, listen));

        // skopeo reaches the sandbox registry over plain HTTP, as an administrator allows it in
        // registries.conf.
        std::fs::write(
            dir.join("home/.config/containers/registries.conf"),
            format!("[[registry]]\nlocation = \"{registry}\"\ninsecure = true\n"),
        )
        .unwrap();

        let vars: Vec<(&str, String)> = vec![
            ("SOURCE_DB_HOST", source.host.clone()),
            ("SOURCE_DB_PORT", source.port.clone()),
            ("SOURCE_DB_USER", source.user.clone()),
            ("SOURCE_DB_PASSWORD", source.password.clone()),
            ("SOURCE_DB_NAME", source.database.clone()),
            (
                "SOURCE_DB_URL",
                format!(
                    "mysql://{}:{}@{}:{}/{}",
                    source.user, source.password, source.host, source.port, source.database
                ),
            ),
            ("SOURCE_CONFIG_DIR", config_dir.display().to_string()),
            ("SOURCE_KEY", key.display().to_string()),
            ("SOURCE_CERT", cert.display().to_string()),
            ("REGISTRY", registry.to_string()),
            ("REGISTRY_USE_SSL", "false".into()),
            ("REGISTRY_CONFIG", registry_config_path.display().to_string()),
            ("RESTART_REGISTRY", restart_registry.display().to_string()),
            ("LISTEN", listen.to_string()),
            ("START_SERVE", start_serve.display().to_string()),
            ("STOP_SERVE", stop_serve.display().to_string()),
            (
                "PORTUS_CONFIG",
                dir.join("etc/portus/portus.toml").display().to_string(),
            ),
            ("PORTUS_DATA_DIR", dir.join("data").display().to_string()),
            ("CHECK_USER", "alice".into()),
            ("CHECK_IMAGE", "devs/app:1.0".into()),
            ("BACKUP_DIR", dir.join("backup").display().to_string()),
        ];
        let registry_base_config = registry_config(&dir.join("registry/storage"), registry, "");
        let sandbox = Sandbox {
            values: vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            dir,
            registry,
            listen,
            registry_config: registry_config_path,
            registry_base_config,
            _tmp: tmp,
        };

        // The registry holds an image pushed in Portus' days...
        let storage = sandbox.dir.join("registry/storage");
        std::fs::write(&sandbox.registry_config, &sandbox.registry_base_config).unwrap();
        assert_ok(
            "start the registry",
            &sandbox.bash(&restart_registry.display().to_string(), ""),
        );
        let image = sandbox.dir.join("image");
        oci_layout(&image, "1.0", "pushed while Portus ran\n");
        assert_ok(
            "push devs/app:1.0",
            &skopeo_copy(
                &format!("oci:{}:1.0", image.display()),
                Creds::Anonymous,
                &format!("docker://{registry}/devs/app:1.0"),
                Creds::Anonymous,
            ),
        );
        // ...and is configured for Portus as Portus' documentation has it.
        let portus_sections = format!(
            "auth:\n  token:\n    realm: http://{listen}/v2/token\n    service: {registry}\n    issuer: {listen}\n    \
             rootcertbundle: {cert}\nnotifications:\n  endpoints:\n    - name: portus\n      \
             url: http://{listen}/v2/webhooks/events\n      timeout: 2000ms\n      threshold: 5\n      backoff: 1s\n",
            cert = cert.display()
        );
        std::fs::write(
            &sandbox.registry_config,
            registry_config(&storage, registry, &portus_sections),
        )
        .unwrap();
        assert_ok(
            "restart the registry for Portus",
            &sandbox.bash(&restart_registry.display().to_string(), ""),
        );
        let challenge = http_get(registry, "/v2/", &[]);
        assert_eq!(
            status(&challenge),
            401,
            "the registry asks Portus for tokens: {challenge}"
        );
        sandbox
    }

    /// Writes `migration.env` as the document shows it (`sample`) with the sandbox's values:
    /// every variable the document lists must be one the sandbox has, and the other way round.
    /// `SOURCE_DB_URL` keeps the document's definition, made from the other `SOURCE_DB_*`.
    fn write_env_file(&self, sample: &str) {
        let mut lines = Vec::new();
        let mut named = Vec::new();
        for line in sample.lines() {
            let Some((left, _)) = line.split_once('=').filter(|_| !line.starts_with('#')) else {
                lines.push(line.to_owned());
                continue;
            };
            let (export, name) = match left.strip_prefix("export ") {
                Some(name) => ("export ", name),
                None => ("", left),
            };
            named.push(name.to_owned());
            if name == "SOURCE_DB_URL" {
                lines.push(line.to_owned());
                continue;
            }
            let value = self
                .values
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("the document's migration.env has {name}, which the sandbox does not set"));
            assert!(!value.contains('\''));
            lines.push(format!("{export}{name}='{value}'"));
        }
        for (name, _) in &self.values {
            assert!(named.contains(name), "the document's migration.env lacks {name}");
        }
        std::fs::write(self.env_file(), lines.join("\n") + "\n").unwrap();
        let url = self.bash("printf %s \"$SOURCE_DB_URL\"", "");
        assert_ok("load migration.env", &url);
        let expected = self.values.iter().find(|(k, _)| k == "SOURCE_DB_URL").unwrap();
        assert_eq!(text(&url.stdout), expected.1, "SOURCE_DB_URL as migration.env makes it");
    }

    fn env_file(&self) -> PathBuf {
        self.dir.join("work/migration.env")
    }

    /// Runs `script` with `bash -euo pipefail` in the sandbox's working directory, after
    /// loading `migration.env` (if written), with no other variable but `PATH` and `HOME`, and
    /// `stdin` on standard input.
    fn bash(&self, script: &str, stdin: &str) -> Output {
        use std::io::Write;
        let env_file = self.env_file();
        let script = if env_file.exists() {
            format!(". {}\n{script}", env_file.display())
        } else {
            script.to_owned()
        };
        let path = std::env::var("PATH").unwrap_or_default();
        let mut child = Command::new("timeout")
            .args(["--kill-after=5", "300", "bash", "-euo", "pipefail", "-c", &script])
            .env_clear()
            .env("PATH", format!("{}:{path}", self.dir.join("bin").display()))
            .env("HOME", self.dir.join("home"))
            .current_dir(self.dir.join("work"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn portus(&self, args: &str) -> String {
        let output = self.bash(&format!("portus {args}"), "");
        assert_ok(&format!("portus {args}"), &output);
        text(&output.stdout)
    }

    /// Portus' files: its configuration, its signing key and the key's certificate.
    fn portus_files(&self) -> Vec<Vec<u8>> {
        [
            "portus/config/config.yml",
            "portus/config/config-local.yml",
            "portus/secrets/server.key",
            "portus/secrets/server.crt",
        ]
        .iter()
        .map(|file| std::fs::read(self.dir.join(file)).unwrap())
        .collect()
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for (pidfile, log) in [("serve.pid", "serve.log"), ("registry.pid", "registry.log")] {
            if std::thread::panicking() {
                let text = self.log(log);
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                eprintln!(
                    "--- {log}, last lines:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(pidfile)) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
    }
}

/// Every table of Portus' database with its checksum: any change to any row changes it.
fn portus_checksums(database: &PortusDatabase) -> String {
    let source = MysqlUrl::parse(&database.url);
    let tables = run(source
        .client(Some(&source.database))
        .args(["-N", "-B", "-e", "SHOW TABLES"]));
    assert_ok("SHOW TABLES", &tables);
    let tables: Vec<String> = text(&tables.stdout).lines().map(str::to_owned).collect();
    assert!(tables.len() >= 15, "Portus' tables: {tables:?}");
    let checksums = run(source.client(Some(&source.database)).args([
        "-N",
        "-B",
        "-e",
        &format!("CHECKSUM TABLE {} EXTENDED", tables.join(", ")),
    ]));
    assert_ok("CHECKSUM TABLE", &checksums);
    text(&checksums.stdout)
}

/// The shape of YAML: each line, with quoted values and lists of quoted values left out (they
/// hold addresses, paths and the secret).
fn yaml_shape(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.split_once(": ") {
            Some((key, value)) if value.starts_with('"') || value.starts_with('[') => format!("{key}:"),
            _ => line.to_owned(),
        })
        .collect()
}

fn find<'a>(blocks: &'a [&Block], what: &str, matches: impl Fn(&Block) -> bool) -> &'a Block {
    let found: Vec<&&Block> = blocks.iter().filter(|b| matches(b)).collect();
    assert_eq!(found.len(), 1, "the document should have one {what} block");
    found[0]
}

#[test]
fn migrating_doc_commands_move_a_portus_installation_and_roll_it_back() {
    let path = std::env::var("MIGRATING_DOC").unwrap_or_else(|_| DOC.to_owned());
    let markdown = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let blocks = fenced_blocks(&markdown);
    let runnable: Vec<&Block> = blocks.iter().filter(|b| b.info == "sh").collect();
    assert!(
        runnable.len() >= MIN_SH_BLOCKS,
        "{path} has {} sh blocks, expected at least {MIN_SH_BLOCKS}",
        runnable.len()
    );

    let database = PortusDatabase::mariadb();
    let sandbox = Sandbox::new(&database);
    let before = portus_checksums(&database);
    let portus_files = sandbox.portus_files();
    let original_registry_config = std::fs::read_to_string(&sandbox.registry_config).unwrap();
    let env_sample = blocks
        .iter()
        .find(|b| b.info == "text" && b.text.contains("SOURCE_DB_URL="))
        .expect("the document shows migration.env");
    sandbox.write_env_file(&env_sample.text);

    let dry_run = find(&runnable, "dry-run", |b| {
        b.text.contains("import portus") && b.text.contains("--dry-run")
    });
    let import = find(&runnable, "import", |b| {
        b.text.contains("import portus") && !b.text.contains("--dry-run")
    });
    let re_point = find(&runnable, "registry", |b| b.text.contains("portus config registry"));
    let pull = find(&runnable, "pull check", |b| b.text.contains("skopeo login"));
    let rollback = find(&runnable, "rollback", |b| b.text.contains("STOP_SERVE"));

    let mut outputs = Vec::new();
    for (index, block) in runnable.iter().enumerate() {
        let output = sandbox.bash(&block.text, &format!("{ALICE_PASSWORD}\n"));
        assert!(
            output.status.success(),
            "sh block {} of {} ({path}:{}) failed ({}):\n{}\n--- stdout:\n{}\n--- stderr:\n{}",
            index + 1,
            runnable.len(),
            block.line,
            output.status,
            block.text,
            text(&output.stdout),
            text(&output.stderr)
        );
        if std::ptr::eq(*block, re_point) {
            // The registry's config.yml: everything as it was, then the two sections printed.
            assert_eq!(
                std::fs::read_to_string(&sandbox.registry_config).unwrap(),
                format!("{}{}", sandbox.registry_base_config, sandbox.portus("config registry")),
                "the registry's config.yml after step 6"
            );
        }
        if std::ptr::eq(*block, pull) {
            // While the registry is in this server's hands: a wrong password is refused, bob's
            // Portus application token pulls.
            let reference = format!("docker://{}/devs/app:1.0", sandbox.registry);
            let dest = tempfile::tempdir().unwrap();
            let dest = format!("dir:{}", dest.path().display());
            assert_denied(
                "a wrong password",
                &skopeo_copy(
                    &reference,
                    Creds::User("alice", "not-alice-password"),
                    &dest,
                    Creds::Anonymous,
                ),
            );
            assert_ok(
                "bob's Portus application token",
                &skopeo_copy(&reference, Creds::User("bob", BOB_TOKEN), &dest, Creds::Anonymous),
            );
        }
        outputs.push((*block, output));
    }
    let output_of = |wanted: &Block| {
        let (_, output) = outputs.iter().find(|(b, _)| std::ptr::eq(*b, wanted)).unwrap();
        (text(&output.stdout), text(&output.stderr))
    };

    // The dry run printed the report the document shows (the sandbox's registry address aside).
    let sample = blocks
        .iter()
        .find(|b| b.info == "text" && b.text.starts_with("kind "))
        .expect("the document shows the dry run's report");
    let (report, _) = output_of(dry_run);
    assert_eq!(
        report.replace(&sandbox.registry.to_string(), DOC_REGISTRY).trim_end(),
        sample.text.trim_end(),
        "the dry run's report differs from the document's sample"
    );

    // The import wrote Portus' users; Portus' internal user is not one of them.
    let (imported, _) = output_of(import);
    assert!(
        imported.contains("import complete") && imported.contains("written"),
        "{imported}"
    );
    let users = sandbox.portus("user list --json");
    for name in ["alice", "bob", "dave", "erin", "frank", "ci-robot"] {
        assert!(users.contains(&format!("\"{name}\"")), "{name} was imported: {users}");
    }
    assert!(!users.contains("\"portus\""), "{users}");

    // The check pulled with alice's password from Portus' days.
    let (pulled, pull_log) = output_of(pull);
    assert!(
        pull_log.contains("Login Succeeded") || pulled.contains("Login Succeeded"),
        "{pulled}{pull_log}"
    );
    assert!(
        pulled.contains("Writing manifest") || pull_log.contains("Writing manifest"),
        "{pulled}{pull_log}"
    );

    // The rollback (after the check): this server is stopped, the registry runs with Portus'
    // config.yml again.
    let position = |wanted: &Block| runnable.iter().position(|b| std::ptr::eq(*b, wanted)).unwrap();
    assert!(
        position(rollback) > position(pull),
        "the rollback comes after the check"
    );
    assert_eq!(
        std::fs::read_to_string(&sandbox.registry_config).unwrap(),
        original_registry_config,
        "the rollback restores the registry's config.yml"
    );
    assert!(
        std::net::TcpStream::connect(sandbox.listen).is_err(),
        "portus serve is stopped"
    );
    assert_eq!(
        status(&http_get(sandbox.registry, "/v2/", &[])),
        401,
        "the registry runs"
    );

    // Portus' database is exactly as it was: the migration only read it.
    assert_eq!(portus_checksums(&database), before, "Portus' database changed");
    assert!(
        sandbox.portus_files() == portus_files,
        "Portus' configuration, key or certificate changed"
    );
    let dump = std::fs::read_to_string(sandbox.dir.join("backup/portus-database.sql")).unwrap();
    assert!(
        dump.contains("CREATE TABLE `users`") && dump.contains("INSERT INTO `users`"),
        "the backup holds Portus' database"
    );

    // The registry sections the document shows have the shape `portus config registry` prints.
    let shown = blocks
        .iter()
        .find(|b| b.info == "yaml" && b.text.contains("Authorization:"))
        .expect("the document shows what `portus config registry` prints");
    assert_eq!(
        yaml_shape(&shown.text),
        yaml_shape(&sandbox.portus("config registry")),
        "the document's `portus config registry` sample"
    );

    // The `portus` commands of console blocks parse (they are not run: `--help` is appended).
    let mut console_commands = 0;
    for block in blocks.iter().filter(|b| b.info == "console") {
        for line in block.text.lines() {
            // Variable assignments in front of the command (`VAR=value portus ...`) are part of
            // the environment, not of the command line.
            let Some(mut rest) = line.strip_prefix("$ ") else {
                continue;
            };
            while let Some((word, tail)) = rest.split_once(' ')
                && word.split_once('=').is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                })
            {
                rest = tail;
            }
            let Some(command) = rest.strip_prefix("portus ") else {
                continue;
            };
            if command.contains(['|', '>', '<', ';', '&']) {
                continue;
            }
            let output = sandbox.bash(&format!("portus {command} --help"), "");
            assert!(
                output.status.success(),
                "{path}:{}: `portus {command}` does not parse: {}",
                block.line,
                text(&output.stderr)
            );
            console_commands += 1;
        }
    }
    assert!(
        console_commands >= MIN_CONSOLE_COMMANDS,
        "{console_commands} portus commands in console blocks"
    );
}
