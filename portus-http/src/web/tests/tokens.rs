//! The tokens page makes scoped, expiring tokens and shows their limits.

use super::*;

#[tokio::test]
async fn the_tokens_page_makes_a_scoped_expiring_token_and_shows_its_limits() {
    let site = site().await;
    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let form = "application=ci&scopes=devs%2F*%3Apull%0D%0Adevs%2Fapp%3Apush&expires_in_days=30";
    let created = site.post("/tokens", "/tokens", &alice, form).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let owner = site.store.user_by_name("alice").await.unwrap().unwrap();
    let token = site.store.list_app_tokens(owner.id).await.unwrap().pop().unwrap();
    let scope = token.limits.scope.expect("scoped");
    assert_eq!(scope.rules(), ["devs/*:pull", "devs/app:push"]);
    let days = (token.limits.expires_at.unwrap() - portus_core::model::now()).num_days();
    assert!((29..=30).contains(&days), "{days}");
    let listed = site.get("/tokens", &alice).await;
    assert!(listed.body.contains("<code>devs/*:pull</code>"), "{}", listed.body);

    // Refused input makes no token and says why.
    for bad in ["application=x&scopes=devs%2F*", "application=y&expires_in_days=0"] {
        let refused = site.post("/tokens", "/tokens", &alice, bad).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}: {}", refused.body);
    }
    assert_eq!(site.store.list_app_tokens(owner.id).await.unwrap().len(), 1);
}
