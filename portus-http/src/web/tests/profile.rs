//! `/profile`: display name without a password; e-mail and password only with the current
//! one; a new password ends the other sessions, not this one.

use super::*;

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn the_profile_changes_display_name_freely_and_the_rest_with_the_current_password() {
    let site = site().await;
    let session = site.sign_in("alice", "alice-password").await.unwrap();
    let other = site.sign_in("alice", "alice-password").await.unwrap();
    let page = site.get("/profile", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"change-password\""));
    assert!(
        site.get("/", &session).await.body.contains("href=\"/profile\""),
        "linked from the header"
    );

    let saved = site
        .post(
            "/profile",
            "/profile",
            &session,
            "what=display_name&display_name=Alice+A.",
        )
        .await;
    assert_eq!(
        saved.location.as_deref(),
        Some("/profile?done=display_name"),
        "{}",
        saved.body
    );
    let alice = site.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(alice.display_name.as_deref(), Some("Alice A."));
    assert!(site.get("/profile", &session).await.body.contains("value=\"Alice A.\""));

    // E-mail and password: refused without the current password or with a wrong one.
    for form in [
        "what=email&email=evil%40example.org&current_password=wrong".to_owned(),
        "what=email&email=evil%40example.org".to_owned(),
        "what=password&current_password=wrong&password=new-password-1&password_confirmation=new-password-1".to_owned(),
        "what=password&password=new-password-1&password_confirmation=new-password-1".to_owned(),
    ] {
        let refused = site.post("/profile", "/profile", &session, &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{form}");
        assert!(refused.body.contains("current password is not right"), "{form}");
    }
    let differ = site
        .post(
            "/profile",
            "/profile",
            &session,
            "what=password&current_password=alice-password&password=new-password-1&password_confirmation=new-password-2",
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    let alice = site.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(alice.email, None, "nothing changed");
    assert!(site.sign_in("alice", "alice-password").await.is_ok());

    let email = format!(
        "what=email&email={}&current_password=alice-password",
        encode("alice@example.org")
    );
    let saved = site.post("/profile", "/profile", &session, &email).await;
    assert_eq!(saved.location.as_deref(), Some("/profile?done=email"), "{}", saved.body);
    let alice = site.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(alice.email.as_deref(), Some("alice@example.org"));

    // A new password: this browser goes on in a new session, the other session is over.
    let changed = site
        .post(
            "/profile",
            "/profile",
            &session,
            "what=password&current_password=alice-password&password=new-password-1&password_confirmation=new-password-1",
        )
        .await;
    assert_eq!(
        changed.location.as_deref(),
        Some("/profile?done=password"),
        "{}",
        changed.body
    );
    let renewed = format!(
        "portus_session={}",
        changed.cookie("portus_session").expect("a new session")
    );
    assert_ne!(renewed, session);
    assert_eq!(site.get("/profile", &renewed).await.status, StatusCode::OK);
    assert_eq!(site.get("/profile", &session).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        site.get("/profile", &other).await.status,
        StatusCode::SEE_OTHER,
        "other sessions end"
    );
    assert!(site.sign_in("alice", "alice-password").await.is_err());
    assert!(site.sign_in("alice", "new-password-1").await.is_ok());
}

#[tokio::test]
async fn accounts_without_a_local_password_get_no_password_or_email_form() {
    let site = site().await;
    // bob signs in as an LDAP or OpenID Connect user would be: with no local password (here
    // through an application token, which opens a session too).
    let bob = site.store.user_by_name("bob").await.unwrap().unwrap();
    site.store.set_password_hash(bob.id, None).await.unwrap();
    let secret = portus_auth::password::generate_secret(portus_auth::password::APP_TOKEN_PREFIX).unwrap();
    site.store
        .create_app_token(
            bob.id,
            "web",
            &secret.digest,
            &portus_core::model::TokenLimits::default(),
        )
        .await
        .unwrap();
    let session = site.sign_in("bob", &encode(secret.plain.expose())).await.unwrap();
    let page = site.get("/profile", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"no-local-password\""));
    assert!(!page.body.contains("id=\"change-password\"") && !page.body.contains("id=\"save-email\""));
    let refused = site
        .post(
            "/profile",
            "/profile",
            &session,
            "what=email&email=x%40example.org&current_password=",
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "the API refuses a forged form all the same"
    );
    let saved = site
        .post("/profile", "/profile", &session, "what=display_name&display_name=Bob")
        .await;
    assert_eq!(saved.location.as_deref(), Some("/profile?done=display_name"));
}
