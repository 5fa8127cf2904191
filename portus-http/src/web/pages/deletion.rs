//! Deleting a tag or a repository from the pages: a confirmation page first (naming the other
//! tags the registry deletes with the tag), then the deletion through the REST API, which
//! decides who may. A registry that is down or refuses deletes answers with the API's message,
//! and nothing is removed here.

use std::collections::BTreeSet;

use axum::Form;
use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use maud::html;

use super::repositories::may_delete;
use super::{Fields, array, back, field, id};
use crate::web::views::{csrf_field, text};
use crate::web::{PageError, Signed};

/// The tag page's answer: the tag with its siblings (the API's `tag` of its findings).
async fn tag_of(signed: &Signed, id: &str) -> Result<serde_json::Value, PageError> {
    let answer = signed.get(&format!("/api/v1/tags/{id}/vulnerabilities")).await?;
    Ok(answer["tag"].clone())
}

fn siblings_of(tag: &serde_json::Value) -> BTreeSet<String> {
    array(&tag["siblings"]).iter().map(text).collect()
}

/// `GET /tags/{id}/delete`: what deleting the tag takes, and the button that does it.
pub(crate) async fn confirm_tag_deletion(signed: Signed, Path(raw): Path<String>) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let tag = tag_of(&signed, id).await?;
    let reference = format!("{}:{}", text(&tag["repository"]), text(&tag["name"]));
    let siblings = siblings_of(&tag);
    let deletable = may_delete(&signed, &tag["namespace_id"]).await?;
    let listed = siblings.iter().cloned().collect::<Vec<_>>().join(",");
    let body = html! {
        @if !deletable {
            p.error role="alert" { "You may not delete tags in this namespace." }
        } @else {
            p { "The registry deletes the image " code { (text(&tag["digest"])) } " that " strong { (reference) } " points at." }
            @if !siblings.is_empty() {
                div.warning #siblings role="alert" {
                    p { "These tags point at the same image and will be deleted too:" }
                    ul { @for s in &siblings { li { code { (text(&tag["repository"])) ":" (s) } } } }
                }
            }
            form.inline.confirmed method="post" action={ "/tags/" (id) "/delete" } {
                (csrf_field(&signed.csrf))
                input type="hidden" name="siblings" value=(listed);
                button.danger type="submit" #confirm-delete {
                    @if siblings.is_empty() { "Delete " (reference) } @else { "Delete " (siblings.len() + 1) " tags" }
                }
            }
        }
        p { a href={ "/tags/" (id) } { "Cancel" } }
    };
    Ok(signed.page(&format!("Delete {reference}"), body))
}

/// `POST /tags/{id}/delete` with `siblings`, the sibling tags the user confirmed: deleted with
/// them only when they are exactly the tags sharing the image now; otherwise back to the
/// confirmation, which names the current ones.
pub(crate) async fn delete_tag(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    signed.check_csrf(&form)?;
    let tag = tag_of(&signed, id).await?;
    let siblings = siblings_of(&tag);
    let confirmed: BTreeSet<String> = field(&form, "siblings")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if confirmed != siblings {
        return Ok(back(format!("/tags/{id}/delete")));
    }
    let with_siblings = !siblings.is_empty();
    signed
        .submit(
            &form,
            Method::DELETE,
            &format!("/api/v1/tags/{id}?with_siblings={with_siblings}"),
            None,
        )
        .await?;
    Ok(back(match tag["repository_id"].as_i64() {
        Some(repository) => format!("/repositories/{repository}"),
        None => "/".to_owned(),
    }))
}

/// `GET /repositories/{id}/delete`: the confirmation of a repository's deletion.
pub(crate) async fn confirm_repository_deletion(
    signed: Signed,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let repository = signed.get(&format!("/api/v1/repositories/{id}")).await?;
    let name = text(&repository["name"]);
    let deletable = may_delete(&signed, &repository["namespace_id"]).await?;
    let body = html! {
        @if !deletable {
            p.error role="alert" { "You may not delete repositories in this namespace." }
        } @else {
            div.warning role="alert" {
                p { "The registry deletes every image of " strong { (name) } " (" (text(&repository["tags_count"])) " tags); its comments and stars go too." }
            }
            form.inline.confirmed method="post" action={ "/repositories/" (id) "/delete" } {
                (csrf_field(&signed.csrf))
                button.danger type="submit" #confirm-delete { "Delete " (name) }
            }
        }
        p { a href={ "/repositories/" (id) } { "Cancel" } }
    };
    Ok(signed.page(&format!("Delete {name}"), body))
}

/// `POST /repositories/{id}/delete`.
pub(crate) async fn delete_repository(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    signed.check_csrf(&form)?;
    let repository = signed.get(&format!("/api/v1/repositories/{id}")).await?;
    signed
        .submit(&form, Method::DELETE, &format!("/api/v1/repositories/{id}"), None)
        .await?;
    Ok(back(format!("/namespaces/{}", repository["namespace_id"])))
}
