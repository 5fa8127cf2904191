//! Signing up: only when `web.signup` is on, with the form's CSRF token, checked input, and the
//! installation's first account an administrator; and the password sign-in's own switch.

use super::*;

impl Site {
    /// Posts the sign-up form with the token of a freshly loaded one.
    async fn sign_up(&self, fields: &str) -> Page {
        let form = self.request(Method::GET, "/sign_up", &[], None).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf_cookie = format!("portus_csrf={}", form.cookie("portus_csrf").unwrap());
        let body = format!("csrf={}&{fields}", form.csrf());
        self.request(Method::POST, "/sign_up", &[&csrf_cookie], Some(&body))
            .await
    }
}

const CAROL: &str =
    "username=carol&email=carol%40example.org&password=carol-password&password_confirmation=carol-password";

#[tokio::test]
async fn without_the_switch_there_is_no_sign_up() {
    let site = site().await;
    assert_eq!(
        site.request(Method::GET, "/sign_up", &[], None).await.status,
        StatusCode::NOT_FOUND
    );
    let posted = site.request(Method::POST, "/sign_up", &[], Some(CAROL)).await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert!(
        !site
            .request(Method::GET, "/sign_in", &[], None)
            .await
            .body
            .contains("/sign_up")
    );
    assert_eq!(site.store.user_by_name("carol").await.unwrap(), None);
}

#[tokio::test]
async fn the_first_account_signed_up_is_an_administrator_and_the_next_is_not() {
    let site = site_of(&[], |web, _| web.signup = true, |_| {}).await;
    assert!(
        site.request(Method::GET, "/sign_in", &[], None)
            .await
            .body
            .contains("href=\"/sign_up\"")
    );
    let first = site.sign_up(CAROL).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert_eq!(first.location.as_deref(), Some("/"));
    let session = format!("portus_session={}", first.cookie("portus_session").expect("signed in"));
    assert_eq!(
        site.get("/admin/users", &session).await.status,
        StatusCode::OK,
        "an administrator"
    );
    let carol = site.store.user_by_name("carol").await.unwrap().unwrap();
    assert!(carol.admin);
    assert_eq!(carol.email.as_deref(), Some("carol@example.org"));
    assert!(carol.personal_namespace.is_some());

    let second = site
        .sign_up(
            "username=dan&email=dan%40example.org&password=dan-password&password_confirmation=dan-password&admin=true",
        )
        .await;
    assert_eq!(second.status, StatusCode::SEE_OTHER, "{}", second.body);
    assert!(!site.store.user_by_name("dan").await.unwrap().unwrap().admin);
    assert!(site.sign_in("dan", "dan-password").await.is_ok(), "the password works");
}

#[tokio::test]
async fn bad_or_forged_sign_ups_make_nobody_and_say_why() {
    let site = site_of(&[("alice", false)], |web, _| web.signup = true, |_| {}).await;
    for (fields, status, says) in [
        (
            "username=alice&email=a%40example.org&password=long-enough&password_confirmation=long-enough",
            StatusCode::CONFLICT,
            "taken",
        ),
        (
            "username=erin&email=not-an-address&password=long-enough&password_confirmation=long-enough",
            StatusCode::BAD_REQUEST,
            "e-mail",
        ),
        (
            "username=erin&email=e%40example.org&password=short&password_confirmation=short",
            StatusCode::BAD_REQUEST,
            "8 characters",
        ),
        (
            "username=erin&email=e%40example.org&password=long-enough&password_confirmation=long-enougH",
            StatusCode::BAD_REQUEST,
            "differ",
        ),
        (
            "username=er%3Ain&email=e%40example.org&password=long-enough&password_confirmation=long-enough",
            StatusCode::BAD_REQUEST,
            "",
        ),
    ] {
        let page = site.sign_up(fields).await;
        assert_eq!(page.status, status, "{fields}: {}", page.body);
        assert!(page.body.contains(says), "{fields}: {}", page.body);
        assert!(page.cookie("portus_session").is_none());
    }
    // Without the form's token: refused.
    let forged = site
        .request(Method::POST, "/sign_up", &["portus_csrf=mine"], Some(CAROL))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let names: Vec<String> = site
        .store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice"]);
}

#[tokio::test]
async fn without_local_login_there_is_no_password_form_and_a_posted_password_is_refused() {
    let site = site_with(|web, _| {
        web.local_login = false;
        web.signup = true;
    })
    .await;
    let form = site.request(Method::GET, "/sign_in", &[], None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(!form.body.contains("id=\"password\""), "{}", form.body);
    assert!(
        !form.body.contains("/sign_up"),
        "no sign-up without the password sign-in"
    );
    let csrf_cookie = format!("portus_csrf={}", form.cookie("portus_csrf").unwrap());
    let body = "csrf=x&username=alice&password=alice-password";
    let posted = site
        .request(Method::POST, "/sign_in", &[&csrf_cookie], Some(body))
        .await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert!(posted.cookie("portus_session").is_none());
    assert_eq!(
        site.request(Method::GET, "/sign_up", &[], None).await.status,
        StatusCode::NOT_FOUND
    );
}
