//! High availability, end to end: Debian's nginx, configured as docs/operations.md says, in
//! front of two `portus serve` processes on one PostgreSQL database; the registry (Debian's
//! 2.8, and 3) takes its tokens from and sends its notifications to portus through nginx. Under a mixed
//! load (token requests of users with different rights, each answer checked; web sign-ins;
//! skopeo pushes of new tags and pulls of pushed ones), one instance hangs (SIGSTOP) and is
//! killed (SIGKILL) and started again, then both are restarted one after the other with
//! SIGTERM. Then:
//!
//! - no answer was ever wrong; only requests in flight at the kill may have failed, and no
//!   request failed during the rolling restart (nginx's log has no 5xx answer for it either);
//! - every tag pushed is in portus' catalog (no event lost), with exactly one push activity
//!   (applied once), every registry event is applied and none failed;
//! - every pushed image is scanned by the demonstration scanner (the background work went on
//!   on whichever instance was up).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::harness::{
    Daemon, Flavour, Portus, Registry, against_both_registries, assert_ok, basic, free_port, oci_layout,
    require_program, run, wait_for_port, wait_until,
};
use crate::migrating_doc::fenced_blocks;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md");
const SERVICE: &str = "registry.ha";
/// The instances' addresses in the document's configuration.
const DOC_INSTANCES: [&str; 2] = ["10.0.0.11:5001", "10.0.0.12:5001"];
const DOC_LISTEN: &str = "listen 80;";

/// The `nginx` block of docs/operations.md's "High availability" section.
fn documented_nginx_config() -> String {
    let markdown = std::fs::read_to_string(DOC).unwrap();
    let section = markdown
        .split("\n## ")
        .find(|s| s.starts_with("High availability"))
        .expect("docs/operations.md has a High availability section");
    let blocks: Vec<_> = fenced_blocks(section)
        .into_iter()
        .filter(|b| b.info == "nginx")
        .collect();
    assert_eq!(blocks.len(), 1, "one nginx block in the High availability section");
    blocks[0].text.clone()
}

/// Debian's nginx: on `PATH`, or in /usr/sbin (not on a user's `PATH`).
fn nginx_program() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file());
    let program = on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
    assert!(
        program.is_file(),
        "nginx is not installed: run `sudo scripts/install-test-deps.sh` (Debian: apt-get install nginx-light)"
    );
    program
}

/// nginx in the foreground, one process (killed with it), everything it writes in `dir`.
struct Nginx {
    addr: SocketAddr,
    access_log: PathBuf,
    _daemon: Daemon,
}

impl Nginx {
    /// The document's configuration with the instances at `upstreams` and nginx on `addr`.
    fn start(dir: &Path, addr: SocketAddr, upstreams: [SocketAddr; 2]) -> Nginx {
        let mut site = documented_nginx_config();
        for (documented, actual) in DOC_INSTANCES.iter().zip(upstreams) {
            assert!(site.contains(documented), "{site}");
            site = site.replace(documented, &actual.to_string());
        }
        assert!(site.contains(DOC_LISTEN), "{site}");
        site = site.replace(DOC_LISTEN, &format!("listen {addr};"));
        let temp = dir.join("temp");
        std::fs::create_dir_all(&temp).unwrap();
        let access_log = dir.join("access.log");
        let d = dir.display();
        let t = temp.display();
        // Time, status and upstream of every answer, for the checks of the rolling restart.
        let main = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
             log_format ha '$msec $status $request_method $uri $upstream_addr $upstream_status';\n\
             access_log {};\n\
             client_body_temp_path {t}/body;\nproxy_temp_path {t}/proxy;\nfastcgi_temp_path {t}/fastcgi;\n\
             uwsgi_temp_path {t}/uwsgi;\nscgi_temp_path {t}/scgi;\n{site}\n}}\n",
            format_args!("{} ha", access_log.display())
        );
        let config = dir.join("nginx.conf");
        std::fs::write(&config, main).unwrap();
        let log = dir.join("nginx.out");
        let daemon = Daemon::spawn(
            Command::new(nginx_program())
                .arg("-c")
                .arg(&config)
                .arg("-p")
                .arg(dir)
                .arg("-e")
                .arg(dir.join("error.log")),
            log.clone(),
        );
        wait_for_port(addr, "nginx", &log);
        Nginx {
            addr,
            access_log,
            _daemon: daemon,
        }
    }

    /// What nginx logged at level error: each upstream it failed to get an answer from.
    fn errors(&self) -> Vec<String> {
        std::fs::read_to_string(self.access_log.with_file_name("error.log"))
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains("[error]"))
            .map(|line| line.split_once("[error]").map_or(line, |(_, rest)| rest).to_owned())
            .collect()
    }

    /// Every answer so far: (unix time, status, method, path, upstreams tried).
    fn answers(&self) -> Vec<(f64, u16, String, String, String)> {
        std::fs::read_to_string(&self.access_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let mut fields = line.splitn(5, ' ');
                Some((
                    fields.next()?.parse().ok()?,
                    fields.next()?.parse().ok()?,
                    fields.next()?.to_owned(),
                    fields.next()?.to_owned(),
                    fields.next().unwrap_or_default().to_owned(),
                ))
            })
            .collect()
    }
}

