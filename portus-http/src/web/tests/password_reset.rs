//! `/password_reset` and `/password_reset/{token}`: only with `[email]`, linked from the
//! sign-in page, CSRF like the sign-in form, the link works once.

use super::*;
use crate::mail::{InMemoryMailer, PasswordResets};

async fn site_with_mail(mailer: &Arc<InMemoryMailer>) -> Site {
    let mailer = mailer.clone();
    site_with_state(
        |_, _| {},
        move |state| state.password_resets = Some(PasswordResets::new(mailer, "http://portus.test")),
    )
    .await
}

/// Posts `form` to `action` with the CSRF token (and its cookie twin) of the page at `from`.
async fn post_anonymous(site: &Site, from: &str, action: &str, form: &str) -> Page {
    let page = site.request(Method::GET, from, &[], None).await;
    assert_eq!(page.status, StatusCode::OK, "{from}");
    let twin = format!("portus_csrf={}", page.cookie("portus_csrf").unwrap());
    let body = format!("csrf={}&{form}", page.csrf());
    site.request(Method::POST, action, &[&twin], Some(&body)).await
}

#[tokio::test]
async fn without_email_there_is_no_link_and_no_page() {
    let site = site().await;
    let sign_in = site.request(Method::GET, "/sign_in", &[], None).await;
    assert!(!sign_in.body.contains("/password_reset"));
    for path in ["/password_reset", "/password_reset/abc"] {
        assert_eq!(
            site.request(Method::GET, path, &[], None).await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn a_mailed_link_sets_the_password_once() {
    let mailer = Arc::new(InMemoryMailer::new());
    let site = site_with_mail(&mailer).await;
    let alice = site.store.user_by_name("alice").await.unwrap().unwrap();
    site.store
        .set_user_email(alice.id, Some("alice@example.org".into()))
        .await
        .unwrap();
    let old_session = site.sign_in("alice", "alice-password").await.unwrap();
    let sign_in = site.request(Method::GET, "/sign_in", &[], None).await;
    assert!(
        sign_in.body.contains("href=\"/password_reset\""),
        "the sign-in page links it"
    );

    // Without the cookie twin: refused.
    let page = site.request(Method::GET, "/password_reset", &[], None).await;
    let forged = format!("csrf={}&email=alice%40example.org", page.csrf());
    let refused = site.request(Method::POST, "/password_reset", &[], Some(&forged)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let known = post_anonymous(&site, "/password_reset", "/password_reset", "email=alice%40example.org").await;
    let unknown = post_anonymous(
        &site,
        "/password_reset",
        "/password_reset",
        "email=nobody%40example.org",
    )
    .await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(
        (known.status, &known.body),
        (unknown.status, &unknown.body),
        "the same page"
    );
    let mail = mailer.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(mail.len(), 1);
    let start = mail[0].body.find("http://portus.test/password_reset/").unwrap() + "http://portus.test".len();
    let path = mail[0].body[start..].split_whitespace().next().unwrap().to_owned();

    let differ = post_anonymous(
        &site,
        &path,
        &path,
        "password=new-password-1&password_confirmation=other",
    )
    .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    let short = post_anonymous(&site, &path, &path, "password=short&password_confirmation=short").await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let set = post_anonymous(
        &site,
        &path,
        &path,
        "password=new-password-1&password_confirmation=new-password-1",
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert!(set.body.contains("id=\"password-set\""));
    let again = post_anonymous(
        &site,
        &path,
        &path,
        "password=new-password-2&password_confirmation=new-password-2",
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "once");
    assert!(again.body.contains("unknown, used or expired"));

    assert_eq!(
        site.get("/", &old_session).await.status,
        StatusCode::SEE_OTHER,
        "sessions ended"
    );
    assert!(site.sign_in("alice", "alice-password").await.is_err());
    assert!(site.sign_in("alice", "new-password-1").await.is_ok());
    let bogus = site
        .request(Method::GET, "/password_reset/not%20a%20token", &[], None)
        .await;
    assert_eq!(bogus.status, StatusCode::NOT_FOUND);
}
