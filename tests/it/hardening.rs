//! A live `portus serve` under bad input and faults: every bad request gets a clear 4xx in the
//! registry's error format and the server stays up; a PostgreSQL outage gives 503 and never a
//! token, and the server recovers without a restart when the database is back; a locked SQLite
//! file the same, and a notification refused meanwhile is recorded when the registry redelivers it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::{Portus, basic, http_get, http_post, status};

/// Sends raw bytes; returns the response (lossily decoded) or what the server did instead.
fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn assert_alive(p: &Portus) {
    let ping = http_get(p.addr, "/v2/", &[]);
    assert!(
        status(&ping) == 200 || status(&ping) == 401,
        "server still answers: {ping}"
    );
}

#[test]
fn bad_requests_get_clear_client_errors_and_the_server_stays_up() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Portus::new(tmp.path(), "registry.hard", "");
    p.user("alice", "alice-password");
    p.start();
    let alice = basic("alice", "alice-password");
    let token = |query: &str, authorization: &str| {
        http_get(
            p.addr,
            &format!("/v2/token?service=registry.hard&{query}"),
            &[("Authorization", authorization)],
        )
    };

    let many: Vec<String> = (0..1000)
        .map(|i| format!("scope=repository:alice/app{i}:pull"))
        .collect();
    let cases: Vec<(&str, String, u16)> = vec![
        ("1,000 scopes", token(&many.join("&"), &alice), 400),
        (
            "SQL-like name",
            token("scope=repository:alice/x%27%3BDROP%20TABLE%20users%3B--:pull", &alice),
            400,
        ),
        (
            "path traversal",
            token("scope=repository:../../etc/passwd:pull", &alice),
            400,
        ),
        (
            "traversal inside",
            token("scope=repository:alice/../bob/app:pull", &alice),
            400,
        ),
        ("bad scope grammar", token("scope=repository::pull", &alice), 400),
        (
            "unknown service",
            http_get(p.addr, "/v2/token?service=other", &[("Authorization", &alice)]),
            400,
        ),
        (
            "Basic without colon",
            token("", &format!("Basic {}", data_encoding::BASE64.encode(b"alice"))),
            401,
        ),
        ("Basic not base64", token("", "Basic !!!notbase64!!!"), 401),
        (
            "Basic invalid UTF-8",
            token("", &format!("Basic {}", data_encoding::BASE64.encode(b"\xff\xfe:\xff"))),
            401,
        ),
        ("unknown auth scheme", token("", "Digest username=alice"), 401),
        ("wrong password", token("", &basic("alice", "nope")), 401),
        (
            "unknown grant type",
            http_post(
                p.addr,
                "/v2/token",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                "grant_type=client_credentials&service=registry.hard&client_id=x",
            ),
            400,
        ),
        (
            "form body as JSON",
            http_post(p.addr, "/v2/token", &[("Content-Type", "application/json")], "{}"),
            415,
        ),
        (
            "oversized body",
            http_post(
                p.addr,
                "/v2/token",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                &"a".repeat(200_000),
            ),
            413,
        ),
        (
            "oversized JSON to the API",
            http_post(
                p.addr,
                "/api/v1/teams",
                &[("Content-Type", "application/json")],
                &"x".repeat(200_000),
            ),
            413,
        ),
        (
            "webhook without secret",
            http_post(p.addr, "/v2/webhooks/events", &[], "{}"),
            401,
        ),
        ("unknown API id", http_get(p.addr, "/api/v1/tags/%00", &[]), 404),
    ];
    for (what, response, expected) in &cases {
        assert_eq!(status(response), *expected, "{what}: {response}");
        assert!(
            response.contains("\"errors\""),
            "{what}: registry error format: {response}"
        );
        assert_alive(&p);
    }

    // Raw protocol abuse: invalid UTF-8 in the query, huge headers, garbage.
    let invalid_utf8 = raw(
        p.addr,
        b"GET /v2/token?service=registry.hard&scope=repository:\xff\xfe:pull HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        (400..500).contains(&status(&invalid_utf8)),
        "invalid UTF-8: {invalid_utf8}"
    );
    let huge_header = format!(
        "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(200_000)
    );
    let answered = raw(p.addr, huge_header.as_bytes());
    assert!(
        answered.is_empty() || (400..500).contains(&status(&answered)),
        "huge header: {answered}"
    );
    let garbage = raw(p.addr, b"\x00\x01\x02 not http at all\r\n\r\n");
    assert!(
        garbage.is_empty() || (400..500).contains(&status(&garbage)),
        "garbage: {garbage}"
    );
    assert_alive(&p);

    // And real work still works.
    let ok = token("scope=repository:alice/app:pull,push", &alice);
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(!p.log().contains("panicked"), "no panic in the server log");
}

fn postgres(action: &str, dir: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-postgres.sh");
    let output = Command::new("bash").arg(script).arg(action).arg(dir).output().unwrap();
    assert!(
        output.status.success(),
        "test-postgres.sh {action}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Stops the cluster when the test ends, whatever happens.
struct Cluster(tempfile::TempDir);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-postgres.sh"))
            .arg("stop")
            .arg(self.0.path())
            .output();
    }
}

