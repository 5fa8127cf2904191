//! The `portus` admin commands: results and clear errors for misuse.

use std::process::Output;

use crate::harness::Portus;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_fails(output: &Output, code: i32, expected: &str) {
    assert_eq!(output.status.code(), Some(code), "stderr: {}", stderr(output));
    assert!(
        stderr(output).contains(expected),
        "expected '{expected}' in: {}",
        stderr(output)
    );
}

#[test]
fn a_missing_configuration_file_is_said_once() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere.toml");
    let output = std::process::Command::new(crate::harness::PORTUS)
        .arg("--config")
        .arg(&missing)
        .args(["user", "list"])
        .env_remove("PORTUS_CONFIG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains(&format!("{}: No such file", missing.display())), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "the cause is said once: {err}");
}

/// Drives `portus ARGS` on a pseudo-terminal: answers each prompt with `PASSWORD`, returns all
/// the terminal showed and the exit code.
const PTY_DRIVER: &str = r#"
import os, pty, signal, sys
# A program that never prompts would wait for input for ever: fail instead.
signal.alarm(30)
password = os.environ["PTY_PASSWORD"].encode() + b"\n"
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
def read():
    global out
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        chunk = b""
    out += chunk
    return chunk
for prompt in (b"Password: ", b"Confirm password: "):
    while prompt not in out.split(b"\n")[-1]:
        if not read():
            sys.stdout.write(out.decode(errors="replace"))
            sys.exit(99)
    os.write(fd, password)
while read():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn a_password_at_a_terminal_is_prompted_for_twice_without_echo() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Portus::new(tmp.path(), "registry.pty", "");
    p.cli(&["user", "list"], None);
    let output = std::process::Command::new("python3")
        .args(["-c", PTY_DRIVER, crate::harness::PORTUS, "--data-dir"])
        .arg(p.dir.join("data"))
        .arg("--config")
        .arg(p.dir.join("portus.toml"))
        .args(["user", "create", "admin", "--admin", "--password-stdin"])
        .env("PTY_PASSWORD", "pty-s3cret")
        .env_remove("PORTUS_DATA_DIR")
        .env_remove("PORTUS_CONFIG")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}{}", stderr(&output));
    assert!(
        screen.contains("Password: ") && screen.contains("Confirm password: "),
        "{screen}"
    );
    assert!(!screen.contains("pty-s3cret"), "the password is not echoed: {screen}");
    assert!(screen.contains("Created administrator user 'admin'"), "{screen}");
    // What was typed is the password.
    p.start();
    let answer = crate::harness::http_get(
        p.addr,
        "/v2/token?service=registry.pty",
        &[("Authorization", &crate::harness::basic("admin", "pty-s3cret"))],
    );
    assert_eq!(crate::harness::status(&answer), 200, "{answer}");
}

#[test]
fn a_password_from_a_pipe_is_read_without_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.pipe", "");
    let output = p.try_cli(&["user", "create", "alice", "--password-stdin"], Some("piped-pw\n"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("Password:"), "{}", stderr(&output));
}

/// `portus ARGS` run in `cwd` with neither a configuration nor a data directory given.
fn portus_in(cwd: &std::path::Path, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(crate::harness::PORTUS);
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("PORTUS_")) {
        command.env_remove(name);
    }
    command.current_dir(cwd).args(args).output().unwrap()
}