fn unix_time(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// One HTTP/1.0 request (nginx answers it without chunking and closes); the status and body,
/// or why there is none. Every step has a timeout.
fn request_with_head(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut text = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| format!("read: {e}"))?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("no status: {response:?}"))?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response.as_str(), ""));
    Ok((status, head.to_owned(), body.to_owned()))
}

/// [`request_with_head`] without the response's head.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), String> {
    request_with_head(addr, method, path, headers, body).map(|(status, _, body)| (status, body))
}

/// What happened to one request of the load.
#[derive(Debug, Clone)]
enum Outcome {
    Ok,
    /// No answer, or nginx's 502/503/504: allowed only in flight at the kill.
    Failed(String),
    /// An answer that is not the right one: never allowed.
    Wrong(String),
}

impl Outcome {
    /// Why the request failed or was answered wrongly.
    fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Ok => None,
            Outcome::Failed(reason) | Outcome::Wrong(reason) => Some(reason),
        }
    }
}

#[derive(Debug, Clone)]
struct Record {
    what: String,
    start: Instant,
    end: Instant,
    outcome: Outcome,
}

#[derive(Default)]
struct Load {
    records: Mutex<Vec<Record>>,
    /// Tags pushed successfully, with their image's layer id.
    pushed: Mutex<Vec<(String, String)>>,
    stop: AtomicBool,
}

impl Load {
    fn record(&self, what: String, start: Instant, outcome: Outcome) {
        let end = Instant::now();
        self.records.lock().unwrap().push(Record {
            what,
            start,
            end,
            outcome,
        });
    }

    fn pushes(&self) -> usize {
        self.pushed.lock().unwrap().len()
    }
}

/// Stops the load when dropped, also when the test fails midway.
struct StopLoad(Arc<Load>);

impl Drop for StopLoad {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

/// A token request's case: who asks what, and what the right answer grants.
struct TokenCase {
    user: &'static str,
    password: &'static str,
    repository: &'static str,
    /// `None`: the credentials are refused (401).
    granted: Option<&'static [&'static str]>,
}

const TOKEN_CASES: [TokenCase; 4] = [
    // alice owns her namespace.
    TokenCase {
        user: "alice",
        password: "alice-password",
        repository: "alice/app",
        granted: Some(&["pull", "push"]),
    },
    // carol views the team's namespace.
    TokenCase {
        user: "carol",
        password: "carol-password",
        repository: "shared/app",
        granted: Some(&["pull"]),
    },
    // bob has no right on alice's private namespace.
    TokenCase {
        user: "bob",
        password: "bob-password",
        repository: "alice/app",
        granted: Some(&[]),
    },
    // A wrong password (dave is locked out soon: still 401).
    TokenCase {
        user: "dave",
        password: "not-daves-password",
        repository: "dave/app",
        granted: None,
    },
];

