//! Password reset by e-mail end to end: `portus serve` with `[email]` mailing through a real
//! SMTP server (aiosmtpd, started by the harness); the link is followed with the web pages,
//! then the new password works for docker logins (`/v2/token` with Basic credentials) and web
//! sign-in, the old one nowhere; the link works once, and a newer request kills an older link.
//! Unknown addresses get exactly the known one's answer.

use std::time::Duration;

use crate::harness::{Portus, SmtpSink, basic, http_get, http_post, status};

const SERVICE: &str = "registry.reset";

fn body(response: &str) -> &str {
    response.split("\r\n\r\n").nth(1).unwrap_or_default()
}

/// The value of cookie `name` set by `response`.
fn set_cookie(response: &str, name: &str) -> Option<String> {
    response
        .lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
}

fn csrf_field(response: &str) -> String {
    let start = response.find("name=\"csrf\" value=\"").expect("a form") + 19;
    response[start..].split('"').next().unwrap().to_owned()
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Gets the form at `path`, then posts `form` to it with its CSRF token and cookie twin.
fn submit(p: &Portus, path: &str, form: &str) -> String {
    let page = http_get(p.addr, path, &[]);
    assert_eq!(status(&page), 200, "{path}: {page}");
    let twin = format!("portus_csrf={}", set_cookie(&page, "portus_csrf").unwrap());
    let body = format!("csrf={}&{form}", csrf_field(&page));
    http_post(
        p.addr,
        path,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", twin.as_str()),
        ],
        &body,
    )
}

fn web_sign_in(p: &Portus, user: &str, password: &str) -> u16 {
    let answer = submit(p, "/sign_in", &format!("username={user}&password={}", encode(password)));
    status(&answer)
}

fn docker_login(p: &Portus, user: &str, password: &str) -> u16 {
    let authorization = basic(user, password);
    let answer = http_get(
        p.addr,
        &format!("/v2/token?service={SERVICE}&account={user}"),
        &[("Authorization", authorization.as_str())],
    );
    status(&answer)
}

fn ask_for_link(p: &Portus, email: &str) -> (u16, String) {
    let answer = http_post(
        p.addr,
        "/api/v1/password_resets",
        &[("Content-Type", "application/json")],
        &serde_json::json!({ "email": email }).to_string(),
    );
    (status(&answer), body(&answer).to_owned())
}

/// The text of a mail's body, decoded as a mail reader would: quoted-printable (what lettre
/// sends for lines longer than 76 characters: soft line breaks, `=XX` escapes) or as it is.
fn text_of(mail: &str) -> String {
    let (headers, body) = mail.split_once("\n\n").unwrap_or((mail, ""));
    if !headers
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: quoted-printable")
    {
        return body.to_owned();
    }
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escape = joined
            .get(i + 1..i + 3)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let (b'=', Some(byte)) = (bytes[i], escape) {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The path of the reset link in a mail.
fn link_path(mail: &str, p: &Portus) -> String {
    let mail = text_of(mail);
    let prefix = format!("http://{}/password_reset/", p.addr);
    let start = mail.find(&prefix).unwrap_or_else(|| panic!("no link in:\n{mail}")) + prefix.len() - 16;
    mail[start..].split_whitespace().next().unwrap().to_owned()
}

#[test]
fn a_mailed_link_sets_a_new_password_once() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path());
    let mut p = Portus::new(tmp.path(), SERVICE, "");
    p.append_config(&format!(
        "[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nfrom = \"Portus <portus@example.org>\"\n",
        smtp.port
    ));
    p.cli(
        &[
            "user",
            "create",
            "alice",
            "--email",
            "alice@example.org",
            "--password-stdin",
        ],
        Some("old-password-1\n"),
    );
    p.start();
    assert!(http_get(p.addr, "/sign_in", &[]).contains("href=\"/password_reset\""));

    let known = ask_for_link(&p, "alice@example.org");
    let unknown = ask_for_link(&p, "nobody@example.org");
    assert_eq!(known.0, 202, "{known:?}\n{}", p.log());
    assert_eq!(known, unknown, "an unknown address gets the same answer");
    let mails = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(mails.len(), 1, "{mails:?}\n{}", p.log());
    assert!(mails[0].contains("To: alice@example.org"), "{}", mails[0]);
    assert!(mails[0].contains("From: Portus <portus@example.org>"), "{}", mails[0]);
    let first = link_path(&mails[0], &p);

    // A second request: a new link, and the first one is dead.
    ask_for_link(&p, "ALICE@example.org");
    let mails = smtp.wait_for(2, Duration::from_secs(20));
    assert_eq!(mails.len(), 2, "only alice gets mail: {mails:?}");
    let second = link_path(&mails[1], &p);
    assert_ne!(first, second);
    let new = "password=new-password-2&password_confirmation=new-password-2";
    let dead = submit(&p, &first, new);
    assert_eq!(status(&dead), 404, "{dead}");

    let set = submit(&p, &second, new);
    assert_eq!(status(&set), 200, "{set}\n{}", p.log());
    assert!(set.contains("id=\"password-set\""));
    assert_eq!(docker_login(&p, "alice", "new-password-2"), 200);
    assert_eq!(docker_login(&p, "alice", "old-password-1"), 401);
    assert_eq!(web_sign_in(&p, "alice", "new-password-2"), 303);
    assert_eq!(web_sign_in(&p, "alice", "old-password-1"), 401);

    let again = submit(
        &p,
        &second,
        "password=new-password-3&password_confirmation=new-password-3",
    );
    assert_eq!(status(&again), 404, "the link works once");
    assert_eq!(docker_login(&p, "alice", "new-password-2"), 200);
    let log = p.log();
    assert!(
        !log.contains(second.trim_start_matches("/password_reset/")),
        "no token in the log"
    );
}