#[test]
fn a_command_elsewhere_does_not_start_a_second_installation_and_names_its_store() {
    let tmp = tempfile::tempdir().unwrap();
    let refused = portus_in(tmp.path(), &["user", "list"]);
    assert_fails(&refused, 1, "no portus installation in portus-data");
    assert!(stderr(&refused).contains("--init"), "{}", stderr(&refused));
    assert!(!tmp.path().join("portus-data").exists(), "nothing was created");
    for args in [&["team", "list"][..], &["activity"], &["sync", "--dry-run"]] {
        let refused = portus_in(tmp.path(), args);
        assert_fails(&refused, 1, "no portus installation");
    }
    assert!(!tmp.path().join("portus-data").exists(), "nothing was created");

    let created = portus_in(tmp.path(), &["--init", "user", "create", "admin", "--admin"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let store = tmp.path().canonicalize().unwrap().join("portus-data").join("portus.db");
    let named = format!("using the store SQLite {}", store.display());
    assert!(stderr(&created).contains(&named), "{}", stderr(&created));
    // From then on the installation is found without --init, and named every time.
    let listed = portus_in(tmp.path(), &["user", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("admin"));
    assert!(stderr(&listed).contains(&named), "{}", stderr(&listed));
    let activity = portus_in(tmp.path(), &["activity"]);
    assert!(stderr(&activity).contains(&named), "{}", stderr(&activity));

    // `config registry`, the first set-up step, starts the installation the next commands use
    // (the administrator may be made before the first `serve`).
    let other = tempfile::tempdir().unwrap();
    let configured = portus_in(other.path(), &["config", "registry"]);
    assert!(configured.status.success(), "{}", stderr(&configured));
    let created = portus_in(other.path(), &["user", "create", "admin", "--admin"]);
    assert!(created.status.success(), "{}", stderr(&created));
}

#[test]
fn an_unreachable_realm_is_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Portus::new(tmp.path(), "registry.realm", "");
    let config = p.dir.join("portus.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("listen = \"127.0.0.1:", "listen = \"0.0.0.0:")).unwrap();
    let realm = format!("http://0.0.0.0:{}/v2/token", p.addr.port());
    let printed = p.try_cli(&["config", "registry"], None);
    assert!(printed.status.success(), "{}", stderr(&printed));
    assert!(
        stderr(&printed).contains("without public_url") && stderr(&printed).contains(&realm),
        "{}",
        stderr(&printed)
    );
    p.start();
    let log = p.log();
    let warning = log
        .lines()
        .find(|l| l.contains("without public_url"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(warning.contains("WARN") && warning.contains(&realm), "{warning}");
}

#[test]
fn refusals_logins_and_registry_events_are_logged_at_info() {
    use crate::harness::{basic, http_get, http_post, status, wait_until};
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Portus::new(tmp.path(), "registry.logs", "");
    p.user("alice", "alice-password");
    // PORTUS_LOG=info, the level without PORTUS_LOG.
    p.start();
    let other_service = http_get(p.addr, "/v2/token?service=registry.other", &[]);
    assert_eq!(status(&other_service), 400, "{other_service}");
    let wrong = http_get(
        p.addr,
        "/v2/token?service=registry.logs",
        &[("Authorization", &basic("alice", "not-her-password"))],
    );
    let unknown = http_get(
        p.addr,
        "/v2/token?service=registry.logs",
        &[("Authorization", &basic("mallory", "whatever-password"))],
    );
    assert_eq!(status(&wrong), 401);
    let body = |answer: &str| answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    assert_eq!(
        body(&wrong),
        body(&unknown),
        "the answers do not tell which names exist"
    );
    let event = |id: &str, action: &str| {
        format!(
            r#"{{"id":"{id}","action":"{action}","actor":{{"name":"alice"}},"target":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":2048,"digest":"sha256:{}","repository":"alice/app","tag":"1.0"}}}}"#,
            "ab".repeat(32)
        )
    };
    let secret = p.webhook_authorization();
    for (id, action) in [("l1", "push"), ("l2", "delete")] {
        let answer = http_post(
            p.addr,
            "/v2/webhooks/events",
            &[
                ("Authorization", secret.as_str()),
                ("Content-Type", "application/vnd.docker.distribution.events.v1+json"),
            ],
            &format!(r#"{{"events":[{}]}}"#, event(id, action)),
        );
        assert!(answer.contains("\"accepted\":1"), "{answer}");
        let applied = format!("registry {action} applied");
        assert!(
            wait_until(std::time::Duration::from_secs(20), || p.log().contains(&applied)),
            "{}",
            p.log()
        );
    }
    let log = p.log();
    let line = |needle: &str| -> String {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no '{needle}' in:\n{log}"))
            .to_owned()
    };
    let refused = line("token request refused");
    assert!(
        refused.contains(" INFO ") && refused.contains("unknown service 'registry.other'"),
        "{refused}"
    );
    let wrong_password = line("user=\"alice\"");
    assert!(
        wrong_password.contains(" INFO ") && wrong_password.contains("login refused"),
        "{wrong_password}"
    );
    assert!(wrong_password.contains("wrong password"), "{wrong_password}");
    let no_user = line("user=\"mallory\"");
    assert!(
        no_user.contains("login refused") && no_user.contains("no such user"),
        "{no_user}"
    );
    let push = line("registry push applied");
    assert!(
        push.contains(" INFO ") && push.contains("alice/app:1.0") && push.contains("actor=\"alice\""),
        "{push}"
    );
    assert!(line("registry delete applied").contains("alice/app:1.0"));
    assert!(
        !log.contains("not-her-password") && !log.contains("whatever-password"),
        "no secret is logged"
    );
}

#[test]
fn help_describes_the_portus_command() {
    let output = std::process::Command::new(crate::harness::PORTUS)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.starts_with("The portus server and its administration commands"),
        "{help}"
    );
    assert!(help.contains("portus serve") && help.contains("--init"), "{help}");
}

#[test]
fn activity_filters_explain_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.activity", "");
    p.cli(&["user", "create", "alice"], None);
    let bad_time = p.try_cli(&["activity", "--since", "yesterday"], None);
    assert!(!bad_time.status.success());
    assert!(
        stderr(&bad_time).contains("an age (30m, 24h, 7d)"),
        "{}",
        stderr(&bad_time)
    );
    let bad_action = p.try_cli(&["activity", "--action", "push"], None);
    assert!(!bad_action.status.success());
    assert!(stderr(&bad_action).contains("like tag.push"), "{}", stderr(&bad_action));
    let none = p.try_cli(&["activity", "--actor", "nobody", "--since", "24h"], None);
    assert!(none.status.success());
    assert!(
        none.stdout.is_empty() && stderr(&none).contains("no activity matched"),
        "{none:?}"
    );
    let recent = p.cli(&["activity", "--since", "1h"], None);
    assert!(recent.contains("user.create") && recent.contains("alice"), "{recent}");
}

#[test]
fn logs_written_to_a_file_are_plain_text() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Portus::new(tmp.path(), "registry.log", "");
    p.start();
    let log = p.log();
    assert!(log.contains("portus is serving"), "{log}");
    // The start-up lines say where the pages are, what scans, and what to do first.
    assert!(log.contains(&format!("web=http://{}/", p.addr)), "{log}");
    assert!(log.contains("scanners=none"), "{log}");
    assert!(
        log.contains("no user exists yet") && log.contains("portus user create admin --admin"),
        "{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "no terminal colour codes in a log file: {log:?}"
    );
}

#[test]
fn admin_commands_report_misuse_clearly_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "");
    let created = p.cli(
        &["user", "create", "alice", "--password-stdin"],
        Some("alice-password\n"),
    );
    assert!(
        created.contains("Created user 'alice' with personal namespace 'alice'"),
        "{created}"
    );

    assert_fails(
        &p.try_cli(
            &["user", "create", "alice", "--password-stdin"],
            Some("other-password\n"),
        ),
        1,
        "already exists",
    );
    assert_fails(
        &p.try_cli(&["user", "create", "bob", "--password-stdin"], Some("short\n")),
        1,
        "8 to 72",
    );
    assert_fails(
        &p.try_cli(&["user", "create", "bob", "--password-stdin"], Some("")),
        1,
        "standard input was empty",
    );
    // Neither failed attempt created bob.
    assert_fails(
        &p.try_cli(&["token", "create", "bob", "--name", "ci"], None),
        1,
        "no user named 'bob'",
    );
    assert_fails(&p.try_cli(&["user", "create", "a:b"], None), 1, "must not contain ':'");
    assert_fails(
        &p.try_cli(&["user", "disable", "ghost"], None),
        1,
        "no user named 'ghost'",
    );

    p.cli(&["team", "create", "devs", "--owner", "alice"], None);
    assert_fails(
        &p.try_cli(&["team", "create", "devs", "--owner", "alice"], None),
        1,
        "team 'devs' already exists",
    );
    assert_fails(
        &p.try_cli(&["team", "create", "ops", "--owner", "ghost"], None),
        1,
        "no user named 'ghost'",
    );
    assert_fails(
        &p.try_cli(&["team", "add-member", "devs", "alice", "--role", "boss"], None),
        2,
        "unknown role 'boss'",
    );
    assert_fails(
        &p.try_cli(&["team", "add-member", "nope", "alice", "--role", "viewer"], None),
        1,
        "no team named 'nope'",
    );
    assert_fails(
        &p.try_cli(&["team", "add-member", "alice", "alice", "--role", "viewer"], None),
        1,
        "belongs to a personal namespace",
    );
    assert_fails(
        &p.try_cli(&["namespace", "create", "Web", "--team", "devs"], None),
        1,
        "invalid namespace name",
    );
    assert_fails(
        &p.try_cli(&["namespace", "create", "alice", "--team", "devs"], None),
        1,
        "namespace 'alice' already exists",
    );
    assert_fails(
        &p.try_cli(
            &["namespace", "create", "web", "--team", "devs", "--visibility", "secret"],
            None,
        ),
        2,
        "unknown visibility 'secret'",
    );
    let made = p.cli(
        &[
            "namespace",
            "create",
            "web",
            "--team",
            "devs",
            "--visibility",
            "protected",
        ],
        None,
    );
    assert!(
        made.contains("Created protected namespace 'web' owned by team 'devs'"),
        "{made}"
    );

    let first = p.cli(&["token", "create", "alice", "--name", "laptop"], None);
    assert_fails(
        &p.try_cli(&["token", "create", "alice", "--name", "laptop"], None),
        1,
        "already exists",
    );
    assert!(first.lines().last().unwrap().starts_with("pat_"), "{first}");

    assert_fails(&p.try_cli(&["user"], None), 2, "Usage");

    // Every successful admin change is in the activity log; failed attempts are not.
    let log: serde_json::Value = serde_json::from_str(&p.cli(&["activity", "--json", "--actor", "cli"], None)).unwrap();
    let entries: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("application_token.create", "alice/laptop"),
        ("namespace.create", "web"),
        ("team.create", "devs"),
        ("user.create", "alice"),
    ];
    assert_eq!(entries, expected.map(|(a, t)| (a.to_owned(), t.to_owned())));
    let only_users = p.cli(&["activity", "--action", "user."], None);
    assert_eq!(only_users.lines().count(), 1, "{only_users}");
    assert!(
        only_users.contains("user.create") && only_users.contains("alice"),
        "{only_users}"
    );
}