/// The actions a token (the JWT in `field` of the JSON answer) grants on `repository`.
fn granted_actions(body: &str, field: &str, repository: &str) -> Result<(String, BTreeSet<String>), String> {
    let json: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e}): {body}"))?;
    let token = json[field].as_str().ok_or(format!("no {field}: {body}"))?;
    let payload = token.split('.').nth(1).ok_or("not a JWT")?;
    let claims: serde_json::Value = serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(payload.as_bytes())
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let mut actions = BTreeSet::new();
    for access in claims["access"].as_array().into_iter().flatten() {
        if access["type"] == "repository" && access["name"] == repository {
            actions.extend(
                access["actions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a.as_str().unwrap_or("?").to_owned()),
            );
        } else {
            return Err(format!("access to something not asked for: {access}"));
        }
    }
    Ok((claims["sub"].as_str().unwrap_or_default().to_owned(), actions))
}

/// One token request through nginx, as docker does (GET with Basic credentials) or as an
/// OAuth2 client does (POST with the password grant), its answer checked.
fn token_request(nginx: SocketAddr, case: &TokenCase, post: bool) -> Outcome {
    let scope = format!("repository:{}:pull,push", case.repository);
    let answer = if post {
        let body = format!(
            "grant_type=password&service={SERVICE}&client_id=ha-test&username={}&password={}&scope={scope}",
            case.user, case.password
        );
        request(
            nginx,
            "POST",
            "/v2/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &body,
        )
    } else {
        let authorization = basic(case.user, case.password);
        request(
            nginx,
            "GET",
            &format!("/v2/token?service={SERVICE}&scope={scope}"),
            &[("Authorization", &authorization)],
            "",
        )
    };
    let (status, body) = match answer {
        Err(e) => return Outcome::Failed(e),
        Ok((status @ (502..=504), body)) => return Outcome::Failed(format!("{status} {body}")),
        Ok(answer) => answer,
    };
    match (case.granted, status) {
        (None, 401) => Outcome::Ok,
        (Some(expected), 200) => {
            match granted_actions(&body, if post { "access_token" } else { "token" }, case.repository) {
                Ok((sub, actions))
                    if sub == case.user && actions.iter().map(String::as_str).eq(expected.iter().copied()) =>
                {
                    Outcome::Ok
                }
                Ok((sub, actions)) => Outcome::Wrong(format!("{sub} granted {actions:?}, expected {expected:?}")),
                Err(e) => Outcome::Wrong(e),
            }
        }
        (_, status) => Outcome::Wrong(format!("status {status}: {body}")),
    }
}

/// The `name=value` of each cookie a response's head sets.
fn set_cookies(head: &str) -> Vec<String> {
    head.lines()
        .filter_map(|l| {
            l.strip_prefix("Set-Cookie: ")
                .or_else(|| l.strip_prefix("set-cookie: "))
        })
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .collect()
}

/// A web sign-in through nginx, its three requests possibly served by different instances
/// (sign-in attempts and sessions are in the database): the form, the POST (no load balancer
/// may send it twice), the dashboard with the new session.
fn web_sign_in(nginx: SocketAddr, user: &str) -> Outcome {
    let step = |answer: Result<(u16, String, String), String>, expected: u16, what: &str| match answer {
        Err(e) => Err(Outcome::Failed(format!("{what}: {e}"))),
        Ok((status @ (502..=504), ..)) => Err(Outcome::Failed(format!("{what}: {status}"))),
        Ok((status, head, body)) if status == expected => Ok((head, body)),
        Ok((status, _, body)) => Err(Outcome::Wrong(format!("{what}: {status} {body}"))),
    };
    let run = || -> Result<(), Outcome> {
        let (head, form) = step(request_with_head(nginx, "GET", "/sign_in", &[], ""), 200, "form")?;
        let start = form
            .find("name=\"csrf\" value=\"")
            .ok_or(Outcome::Wrong("no CSRF field".into()))?
            + 19;
        let csrf = form[start..].split('"').next().unwrap_or_default();
        let twin = set_cookies(&head).join("; ");
        let body = format!("csrf={csrf}&username={user}&password={user}-password");
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", twin.as_str()),
        ];
        let (head, _) = step(
            request_with_head(nginx, "POST", "/sign_in", &headers, &body),
            303,
            "sign in",
        )?;
        let session = set_cookies(&head).join("; ");
        if !session.contains("portus_session=") {
            return Err(Outcome::Wrong(format!("no session: {head}")));
        }
        let (_, page) = step(
            request_with_head(nginx, "GET", "/", &[("Cookie", &session)], ""),
            200,
            "dashboard",
        )?;
        if !page.contains(user) {
            return Err(Outcome::Wrong("the dashboard is not the user's".into()));
        }
        Ok(())
    };
    run().err().unwrap_or(Outcome::Ok)
}