#[test]
fn a_postgresql_outage_is_503_never_a_token_and_recovers_without_restart() {
    let cluster = Cluster(tempfile::tempdir().unwrap());
    let dir = cluster.0.path();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let url = postgres("start", dir);
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Portus::new(tmp.path(), "registry.pg", "");
    p.append_config(&format!("[database]\nurl = \"{url}\"\nmax_connections = 4\n"));
    p.user("alice", "alice-password");
    p.start();
    let request = |user: &str, password: &str| {
        http_get(
            p.addr,
            "/v2/token?service=registry.pg&scope=repository:alice/app:pull,push",
            &[("Authorization", &basic(user, password))],
        )
    };
    assert_eq!(status(&request("alice", "alice-password")), 200);

    postgres("stop", dir);
    for (user, password) in [("alice", "alice-password"), ("alice", "wrong"), ("nobody", "x")] {
        let down = request(user, password);
        assert_eq!(status(&down), 503, "{user}: {down}");
        assert!(
            down.contains("\"UNAVAILABLE\"") && !down.contains("\"token\""),
            "{down}"
        );
    }
    let anonymous = http_get(
        p.addr,
        "/v2/token?service=registry.pg&scope=repository:alice/app:pull",
        &[],
    );
    assert_eq!(
        status(&anonymous),
        503,
        "anonymous requests need the store too: {anonymous}"
    );
    let health = http_get(p.addr, "/api/v1/health", &[]);
    assert_eq!(status(&health), 503, "{health}");

    postgres("resume", dir);
    let back = crate::harness::wait_until(Duration::from_secs(15), || {
        status(&request("alice", "alice-password")) == 200
    });
    assert!(
        back,
        "recovers without a restart:\n{}\n{}",
        p.log(),
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
    assert_eq!(status(&http_get(p.addr, "/api/v1/health", &[])), 200);
}

/// Holds the locks of a SQLite database in WAL mode (the WAL-index bytes every reader and
/// writer needs) as a stuck second process would, until dropped.
struct SqliteLock(std::process::Child);

impl SqliteLock {
    fn take(database: &Path) -> SqliteLock {
        crate::harness::require_program("python3");
        // Bytes 120..128 of the -shm file: the write, checkpoint, recovery and read-mark locks
        // of SQLite's unix VFS (POSIX record locks, which is what fcntl.lockf takes).
        let script = r#"
import fcntl, os, sys, time
fd = os.open(sys.argv[1] + "-shm", os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120)
print("locked", flush=True)
time.sleep(600)
"#;
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(database)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
        assert_eq!(line.trim(), "locked", "the lock holder could not lock {database:?}");
        SqliteLock(child)
    }
}

impl Drop for SqliteLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn push_event(id: &str, repository: &str) -> String {
    // A well-formed digest made from the id: a malformed one is refused, never applied.
    let hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
    format!(
        r#"{{"events":[{{"id":"{id}","action":"push","actor":{{"name":"alice"}},
        "target":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{hex:0<64}","repository":"{repository}","tag":"1"}}}}]}}"#
    )
}

#[test]
fn a_locked_sqlite_database_is_503_never_a_token_loses_no_notification_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Portus::new(tmp.path(), "registry.lock", "");
    p.append_config("[sync]\ninterval_secs = 0\n");
    p.user("alice", "alice-password");
    p.start();
    let secret = p.webhook_authorization();
    let token = |user: &str, password: &str| {
        http_get(
            p.addr,
            "/v2/token?service=registry.lock&scope=repository:alice/app:pull,push",
            &[("Authorization", &basic(user, password))],
        )
    };
    let notify = |envelope: &str| {
        http_post(
            p.addr,
            "/v2/webhooks/events",
            &[
                ("Authorization", secret.as_str()),
                ("Content-Type", "application/vnd.docker.distribution.events.v1+json"),
            ],
            envelope,
        )
    };
    // A token first, so the credential cache holds alice: it must not answer for the store.
    assert_eq!(status(&token("alice", "alice-password")), 200);
    let before = notify(&push_event("before", "alice/before"));
    assert!(before.contains("\"accepted\":1"), "{before}");

    let lock = SqliteLock::take(&tmp.path().join("data/portus.db"));
    for (user, password) in [("alice", "alice-password"), ("nobody", "x")] {
        let locked = token(user, password);
        assert_eq!(status(&locked), 503, "{user}: {locked}");
        assert!(
            locked.contains("\"UNAVAILABLE\"") && !locked.contains("\"token\""),
            "{locked}"
        );
    }
    // The registry retries a notification that was not acknowledged, so a 503 loses nothing.
    let during = push_event("during", "alice/during");
    let refused = notify(&during);
    assert_eq!(status(&refused), 503, "{refused}");
    assert!(refused.contains("\"UNAVAILABLE\""), "{refused}");
    assert_alive(&p);

    drop(lock);
    assert!(
        crate::harness::wait_until(Duration::from_secs(15), || status(&token("alice", "alice-password"))
            == 200),
        "recovers without a restart:\n{}",
        p.log()
    );
    let redelivered = notify(&during);
    assert!(redelivered.contains("\"accepted\":1"), "{redelivered}");
    let recorded = || {
        let tags = p.cli(&["tag", "list", "--json"], None);
        tags.contains("alice/before") && tags.contains("alice/during")
    };
    assert!(
        crate::harness::wait_until(Duration::from_secs(10), recorded),
        "both notifications are applied once the database is back:\n{}",
        p.cli(&["tag", "list", "--json"], None)
    );
    assert!(!p.log().contains("panicked"), "no panic in the server log");
}