/// The CLI changes teams through the same operations as the REST API: an administrator added
/// as a viewer joins as an owner, the act is recorded as `team.member.add`, and disabling a user
/// is recorded once.
#[test]
fn cli_changes_follow_the_same_rules_and_names_as_the_api() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "");
    p.cli(&["user", "create", "alice"], None);
    p.cli(&["user", "create", "root", "--admin"], None);
    p.cli(&["team", "create", "devs", "--owner", "alice"], None);
    let added = p.cli(&["team", "add-member", "devs", "root", "--role", "viewer"], None);
    assert!(added.contains("'root' is now owner of team 'devs'"), "{added}");
    assert_fails(
        &p.try_cli(&["team", "add-member", "devs", "root", "--role", "owner"], None),
        1,
        "root is already a member",
    );
    p.cli(&["user", "disable", "alice"], None);
    let log: serde_json::Value = serde_json::from_str(&p.cli(&["activity", "--json", "--actor", "cli"], None)).unwrap();
    let entries: Vec<(&str, &str, Option<&str>)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["target"].as_str().unwrap(),
                a["details"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("user.disable", "alice", None),
            ("team.member.add", "devs", Some("root as owner")),
            ("team.create", "devs", None),
            ("user.create", "root", None),
            ("user.create", "alice", None),
        ]
    );
}

#[test]
fn bad_configuration_is_reported_with_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "lifetime_secs = 5\n");
    assert_fails(
        &p.try_cli(&["config", "registry"], None),
        1,
        "token.lifetime_secs must be at least 60",
    );
    let p = Portus::new(tmp.path(), "registry.cli", "colour = \"blue\"\n");
    assert_fails(&p.try_cli(&["serve"], None), 1, "unknown field `colour`");
}

#[test]
fn config_registry_points_the_registry_at_us() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "");
    let yaml = p.cli(&["config", "registry"], None);
    let line = |key: &str| {
        yaml.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("{key} missing in {yaml}"))
            .trim_matches('"')
            .to_owned()
    };
    assert_eq!(line("realm"), format!("http://{}/v2/token", p.addr));
    assert_eq!(line("service"), "registry.cli");
    assert_eq!(line("issuer"), "portus.test");
    let bundle = std::fs::read_to_string(line("rootcertbundle")).unwrap();
    assert!(bundle.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(line("url"), format!("http://{}/v2/webhooks/events", p.addr));
    assert!(yaml.contains("Authorization: [\"Bearer "), "{yaml}");
    // Stable across runs: the key and the webhook secret are generated once.
    assert_eq!(p.cli(&["config", "registry"], None), yaml);
}

#[test]
fn serve_reports_a_busy_port() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "");
    let _occupied = std::net::TcpListener::bind(p.addr).unwrap();
    assert_fails(&p.try_cli(&["serve"], None), 1, &p.addr.to_string());
}

// ---------------------------------------------------------------------------------------------
// Resource commands: list, show, update and delete, on the local store and through `--server`.

const APP_DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const API_DIGEST: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const TOOL_DIGEST: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

/// A registry that accepts manifest deletions by digest (202) and remembers them, and refuses
/// deletions by tag as Distribution 2.8 does (400 `DIGEST_INVALID`); everything else 404.
struct FakeRegistry {
    deleted: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    server: crate::harness::BackgroundServer,
}

impl FakeRegistry {
    fn start() -> FakeRegistry {
        let deleted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = deleted.clone();
        let server = crate::harness::BackgroundServer::start(move || {
            axum::Router::new().fallback(move |request: axum::extract::Request| {
                let seen = seen.clone();
                async move {
                    let by_digest = request.uri().path().contains("/manifests/sha256:");
                    if request.method() == axum::http::Method::DELETE && !by_digest {
                        axum::http::StatusCode::BAD_REQUEST
                    } else if request.method() == axum::http::Method::DELETE {
                        seen.lock().unwrap().push(request.uri().path().to_owned());
                        axum::http::StatusCode::ACCEPTED
                    } else {
                        axum::http::StatusCode::NOT_FOUND
                    }
                }
            })
        });
        FakeRegistry { deleted, server }
    }

    fn deleted(&self) -> Vec<String> {
        self.deleted.lock().unwrap().clone()
    }
}