fn web_load(load: Arc<Load>, nginx: SocketAddr) {
    while !load.stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let outcome = web_sign_in(nginx, "carol");
        load.record("web sign-in carol".into(), start, outcome);
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn token_load(load: Arc<Load>, nginx: SocketAddr, seed: usize) {
    let mut i = seed;
    while !load.stop.load(Ordering::Relaxed) {
        let case = &TOKEN_CASES[i % TOKEN_CASES.len()];
        // One request in four is a POST: nginx cannot retry those elsewhere once sent.
        let post = (i / TOKEN_CASES.len()) % 4 == 3;
        let start = Instant::now();
        let outcome = token_request(nginx, case, post);
        let method = if post { "POST" } else { "GET" };
        load.record(
            format!("token {method} {} {}", case.user, case.repository),
            start,
            outcome,
        );
        i += 1;
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// `skopeo copy` as alice (on the registry's side of `src` or `dest`), given at most a minute.
fn skopeo_copy(src: &str, dest: &str) -> Result<(), String> {
    require_program("skopeo");
    let mut command = Command::new("skopeo");
    command
        .args(["--insecure-policy", "--command-timeout=60s", "copy"])
        .args(["--src-tls-verify=false", "--dest-tls-verify=false"]);
    // An empty auth file keeps credentials of other tools on this machine out of the test.
    let authfile = std::env::temp_dir().join("portus-e2e-empty-auth.json");
    std::fs::write(&authfile, "{\"auths\":{}}").unwrap();
    command.env("REGISTRY_AUTH_FILE", &authfile);
    let creds = if src.starts_with("docker://") {
        "--src-creds"
    } else {
        "--dest-creds"
    };
    command.arg(format!("{creds}=alice:alice-password")).arg(src).arg(dest);
    let output = run(&mut command);
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// Pushes new tags `alice/app:tN`, each a new image holding its own text.
fn push_load(load: Arc<Load>, registry: SocketAddr, dir: PathBuf) {
    let mut n = 0;
    while !load.stop.load(Ordering::Relaxed) {
        n += 1;
        let tag = format!("t{n}");
        let layout = dir.join(&tag);
        let manifest = oci_layout(&layout, &tag, &format!("high availability image {n}\n"));
        let text = layer_id(&layout, &manifest);
        let start = Instant::now();
        let pushed = skopeo_copy(
            &format!("oci:{}:{tag}", layout.display()),
            &format!("docker://{registry}/alice/app:{tag}"),
        );
        let outcome = match pushed {
            Ok(()) => {
                load.pushed.lock().unwrap().push((tag.clone(), text));
                Outcome::Ok
            }
            Err(e) => Outcome::Failed(e),
        };
        load.record(format!("push alice/app:{tag}"), start, outcome);
    }
}

/// The uncompressed digest of the one layer of the image `manifest` in an OCI layout: the
/// image's config names it whatever compression the registry's copy has.
fn layer_id(layout: &Path, manifest: &str) -> String {
    let blob = |digest: &str| -> serde_json::Value {
        let path = layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let config = blob(manifest)["config"]["digest"].as_str().unwrap().to_owned();
    blob(&config)["rootfs"]["diff_ids"][0].as_str().unwrap().to_owned()
}

/// Pulls pushed tags back, checking that each is its own image (its config names its layer).
fn pull_load(load: Arc<Load>, registry: SocketAddr, dir: PathBuf) {
    std::fs::create_dir_all(&dir).unwrap();
    let mut n = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let pick = {
            let pushed = load.pushed.lock().unwrap();
            (!pushed.is_empty()).then(|| pushed[n % pushed.len()].clone())
        };
        let Some((tag, text)) = pick else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        n += 1;
        let dest = dir.join(format!("pull-{n}"));
        let start = Instant::now();
        let pulled = skopeo_copy(
            &format!("docker://{registry}/alice/app:{tag}"),
            &format!("dir:{}", dest.display()),
        );
        let outcome = match pulled {
            Err(e) => Outcome::Failed(e),
            Ok(()) => {
                let holds = std::fs::read_dir(&dest).unwrap().any(|f| {
                    std::fs::read(f.unwrap().path())
                        .unwrap()
                        .windows(text.len())
                        .any(|w| w == text.as_bytes())
                });
                if holds {
                    Outcome::Ok
                } else {
                    Outcome::Wrong(format!("alice/app:{tag} does not hold its image"))
                }
            }
        };
        let _ = std::fs::remove_dir_all(&dest);
        load.record(format!("pull alice/app:{tag}"), start, outcome);
    }
}

/// `psql` on the test database: the rows of `query`, fields separated by `|`.
fn psql(url: &str, query: &str) -> Vec<String> {
    let output = run(Command::new("psql").args([url, "-v", "ON_ERROR_STOP=1", "-Atc", query]));
    assert_ok(&format!("psql {query}"), &output);
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Sends a signal (`-TERM`, `-STOP`) to a process.
fn signal(which: &str, pid: u32) {
    let output = run(Command::new("kill").arg(which).arg(pid.to_string()));
    assert!(output.status.success(), "kill {which}: {output:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Waits until the load has pushed `more` tags beyond `since` (at most 60 s).
fn wait_for_pushes(load: &Load, since: usize, more: usize, what: &str) {
    assert!(
        wait_until(Duration::from_secs(60), || load.pushes() >= since + more),
        "{what}: the load made no progress: {:?}",
        load.records.lock().unwrap().iter().rev().take(10).collect::<Vec<_>>()
    );
}

// Fields drop in order: the load's servers stop (showing their logs if the test failed)
// before their directory is removed.
struct Cluster {
    instances: [Portus; 2],
    nginx: Nginx,
    _registry: Registry,
    registry_addr: SocketAddr,
    database: String,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    fn start(flavour: Flavour) -> Cluster {
        require_program("psql");
        let tmp = tempfile::tempdir().unwrap();
        let database = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(portus::core::store::postgres_testing::fresh_database());
        let nginx_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        // One configuration for both (each adds its own `listen`): the realm and the
        // notifications go through nginx; no periodic catalog sync, so only notifications
        // bring pushes in; scans every second.
        let config = format!(
            "public_url = \"http://{nginx_addr}\"\n\
             [token]\nservice = \"{SERVICE}\"\nissuer = \"portus.ha\"\n\
             [database]\nurl = \"{database}\"\nmax_connections = 8\n\
             [auth]\nbcrypt_cost = 4\n\
             [http]\nshutdown_timeout_secs = 10\n\
             [registry]\nurl = \"http://{registry_addr}\"\n\
             [sync]\ninterval_secs = 0\n\
             [security]\ninterval_secs = 1\nscan_timeout_secs = 2\nclaim_lease_secs = 4\n\
             [security.dummy]\nserver = \"builtin\"\n"
        );
        let dirs = [tmp.path().join("a"), tmp.path().join("b")];
        std::fs::create_dir_all(&dirs[0]).unwrap();
        let first = Portus::with_config(&dirs[0], &config);
        // The first makes the data directory (signing key, webhook secret); the second gets a
        // copy, as a second machine would.
        let yaml = first.cli(&["config", "registry"], None);
        copy_dir(&dirs[0].join("data"), &dirs[1].join("data"));
        let second = Portus::with_config(&dirs[1], &config);
        let mut instances = [first, second];

        let p = &instances[0];
        for user in ["alice", "bob", "carol", "dave"] {
            p.user(user, &format!("{user}-password"));
        }
        p.cli(&["team", "create", "devs", "--owner", "alice"], None);
        p.cli(&["team", "add-member", "devs", "carol", "--role", "viewer"], None);
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

        for instance in &mut instances {
            instance.start();
        }
        let nginx_dir = tmp.path().join("nginx");
        std::fs::create_dir_all(&nginx_dir).unwrap();
        let nginx = Nginx::start(&nginx_dir, nginx_addr, [instances[0].addr, instances[1].addr]);
        // Failed deliveries are sent again after a second (`portus config registry`'s backoff).
        assert!(yaml.contains("backoff: 1s"), "{yaml}");
        assert!(
            yaml.contains(&format!("http://{nginx_addr}/v2/webhooks/events")),
            "{yaml}"
        );
        let registry_dir = tmp.path().join("registry");
        std::fs::create_dir_all(&registry_dir).unwrap();
        let registry = Registry::start_on_flavour(&registry_dir, &yaml, registry_addr, flavour);
        Cluster {
            instances,
            nginx,
            _registry: registry,
            registry_addr,
            database,
            _tmp: tmp,
        }
    }
}

against_both_registries!(two_instances_behind_nginx_survive_a_crash_and_a_rolling_restart_without_losing_an_event);

fn two_instances_behind_nginx_survive_a_crash_and_a_rolling_restart_without_losing_an_event(flavour: Flavour) {
    let began = Instant::now();
    let mut cluster = Cluster::start(flavour);
    let nginx = cluster.nginx.addr;
    let registry = cluster.registry_addr;
    let work = cluster._tmp.path().join("load");
    std::fs::create_dir_all(&work).unwrap();

    let load = Arc::new(Load::default());
    let _stop = StopLoad(load.clone());
    let mut threads = Vec::new();
    for seed in 0..2 {
        let load = load.clone();
        threads.push(std::thread::spawn(move || token_load(load, nginx, seed * 7)));
    }
    {
        let load = load.clone();
        threads.push(std::thread::spawn(move || web_load(load, nginx)));
    }
    {
        let (load, dir) = (load.clone(), work.join("push"));
        threads.push(std::thread::spawn(move || push_load(load, registry, dir)));
    }
    {
        let (load, dir) = (load.clone(), work.join("pull"));
        threads.push(std::thread::spawn(move || pull_load(load, registry, dir)));
    }
    wait_for_pushes(&load, 0, 4, "warming up");

    // A crash: the first instance hangs (SIGSTOP) for a moment, so that requests and
    // notifications are in flight on it, then dies (SIGKILL). Those are the requests allowed
    // to fail: nginx passes idempotent ones (token GETs) on to the other instance, the
    // registry sends the notifications again.
    let killed_from = Instant::now();
    signal("-STOP", cluster.instances[0].pid());
    std::thread::sleep(Duration::from_millis(1500));
    cluster.instances[0].stop();
    let killed_until = Instant::now();
    let pushes = load.pushes();
    wait_for_pushes(&load, pushes, 4, "with one instance");
    cluster.instances[0].start();
    let pushes = load.pushes();
    wait_for_pushes(&load, pushes, 4, "after the crashed instance is back");

    // A rolling restart: each instance in turn drains and exits on SIGTERM, starts again.
    let rolling_from = (Instant::now(), SystemTime::now());
    let mut drains = Vec::new();
    for instance in &mut cluster.instances {
        let signalled = Instant::now();
        signal("-TERM", instance.pid());
        let status = instance
            .wait_exit(Duration::from_secs(20))
            .expect("the instance exits within its shutdown timeout");
        assert!(status.success(), "exit status {status:?}: {}", instance.log());
        drains.push(signalled.elapsed());
        let log = instance.log();
        assert!(log.contains("shutting down") && log.contains("stopped"), "{log}");
        instance.stop(); // keeps its log
        instance.start();
        let pushes = load.pushes();
        wait_for_pushes(&load, pushes, 3, "after a restart");
    }
    let rolling_until = (Instant::now(), SystemTime::now());
    load.stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().expect("a load thread panicked");
    }
    let load_done = Instant::now();

    // The answers: never wrong; failed only when in flight at the kill.
    let records = load.records.lock().unwrap().clone();
    let wrong: Vec<&Record> = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Wrong(_)))
        .collect();
    assert!(wrong.is_empty(), "wrong answers: {wrong:#?}");
    let failed: Vec<&Record> = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
        .collect();
    let outside_the_kill: Vec<&&Record> = failed
        .iter()
        .filter(|r| r.end < killed_from || r.start > killed_until)
        .collect();
    assert!(
        outside_the_kill.is_empty(),
        "requests failed that were not in flight at the kill: {outside_the_kill:#?}"
    );
    let count = |prefix: &str, from: Instant, until: Instant| {
        records
            .iter()
            .filter(|r| r.what.starts_with(prefix) && r.start >= from && r.end <= until)
            .count()
    };
    for (what, from, until) in [
        ("after the kill", killed_until, rolling_from.0),
        ("during the rolling restart", rolling_from.0, rolling_until.0),
    ] {
        for prefix in ["token GET", "token POST", "web sign-in", "push", "pull"] {
            assert!(count(prefix, from, until) > 0, "no {prefix} request {what}");
        }
    }
    // nginx answered nothing with a 5xx during the rolling restart (the registry's
    // notifications included), and both instances served requests.
    let answers = cluster.nginx.answers();
    let (from, until) = (unix_time(rolling_from.1), unix_time(rolling_until.1));
    let errors: Vec<_> = answers
        .iter()
        .filter(|(at, status, ..)| *status >= 500 && *at >= from && *at <= until)
        .collect();
    assert!(
        errors.is_empty(),
        "nginx answered errors during the rolling restart: {errors:#?}"
    );
    for instance in &cluster.instances {
        let addr = instance.addr.to_string();
        assert!(
            answers.iter().any(|(.., upstreams)| upstreams.contains(&addr)),
            "{addr} served nothing"
        );
    }
    // Requests nginx passed on to the other instance (refused or reset by the first one).
    let passed_on = answers
        .iter()
        .filter(|(.., upstreams)| upstreams.contains(", "))
        .count();
    assert!(passed_on > 0, "nginx passed nothing on to the other instance");
    let redelivered = answers
        .iter()
        .filter(|(_, status, method, path, _)| method == "POST" && path == "/v2/webhooks/events" && *status != 200)
        .count();

    // No event lost: every tag pushed is in the catalog, each with its one push activity.
    let pushed: BTreeMap<String, String> = load.pushed.lock().unwrap().iter().cloned().collect();
    let url = &cluster.database;
    let tags_query =
        "SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id WHERE r.name = 'alice/app'";
    let all_in = wait_until(Duration::from_secs(30), || {
        let tags: BTreeSet<String> = psql(url, tags_query).into_iter().collect();
        pushed.keys().all(|t| tags.contains(t))
            && psql(url, "SELECT count(*) FROM registry_events WHERE status = 'pending'") == ["0"]
    });
    let tags: BTreeSet<String> = psql(url, tags_query).into_iter().collect();
    let missing: Vec<&String> = pushed.keys().filter(|t| !tags.contains(*t)).collect();
    assert!(all_in, "pushed tags missing from the catalog: {missing:?}");
    // Asked through the CLI of the second instance too.
    let listed = cluster.instances[1].cli(&["tag", "list", "alice/app", "--json"], None);
    for tag in pushed.keys() {
        assert!(listed.contains(&format!("\"{tag}\"")), "{tag} not listed: {listed}");
    }
    let statuses = psql(
        url,
        "SELECT status, count(*) FROM registry_events GROUP BY status ORDER BY status",
    );
    assert!(
        statuses
            .iter()
            .all(|s| s.starts_with("applied|") || s.starts_with("ignored|")),
        "{statuses:?}"
    );
    let activities = psql(
        url,
        "SELECT target, count(*) FROM activities WHERE action = 'tag.push' GROUP BY target ORDER BY target",
    );
    let per_tag: BTreeMap<String, String> = activities
        .iter()
        .map(|row| {
            let (target, count) = row.split_once('|').unwrap();
            (target.trim_start_matches("alice/app:").to_owned(), count.to_owned())
        })
        .collect();
    for tag in &tags {
        assert_eq!(
            per_tag.get(tag).map(String::as_str),
            Some("1"),
            "push activities of {tag}: {activities:?}"
        );
    }
    assert_eq!(per_tag.len(), tags.len(), "{activities:?}");
    // Each pull event stored (once, by its id) and applied is counted once.
    let miscounted = psql(
        url,
        "SELECT t.name, t.pull_count, (SELECT count(*) FROM registry_events e WHERE e.status = 'applied' \
         AND e.payload::jsonb->>'action' = 'pull' AND e.payload::jsonb->'target'->>'repository' = 'alice/app' \
         AND e.payload::jsonb->'target'->>'tag' = t.name) AS pulls \
         FROM tags t JOIN repositories r ON r.id = t.repository_id WHERE r.name = 'alice/app' ORDER BY t.name",
    );
    let total_pulls: u64 = miscounted
        .iter()
        .map(|row| row.split('|').nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    let miscounted: Vec<&String> = miscounted
        .iter()
        .filter(|row| {
            let fields: Vec<&str> = row.split('|').collect();
            fields[1] != fields[2]
        })
        .collect();
    assert!(miscounted.is_empty(), "tag, pull count, pull events: {miscounted:?}");
    assert!(total_pulls > 0, "pulls were counted");

    // The background work went on: every pushed image is scanned. A scan claimed by the
    // killed instance is taken over when its lease (security.claim_lease_secs) ends.
    let unscanned_query = "SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id \
         WHERE r.name = 'alice/app' AND NOT EXISTS (SELECT 1 FROM scan_records s \
         WHERE s.digest = t.digest AND s.backend = 'dummy' AND s.state = 'done')";
    let leased = psql(url, "SELECT count(*) FROM scan_records WHERE state = 'scanning'");
    let scanned = wait_until(Duration::from_secs(30), || psql(url, unscanned_query).is_empty());
    assert!(scanned, "not scanned: {:?}", psql(url, unscanned_query));

    let sign_ins = count("web", began, load_done);
    let (tokens, pushes, pulls) = (
        count("token", began, load_done),
        count("push", began, load_done),
        count("pull", began, load_done),
    );
    let upstream_errors = cluster.nginx.errors();
    let resets = upstream_errors.iter().filter(|e| e.contains("reset by peer")).count();
    let refused = upstream_errors.iter().filter(|e| e.contains("refused")).count();
    let failures: Vec<String> = failed
        .iter()
        .map(|r| format!("{}: {}", r.what, r.outcome.reason().unwrap_or_default()))
        .collect();
    eprintln!(
        "e2e_ha ({flavour:?}): {tokens} token requests, {sign_ins} web sign-ins, {pushes} pushes, {pulls} pulls; failed at the kill: {failures:?}; \
         {redelivered} notifications answered with an error (sent again); {passed_on} requests passed on by \
         nginx; scans claimed when all events were applied: {leased:?}; drains took {drains:?}; {} tags; \
         {:?} in all; nginx found {resets} requests reset by an instance and {refused} connections refused",
        tags.len(),
        began.elapsed(),
    );
}
