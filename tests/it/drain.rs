//! `portus serve` on SIGTERM: it stops accepting, lets the request in flight finish, stops
//! its background work and exits 0, within `http.shutdown_timeout_secs`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{Portus, run};

fn sigterm(pid: u32) {
    let output = run(Command::new("kill").arg("-TERM").arg(pid.to_string()));
    assert!(output.status.success(), "kill: {output:?}");
}

/// Opens a token request whose body is still on its way: the server has the request (its
/// headers) and waits for the rest of the body.
fn slow_token_request(p: &Portus, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(p.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /v2/token HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n",
        p.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..10]).unwrap();
    stream.flush().unwrap();
    // Long enough for the server to read the headers and start the handler.
    std::thread::sleep(Duration::from_millis(500));
    stream
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_refuses_new_connections_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Portus::new(dir.path(), "registry", "");
    p.append_config("[http]\nshutdown_timeout_secs = 15\n");
    p.user("alice", "alice-password");
    p.start();
    let body = "grant_type=password&service=registry&username=alice&password=alice-password";
    let mut stream = slow_token_request(&p, body);

    sigterm(p.pid());
    let signalled = Instant::now();
    // The listener is closed: a new connection is refused while the old request still runs.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&p.addr, Duration::from_millis(200)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        p.wait_exit(Duration::ZERO).is_none(),
        "the server waits for the request in flight"
    );

    // The rest of the body arrives: the request is answered in full.
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"access_token\""), "{response}");

    let status = p
        .wait_exit(Duration::from_secs(15))
        .expect("the server exits after draining");
    assert!(status.success(), "exit status {status:?}; log:\n{}", p.log());
    assert!(signalled.elapsed() < Duration::from_secs(15));
    let log = p.log();
    assert!(log.contains("shutting down") && log.contains("stopped"), "{log}");
}

#[test]
fn a_request_that_never_finishes_is_given_up_after_the_shutdown_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Portus::new(dir.path(), "registry", "");
    p.append_config("[http]\nshutdown_timeout_secs = 2\nrequest_timeout_secs = 60\n");
    p.start();
    // The body never comes.
    let _stream = slow_token_request(&p, "grant_type=password&username=alice&password=x");
    sigterm(p.pid());
    let signalled = Instant::now();
    let status = p
        .wait_exit(Duration::from_secs(10))
        .expect("the server exits at the timeout");
    assert!(status.success(), "exit status {status:?}; log:\n{}", p.log());
    let waited = signalled.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(6),
        "exited after {waited:?}"
    );
    assert!(p.log().contains("requests still in flight"), "{}", p.log());
}