/// A running portus with users alice (password), bob and root (administrator, with the
/// application token `token`), team devs (alice owner, bob viewer), public namespace web, and
/// four tags pushed through the webhook: web/app:1.0 and :latest (one manifest), web/api:1 and
/// alice/tool:v1. Deletions go to a fake registry.
struct Fixture {
    p: Portus,
    registry: FakeRegistry,
    token: String,
    _tmp: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Portus::new(tmp.path(), "registry.cli", "");
    let registry = FakeRegistry::start();
    p.append_config(&format!(
        "[registry]\nurl = \"http://{}\"\n[sync]\ninterval_secs = 0\n",
        registry.server.addr
    ));
    p.user("alice", "alice-password");
    p.cli(&["user", "create", "bob", "--email", "bob@example.org"], None);
    p.cli(&["user", "create", "root", "--admin"], None);
    p.cli(
        &[
            "team",
            "create",
            "devs",
            "--owner",
            "alice",
            "--description",
            "Developers",
        ],
        None,
    );
    p.cli(&["team", "add-member", "devs", "bob", "--role", "viewer"], None);
    p.cli(
        &["namespace", "create", "web", "--team", "devs", "--visibility", "public"],
        None,
    );
    let created = p.cli(&["token", "create", "root", "--name", "admin"], None);
    let token = created.lines().last().unwrap().to_owned();
    p.start();
    let event = |id: &str, repository: &str, tag: &str, digest: &str| {
        format!(
            r#"{{"id":"{id}","action":"push","actor":{{"name":"alice"}},"target":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":2048,"digest":"{digest}","repository":"{repository}","tag":"{tag}"}}}}"#
        )
    };
    let envelope = format!(
        r#"{{"events":[{},{},{},{}]}}"#,
        event("e1", "web/app", "1.0", APP_DIGEST),
        event("e2", "web/app", "latest", APP_DIGEST),
        event("e3", "web/api", "1", API_DIGEST),
        event("e4", "alice/tool", "v1", TOOL_DIGEST)
    );
    let secret = p.webhook_authorization();
    let answer = crate::harness::http_post(
        p.addr,
        "/v2/webhooks/events",
        &[
            ("Authorization", secret.as_str()),
            ("Content-Type", "application/vnd.docker.distribution.events.v1+json"),
        ],
        &envelope,
    );
    assert!(answer.contains("\"accepted\":4"), "{answer}");
    let recorded = || {
        let tags: serde_json::Value = serde_json::from_str(&p.cli(&["tag", "list", "--json"], None)).unwrap();
        tags.as_array().unwrap().len() == 4
    };
    assert!(
        crate::harness::wait_until(std::time::Duration::from_secs(20), recorded),
        "the pushes are recorded:\n{}",
        p.log()
    );
    Fixture {
        p,
        registry,
        token,
        _tmp: tmp,
    }
}

fn json_of(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The values of `key` in a JSON array of objects.
fn names(list: &serde_json::Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|o| o[key].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts a table: its exact header, and that `cells` appear in one row, each starting under
/// its column's header.
fn assert_row(table: &str, header: &str, cells: &[(&str, &str)]) {
    let mut lines = table.lines();
    assert_eq!(lines.next(), Some(header), "{table}");
    let row = lines
        .find(|line| {
            cells.iter().all(|(column, value)| {
                line.get(header.find(column).unwrap()..)
                    .is_some_and(|rest| rest.starts_with(value))
            })
        })
        .unwrap_or_else(|| panic!("no row with {cells:?} in:\n{table}"));
    assert!(!row.ends_with(' '), "no trailing spaces: {row:?}");
}

/// The (action, target) of the activities of `actor`, oldest first.
fn activities(p: &Portus, actor: &str) -> Vec<(String, String)> {
    let log = json_of(&p.cli(&["activity", "--json", "--actor", actor], None));
    let mut entries: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    entries.reverse();
    entries
}

/// The lists every backend answers: tables and JSON of users, teams, members, namespaces,
/// tokens, repositories and tags, and `show` of each. `run` runs one `portus` command.
fn check_lists_and_shows(run: &dyn Fn(&[&str]) -> Output) {
    let ok = |args: &[&str]| {
        let output = run(args);
        assert!(output.status.success(), "portus {args:?}: {}", stderr(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let users = ok(&["user", "list"]);
    let header = "ID  USERNAME  EMAIL            ADMIN  ENABLED  LOCKED  CREATED";
    assert_row(
        &users,
        header,
        &[("USERNAME", "bob "), ("EMAIL", "bob@example.org"), ("ADMIN", "no ")],
    );
    assert_row(
        &users,
        header,
        &[("USERNAME", "root"), ("EMAIL", "- "), ("ADMIN", "yes")],
    );
    let users = json_of(&ok(&["user", "list", "--json"]));
    assert_eq!(names(&users, "username"), ["alice", "bob", "root"]);
    assert_eq!(users[1]["email"], "bob@example.org");
    assert_eq!(users[2]["admin"], true);
    let bob = ok(&["user", "show", "bob"]);
    assert!(
        bob.contains("username: bob\nemail:    bob@example.org\nadmin:    no\n"),
        "{bob}"
    );
    assert_eq!(json_of(&ok(&["user", "show", "root", "--json"]))["admin"], true);

    assert_row(
        &ok(&["team", "list"]),
        "ID  NAME  DESCRIPTION",
        &[("NAME", "devs"), ("DESCRIPTION", "Developers")],
    );
    let teams = json_of(&ok(&["team", "list", "--json"]));
    assert_eq!(names(&teams, "name"), ["devs"], "personal teams are not listed");
    let devs = ok(&["team", "show", "devs"]);
    assert!(
        devs.contains("name:        devs\ndescription: Developers\nmembers:     2\n"),
        "{devs}"
    );
    assert_row(
        &devs[devs.find("USER ").unwrap()..],
        "USER   ROLE",
        &[("USER", "bob"), ("ROLE", "viewer")],
    );
    let devs = json_of(&ok(&["team", "show", "devs", "--json"]));
    assert_eq!(names(&devs["members"], "username"), ["alice", "bob"]);
    let members = json_of(&ok(&["team", "member", "list", "devs", "--json"]));
    assert_eq!(names(&members, "role"), ["owner", "viewer"]);

    let namespaces = ok(&["namespace", "list"]);
    let header = "ID  NAME      TEAM        VISIBILITY  DESCRIPTION";
    assert_row(
        &namespaces,
        header,
        &[("NAME", "web"), ("TEAM", "devs"), ("VISIBILITY", "public")],
    );
    assert_row(
        &namespaces,
        header,
        &[("NAME", "alice"), ("TEAM", "(personal)"), ("VISIBILITY", "private")],
    );
    let namespaces = json_of(&ok(&["namespace", "list", "--json"]));
    for name in ["(global)", "alice", "bob", "root", "web"] {
        assert!(
            names(&namespaces, "name").contains(&name.to_owned()),
            "{name}: {namespaces}"
        );
    }
    let web = json_of(&ok(&["namespace", "show", "web", "--json"]));
    assert_eq!(
        (web["team"].as_str(), web["visibility"].as_str()),
        (Some("devs"), Some("public"))
    );
    assert!(ok(&["namespace", "show", "(global)"]).contains("kind:        global\n"));

    assert_row(
        &ok(&["token", "list", "root"]),
        "ID  NAME   CREATED               EXPIRES  SCOPE           LAST USED",
        &[("NAME", "admin"), ("EXPIRES", "never"), ("SCOPE", "owner's rights")],
    );
    assert_eq!(
        names(&json_of(&ok(&["token", "list", "root", "--json"])), "application"),
        ["admin"]
    );

    let repositories = ok(&["repository", "list"]);
    let header = "ID  NAME        TAGS  STARS  CREATED";
    assert_row(
        &repositories,
        header,
        &[("NAME", "web/app"), ("TAGS", "2"), ("STARS", "0")],
    );
    assert_row(&repositories, header, &[("NAME", "alice/tool"), ("TAGS", "1")]);
    let mut all = names(&json_of(&ok(&["repository", "list", "--json"])), "name");
    all.sort();
    assert_eq!(all, ["alice/tool", "web/api", "web/app"]);
    let mut web = names(&json_of(&ok(&["repo", "list", "--namespace", "web", "--json"])), "name");
    web.sort();
    assert_eq!(web, ["web/api", "web/app"]);
    assert_eq!(
        json_of(&ok(&["repository", "show", "web/app", "--json"]))["tags_count"],
        2
    );
    assert!(ok(&["repository", "show", "web/app"]).contains("name:        web/app\n"));

    let tags = ok(&["tag", "list", "web/app"]);
    let header = format!(
        "REPOSITORY  TAG     DIGEST{}  SIZE  PUSHED BY  UPDATED",
        " ".repeat(APP_DIGEST.len() - 6)
    );
    // (The push notification carries the manifest's size, not the image's: none is recorded.)
    assert_row(
        &tags,
        &header,
        &[
            ("TAG", "1.0"),
            ("DIGEST", APP_DIGEST),
            ("SIZE", "- "),
            ("PUSHED BY", "alice"),
        ],
    );
    assert_row(&tags, &header, &[("TAG", "latest"), ("DIGEST", APP_DIGEST)]);
    assert_eq!(tags.lines().count(), 3, "{tags}");
    let all = json_of(&ok(&["tag", "list", "--json"]));
    assert_eq!(all.as_array().unwrap().len(), 4);
    let tag = json_of(&ok(&["tag", "show", "web/api:1", "--json"]));
    assert_eq!(tag["manifest"]["digest"], API_DIGEST);
    assert_eq!(tag["pushed_by"], "alice");
    assert!(ok(&["tag", "show", "alice/tool:v1"]).contains(&format!("digest:     {TOOL_DIGEST}\n")));
}

/// Every kind of unknown object: a clear message and exit code 1.
fn check_unknown_objects(run: &dyn Fn(&[&str]) -> Output) {
    for (args, message) in [
        (&["user", "show", "ghost"][..], "no user named 'ghost'"),
        (
            &["user", "update", "ghost", "--enabled", "false"],
            "no user named 'ghost'",
        ),
        (&["user", "delete", "ghost"], "no user named 'ghost'"),
        (&["team", "show", "ghost"], "no team named 'ghost'"),
        (
            &["team", "update", "ghost", "--description", "x"],
            "no team named 'ghost'",
        ),
        (&["team", "member", "list", "ghost"], "no team named 'ghost'"),
        (
            &["team", "member", "update", "devs", "ghost", "--role", "owner"],
            "ghost",
        ),
        (
            &["team", "member", "delete", "devs", "root"],
            "'root' is not a member of team 'devs'",
        ),
        (&["namespace", "show", "ghost"], "no namespace named 'ghost'"),
        (
            &["namespace", "update", "ghost", "--visibility", "public"],
            "no namespace named 'ghost'",
        ),
        (
            &["namespace", "update", "web", "--team", "ghost"],
            "no team named 'ghost'",
        ),
        (&["token", "list", "ghost"], "no user named 'ghost'"),
        (
            &["token", "revoke", "root", "--name", "nope"],
            "user 'root' has no application token named 'nope'",
        ),
        (
            &["token", "revoke", "root", "--id", "9999"],
            "user 'root' has no application token with id 9999",
        ),
        (&["repository", "show", "web/ghost"], "no repository named 'web/ghost'"),
        (
            &["repository", "delete", "web/ghost"],
            "no repository named 'web/ghost'",
        ),
        (
            &["repository", "list", "--namespace", "ghost"],
            "no namespace named 'ghost'",
        ),
        (&["tag", "show", "web/app:nope"], "no tag web/app:nope"),
        (&["tag", "show", "web/ghost:1"], "no tag web/ghost:1"),
        (&["tag", "delete", "web/app:nope"], "no tag web/app:nope"),
        (&["tag", "list", "web/ghost"], "no repository named 'web/ghost'"),
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(message),
            "{args:?}: expected '{message}' in {}",
            stderr(&output)
        );
    }
    // Nothing to change is a usage error, not a silent success.
    let output = run(&["user", "update", "bob"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("nothing to change"), "{}", stderr(&output));
    let output = run(&["token", "revoke", "root"]);
    assert_eq!(output.status.code(), Some(2), "--name or --id is required");
}

/// Updates and deletions any backend makes; `who` is the actor the activities record.
fn check_updates_and_deletes(f: &Fixture, run: &dyn Fn(&[&str]) -> Output, who: &str) {
    let ok = |args: &[&str]| {
        let output = run(args);
        assert!(output.status.success(), "portus {args:?}: {}", stderr(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let before = activities(&f.p, who).len();

    assert!(
        ok(&["user", "update", "bob", "--email", "b@example.org", "--admin", "true"]).contains("Updated user 'bob'")
    );
    let bob = json_of(&ok(&["user", "show", "bob", "--json"]));
    assert_eq!(
        (bob["email"].as_str(), bob["admin"].as_bool()),
        (Some("b@example.org"), Some(true))
    );
    ok(&[
        "user",
        "update",
        "bob",
        "--no-email",
        "--admin",
        "false",
        "--enabled",
        "false",
        "--unlock",
    ]);
    let bob = json_of(&ok(&["user", "show", "bob", "--json"]));
    assert_eq!(
        (bob["email"].is_null(), bob["admin"].as_bool(), bob["enabled"].as_bool()),
        (true, Some(false), Some(false))
    );
    ok(&["user", "enable", "bob"]);

    assert!(
        ok(&[
            "team",
            "update",
            "devs",
            "--name",
            "developers",
            "--description",
            "Web developers"
        ])
        .contains("Updated team 'developers'")
    );
    let team = json_of(&ok(&["team", "show", "developers", "--json"]));
    assert_eq!(team["description"], "Web developers");
    assert!(
        ok(&["team", "member", "update", "developers", "bob", "--role", "contributor"])
            .contains("'bob' is now contributor of team 'developers'")
    );
    // Administrators join as owners, whatever was asked, through the same operation.
    assert!(ok(&["team", "member", "add", "developers", "root", "--role", "viewer"]).contains("'root' is now owner"));
    let output = run(&["team", "member", "update", "developers", "root", "--role", "viewer"]);
    assert!(
        !output.status.success() && stderr(&output).contains("administrators are always owners"),
        "{}",
        stderr(&output)
    );
    ok(&["team", "member", "delete", "developers", "root"]);
    let members = json_of(&ok(&["team", "member", "list", "developers", "--json"]));
    assert_eq!(names(&members, "username"), ["alice", "bob"]);
    assert_eq!(names(&members, "role"), ["owner", "contributor"]);
    let output = run(&["team", "member", "delete", "developers", "alice"]);
    assert!(
        !output.status.success() && stderr(&output).contains("at least one owner"),
        "{}",
        stderr(&output)
    );

    ok(&[
        "namespace",
        "update",
        "web",
        "--visibility",
        "protected",
        "--description",
        "Web apps",
    ]);
    let web = json_of(&ok(&["namespace", "show", "web", "--json"]));
    assert_eq!(
        (web["visibility"].as_str(), web["description"].as_str()),
        (Some("protected"), Some("Web apps"))
    );
    assert_eq!(web["team"], "developers");

    let created = ok(&["token", "create", "bob", "--name", "ci"]);
    let secret = created.lines().last().unwrap();
    assert!(secret.starts_with("pat_"), "{created}");
    assert_eq!(
        names(&json_of(&ok(&["token", "list", "bob", "--json"])), "application"),
        ["ci"]
    );
    assert!(ok(&["token", "revoke", "bob", "--name", "ci"]).contains("Revoked application token 'ci'"));
    assert_eq!(json_of(&ok(&["token", "list", "bob", "--json"])), serde_json::json!([]));

    // Deleting a tag whose manifest carries another tag needs consent; then the manifest goes
    // in the registry, both tags here.
    let output = run(&["tag", "delete", "web/app:1.0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("latest") && stderr(&output).contains("--with-siblings"),
        "{}",
        stderr(&output)
    );
    assert!(f.registry.deleted().is_empty());
    let deleted = ok(&["tag", "delete", "web/app:1.0", "--with-siblings"]);
    assert!(
        deleted.contains(&format!("Deleted web/app@{APP_DIGEST} (tags: ")),
        "{deleted}"
    );
    assert_eq!(f.registry.deleted(), [format!("/v2/web/app/manifests/{APP_DIGEST}")]);
    assert_eq!(
        json_of(&ok(&["tag", "list", "web/app", "--json"])),
        serde_json::json!([])
    );
    assert!(ok(&["repository", "delete", "web/api"]).contains("Deleted repository 'web/api'"));
    assert_eq!(
        f.registry.deleted().last().unwrap(),
        &format!("/v2/web/api/manifests/{API_DIGEST}")
    );
    assert!(!names(&json_of(&ok(&["repository", "list", "--json"])), "name").contains(&"web/api".to_owned()));

    assert!(ok(&["user", "delete", "bob"]).contains("Deleted user 'bob'"));
    let output = run(&["user", "show", "bob"]);
    assert!(!output.status.success() && stderr(&output).contains("no user named 'bob'"));

    // Each change is one activity of the operation that made it, by `who`.
    let recorded: Vec<String> = activities(&f.p, who)[before..]
        .iter()
        .map(|(a, t)| format!("{a} {t}"))
        .collect();
    let expected = [
        "user.email bob",
        "user.admin.grant bob",
        "user.email bob",
        "user.admin.revoke bob",
        "user.disable bob",
        "user.unlock bob",
        "user.enable bob",
        "team.update developers",
        "team.member.change_role developers",
        "team.member.add developers",
        "team.member.remove developers",
        "namespace.change_visibility web",
        "namespace.update web",
        "application_token.create bob/ci",
        "application_token.destroy bob/ci",
        "tag.delete web/app:1.0",
        "tag.delete web/app:latest",
        "tag.delete web/api:1",
        "repository.delete web/api",
        "user.delete bob",
    ];
    assert_eq!(recorded, expected);
}

#[test]
fn resource_commands_list_show_change_and_delete_on_the_local_store() {
    let f = fixture();
    let run = |args: &[&str]| f.p.try_cli(args, None);
    check_lists_and_shows(&run);
    check_unknown_objects(&run);
    check_updates_and_deletes(&f, &run, "cli");
    // Descriptions, and teams and namespaces going away, through the operations layer.
    f.p.cli(
        &["repository", "update", "web/app", "--description", "The web app"],
        None,
    );
    let shown = f.p.cli(&["repository", "show", "web/app", "--json"], None);
    assert!(shown.contains("\"description\": \"The web app\""), "{shown}");
    f.p.cli(&["team", "create", "heirs", "--owner", "alice"], None);
    let handed = f.p.cli(&["team", "delete", "developers", "--to", "heirs"], None);
    assert!(handed.contains("now belong to 'heirs'"), "{handed}");
    assert!(f.p.cli(&["namespace", "show", "web", "--json"], None).contains("heirs"));
    assert_fails(&run(&["team", "show", "developers"]), 1, "no team named 'developers'");
    f.p.cli(&["namespace", "delete", "web"], None);
    assert_fails(&run(&["namespace", "show", "web"]), 1, "no namespace named 'web'");
    assert_fails(
        &run(&["repository", "show", "web/app"]),
        1,
        "no repository named 'web/app'",
    );
    let activity = f.p.cli(&["activity", "--limit", "5"], None);
    for action in ["namespace.delete", "team.delete", "repository.update"] {
        assert!(activity.contains(action), "{activity}");
    }
}

#[test]
fn resource_commands_act_on_a_running_server_through_the_rest_api() {
    let f = fixture();
    let url = format!("http://{}", f.p.addr);
    let run = |args: &[&str]| {
        let mut full = vec!["--server", url.as_str(), "--token", f.token.as_str()];
        full.extend_from_slice(args);
        f.p.try_cli(&full, None)
    };
    check_lists_and_shows(&run);
    check_unknown_objects(&run);

    // Creation goes through the server too, password included: carol can then get a token.
    let created = run(&["user", "create", "carol", "--password-stdin"]);
    assert!(!created.status.success(), "without a password on stdin it is refused");
    let mut full = vec!["--server", url.as_str(), "--token", f.token.as_str()];
    full.extend_from_slice(&["user", "create", "carol", "--password-stdin"]);
    let created = f.p.cli(&full, Some("carol-password\n"));
    assert!(
        created.contains("Created user 'carol' with personal namespace 'carol'"),
        "{created}"
    );
    let answer = crate::harness::http_get(
        f.p.addr,
        "/v2/token?service=registry.cli",
        &[("Authorization", &crate::harness::basic("carol", "carol-password"))],
    );
    assert_eq!(crate::harness::status(&answer), 200, "{answer}");
    let made = |args: &[&str]| assert!(run(args).status.success(), "{args:?}");
    made(&[
        "team",
        "create",
        "ops",
        "--owner",
        "carol",
        "--description",
        "Operations",
    ]);
    made(&["team", "member", "add", "ops", "alice", "--role", "viewer"]);
    made(&["namespace", "create", "infra", "--team", "ops"]);
    assert_eq!(
        activities(&f.p, "root")
            .iter()
            .map(|(a, t)| format!("{a} {t}"))
            .collect::<Vec<_>>(),
        [
            "user.create carol",
            "team.create ops",
            "team.member.add ops",
            "namespace.create infra"
        ],
        "the server made the changes, as the token's user"
    );

    check_updates_and_deletes(&f, &run, "root");

    // Routes this server may not have: either they work, or the CLI says the server does not
    // support them and nothing changes. The namespace first: deleting its team (without an
    // heir) deletes it too.
    for (args, what, still_there) in [
        (
            &["namespace", "delete", "infra"][..],
            "deleting a namespace",
            &["namespace", "show", "infra"][..],
        ),
        (&["team", "delete", "ops"], "deleting a team", &["team", "show", "ops"]),
    ] {
        let output = run(args);
        if output.status.success() {
            assert!(
                !run(still_there).status.success(),
                "{args:?} succeeded: the object is gone"
            );
        } else {
            assert_fails(&output, 1, &format!("{what} is not supported by this server"));
            assert!(run(still_there).status.success(), "{args:?} changed nothing");
        }
    }
    let output = run(&["repository", "update", "web/app", "--description", "The app"]);
    if output.status.success() {
        assert_eq!(
            json_of(&String::from_utf8(run(&["repository", "show", "web/app", "--json"]).stdout).unwrap())["description"],
            "The app"
        );
    } else {
        assert_fails(
            &output,
            1,
            "changing a repository's description is not supported by this server",
        );
    }

    // What the server refuses, it refuses: alice is no administrator.
    let alice = f.p.cli(&["token", "create", "alice", "--name", "cli"], None);
    let alice = alice.lines().last().unwrap();
    let as_alice = |args: &[&str]| {
        let mut full = vec!["--server", url.as_str(), "--token", alice];
        full.extend_from_slice(args);
        f.p.try_cli(&full, None)
    };
    assert_fails(
        &as_alice(&["user", "list"]),
        1,
        "the server answered 403: only administrators list users",
    );
    // Her own password changes only with her current one, read first from standard input.
    let own = |extra: &[&str], input: &str| {
        let mut full = vec!["--server", url.as_str(), "--token", alice, "user", "update", "alice"];
        full.extend_from_slice(extra);
        f.p.try_cli(&full, Some(input))
    };
    let without = own(&["--password-stdin"], "alice-password-2\n");
    assert_fails(&without, 1, "current_password");
    let wrong = own(
        &["--password-stdin", "--current-password-stdin"],
        "not-hers\nalice-password-2\n",
    );
    assert_fails(&wrong, 1, "403");
    let changed = own(
        &["--password-stdin", "--current-password-stdin"],
        "alice-password\nalice-password-2\n",
    );
    assert!(changed.status.success(), "{}", stderr(&changed));
    let email = own(
        &["--email", "alice@example.org", "--current-password-stdin"],
        "alice-password-2\n",
    );
    assert!(email.status.success(), "{}", stderr(&email));
    // ... but she sees her team, with Portus' `USER:TOKEN` form from the environment too.
    let with_env = f.p.try_cli_env(
        &["--server", &url, "team", "list", "--json"],
        None,
        &[("PORTUS_TOKEN", &format!("alice:{alice}"))],
    );
    assert!(with_env.status.success(), "{}", stderr(&with_env));
    let seen = names(&json_of(&String::from_utf8(with_env.stdout).unwrap()), "name");
    assert!(
        seen.contains(&"developers".to_owned()) && !seen.contains(&"alice".to_owned()),
        "{seen:?}"
    );

    // Credentials: missing, wrong, or naming another user.
    let missing =
        f.p.try_cli_env(&["--server", &url, "user", "list"], None, &[("PORTUS_TOKEN", "")]);
    assert_fails(&missing, 1, "--server needs an application token: pass --token");
    assert_fails(
        &f.p.try_cli(&["--server", &url, "--token", "pat_wrong", "user", "list"], None),
        1,
        "the server answered 401",
    );
    assert_fails(
        &f.p.try_cli(
            &["--server", &url, "--token", &format!("root:{alice}"), "team", "list"],
            None,
        ),
        1,
        "the server answered 401",
    );
    assert_fails(
        &f.p.try_cli(&["--server", "127.0.0.1:1", "--token", alice, "user", "list"], None),
        1,
        "is not an http:// or https:// URL",
    );
    let closed = format!("http://127.0.0.1:{}", crate::harness::free_port());
    assert_fails(
        &f.p.try_cli(&["--server", &closed, "--token", alice, "user", "list"], None),
        1,
        &format!("cannot reach the server at {closed}"),
    );
    assert_fails(
        &f.p.try_cli(&["--server", &url, "--token", alice, "sync"], None),
        1,
        "--server applies to the user, team, namespace, token, repository, tag and webhook commands",
    );
}

#[test]
fn identities_are_linked_and_unlinked_on_the_local_store() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "");
    p.cli(&["user", "create", "alice"], None);
    p.cli(&["user", "create", "bob"], None);
    let link = |user: &str| {
        p.try_cli(
            &[
                "user",
                "link-identity",
                user,
                "--issuer",
                "https://id.example.org",
                "--subject",
                "248289761001",
            ],
            None,
        )
    };
    let linked = String::from_utf8_lossy(&link("alice").stdout).into_owned();
    assert!(
        linked.contains("Linked the oidc subject 248289761001 at https://id.example.org to user 'alice'."),
        "{linked}"
    );
    let again = String::from_utf8_lossy(&link("alice").stdout).into_owned();
    assert!(again.contains("was linked to user 'alice' already"), "{again}");
    assert_fails(&link("bob"), 1, "is linked to another user");
    assert_fails(&link("nobody"), 1, "no user named 'nobody'");
    assert_fails(
        &p.try_cli(
            &["user", "link-identity", "bob", "--provider", "github", "--subject", "1"],
            None,
        ),
        1,
        "--provider oidc",
    );
    assert_fails(
        &p.try_cli(
            &[
                "user",
                "link-identity",
                "bob",
                "--provider",
                "ldap",
                "--issuer",
                "x",
                "--subject",
                "1",
            ],
            None,
        ),
        1,
        "--provider github|gitlab|bitbucket",
    );
    // A GitHub account (sign-in with [web.github]): its base URL and numeric id.
    let github = p.cli(
        &[
            "user",
            "link-identity",
            "bob",
            "--provider",
            "github",
            "--issuer",
            "https://github.com",
            "--subject",
            "583231",
        ],
        None,
    );
    assert!(
        github.contains("Linked the github subject 583231 at https://github.com to user 'bob'."),
        "{github}"
    );
    p.cli(
        &[
            "user",
            "unlink-identity",
            "bob",
            "--provider",
            "github",
            "--issuer",
            "https://github.com",
            "--subject",
            "583231",
        ],
        None,
    );
    assert_eq!(
        json_of(&p.cli(&["user", "identities", "alice", "--json"], None)),
        serde_json::json!([{"provider": "oidc", "issuer": "https://id.example.org", "subject": "248289761001"}])
    );
    assert_row(
        &p.cli(&["user", "identities", "alice"], None),
        "PROVIDER  ISSUER                  SUBJECT",
        &[("PROVIDER", "oidc"), ("SUBJECT", "248289761001")],
    );
    assert_eq!(
        json_of(&p.cli(&["user", "identities", "bob", "--json"], None)),
        serde_json::json!([])
    );
    let unlink = |user: &str| {
        p.try_cli(
            &[
                "user",
                "unlink-identity",
                user,
                "--issuer",
                "https://id.example.org",
                "--subject",
                "248289761001",
            ],
            None,
        )
    };
    assert_fails(&unlink("bob"), 1, "not found");
    assert!(String::from_utf8_lossy(&unlink("alice").stdout).contains("Unlinked the oidc subject 248289761001"));
    assert_eq!(
        json_of(&p.cli(&["user", "identities", "alice", "--json"], None)),
        serde_json::json!([])
    );
    let recorded: Vec<(String, String)> = activities(&p, "cli")
        .into_iter()
        .filter(|(action, _)| action.starts_with("user.identity"))
        .collect();
    assert_eq!(
        recorded,
        [
            ("user.identity.link".to_owned(), "alice".to_owned()),
            ("user.identity.link".to_owned(), "bob".to_owned()),
            ("user.identity.unlink".to_owned(), "bob".to_owned()),
            ("user.identity.unlink".to_owned(), "alice".to_owned())
        ]
    );
    // The REST API has no such routes: said, not attempted.
    assert_fails(
        &p.try_cli(
            &[
                "--server",
                "http://127.0.0.1:9",
                "--token",
                "t",
                "user",
                "identities",
                "alice",
            ],
            None,
        ),
        1,
        "local store only",
    );
}

#[test]
fn activity_exports_a_range_as_csv_locally_and_what_the_caller_may_see_through_the_server() {
    let f = fixture();
    let header = "id,time,actor,action,target,details";
    // Locally: the whole log of the range, oldest first, with a header row.
    let csv = f.p.cli(&["activity", "--csv", "--since", "1h"], None);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], header, "{csv}");
    let created = lines.iter().position(|l| l.contains(",team.create,devs,")).unwrap();
    let joined = lines.iter().position(|l| l.contains(",team.member.add,devs,")).unwrap();
    assert!(created < joined, "oldest first: {csv}");
    assert!(csv.contains(",tag.push,web/app:1.0,"), "{csv}");
    let before = f.p.cli(&["activity", "--csv", "--until", "2000-01-01"], None);
    assert_eq!(before, format!("{header}\r\n"));
    assert_fails(
        &f.p.try_cli(&["activity", "--csv", "--since", "1h", "--until", "2000-01-01"], None),
        1,
        "--since is after --until",
    );

    // Through the server: what the token's user may see.
    let url = format!("http://{}", f.p.addr);
    f.p.cli(&["user", "create", "carol"], None);
    let token_of = |user: &str| {
        let created = f.p.cli(&["token", "create", user, "--name", "export"], None);
        created.lines().last().unwrap().to_owned()
    };
    let export = |token: &str, extra: &[&str]| {
        let mut full = vec!["--server", url.as_str(), "--token", token, "activity"];
        full.extend_from_slice(extra);
        f.p.try_cli(&full, None)
    };
    let admin = String::from_utf8(export(&f.token, &["--csv", "--since", "1h"]).stdout).unwrap();
    assert!(
        admin.starts_with(header) && admin.contains(",user.create,carol,"),
        "{admin}"
    );
    assert!(admin.contains(",tag.push,web/app:1.0,"), "{admin}");
    // bob, a viewer of devs: its team and namespace, no users.
    let bob = String::from_utf8(export(&token_of("bob"), &["--csv"]).stdout).unwrap();
    assert!(
        bob.contains(",team.member.add,devs,") && bob.contains(",tag.push,web/app:1.0,"),
        "{bob}"
    );
    assert!(!bob.contains(",user.create,"), "{bob}");
    // carol, of no team: nothing of devs or web.
    let carol = export(&token_of("carol"), &["--json"]);
    assert!(carol.status.success(), "{carol:?}");
    let carol = json_of(&String::from_utf8(carol.stdout).unwrap());
    let targets: Vec<&str> = carol
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["target"].as_str().unwrap())
        .collect();
    assert!(
        targets.iter().all(|t| !t.starts_with("devs") && !t.starts_with("web")),
        "{targets:?}"
    );
    assert_fails(&export(&f.token, &[]), 1, "add --csv or --json");
}
