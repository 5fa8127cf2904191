//! Repositories and tags, with their security findings.

use super::Fields;
use super::array;
use super::back;
use super::dashboard::repository_badge;
use super::field;
use super::id;
use super::page_number;
use super::page_number_of;
use crate::web::PageError;
use crate::web::Signed;
use crate::web::views::artifact_badges;
use crate::web::views::button_form;
use crate::web::views::csrf_field;
use crate::web::views::digest;
use crate::web::views::full_digest;
use crate::web::views::image_size;
use crate::web::views::none;
use crate::web::views::pager;
use crate::web::views::pager_by;
use crate::web::views::pull_command;
use crate::web::views::pull_commands;
use crate::web::views::security_badge;
use crate::web::views::severity_rank;
use crate::web::views::text;
use crate::web::views::when;
use axum::Form;
use axum::extract::Path;
use axum::extract::Query;
use axum::http::Method;
use axum::response::Response;
use maud::PreEscaped;
use maud::html;
use serde_json::Value;

/// `GET /repositories/{id}`: description, tags with digest, size, pusher, time and security
/// badge, and the comments.
pub(crate) async fn repository(
    signed: Signed,
    Path(raw): Path<String>,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let page = page_number(&query);
    let repository = signed.get(&format!("/api/v1/repositories/{id}")).await?;
    let (tags, pages) = signed.list(&format!("/api/v1/repositories/{id}/tags"), page).await?;
    let comments_page = page_number_of(&query, "comments");
    let (comments, comments_pages) = signed
        .list(&format!("/api/v1/repositories/{id}/comments"), comments_page)
        .await?;
    let starred = repository["starred"].as_bool() == Some(true);
    let permissions = namespace_permissions(&signed, &repository["namespace_id"]).await?;
    let deletable = permissions["delete"].as_bool() == Some(true);
    let describable = permissions["manage"].as_bool() == Some(true);
    let body = html! {
        div.toolbar {
            span #stars { (text(&repository["stars"])) " ★" }
            (button_form(
                &format!("/repositories/{id}/star"),
                &signed.csrf,
                &[("starred", if starred { "false" } else { "true" })],
                if starred { "Unstar" } else { "Star" },
                "star",
            ))
            a href={ "/namespaces/" (repository["namespace_id"]) } { "Namespace" }
            @if deletable {
                a.button href={ "/repositories/" (id) "/delete" } #delete-repository { "Delete this repository…" }
            }
        }
        @if let Some(description) = repository["description"].as_str() {
            // Markdown shown as text: escaped, so a description can hold no markup.
            p.description { (description) }
        }
        p { "Security: " (repository_badge(&repository)) }
        @let example = array(&tags).first().map(|t| format!("{}:{}", text(&repository["name"]), text(&t["name"])));
        (pull_commands(signed.registry_host.as_deref(), &example.unwrap_or_else(|| text(&repository["name"]))))
        @if array(&tags).is_empty() { (none("tags")) }
        @else {
            table #tags {
                thead {
                    tr {
                        th { "Tag" } th { "Digest" } th { "Size" } th { "Pushed by" } th { "Pushed at" }
                        th { "Last pull" } th { "Pulls" } th { "Pull command" } th { "Vulnerabilities" }
                    }
                }
                tbody {
                    @for t in array(&tags) {
                        tr data-tag=(text(&t["name"])) {
                            td { a href={ "/tags/" (t["id"]) } { (text(&t["name"])) } (artifact_badges(t)) }
                            td { (digest(&t["digest"])) }
                            td.size { (image_size(&t["size"], &t["platforms"])) }
                            td { (text(&t["pushed_by"])) }
                            td { (when(&t["updated_at"])) }
                            td.pulled-at { @if t["pulled_at"].is_null() { "never" } @else { (when(&t["pulled_at"])) } }
                            td.pull-count { (t["pull_count"].as_u64().unwrap_or(0)) }
                            td.pull { (pull_command(signed.registry_host.as_deref(), &format!("{}:{}", text(&repository["name"]), text(&t["name"])))) }
                            td { (security_badge(t["scan"]["status"].as_str().unwrap_or_default(), &t["scan"]["counts"])) }
                        }
                    }
                }
            }
        }
        (pager(&format!("/repositories/{id}"), page, pages))
        @if describable {
            form.card method="post" action={ "/repositories/" (id) } {
                h2 { "Description" }
                (csrf_field(&signed.csrf))
                label for="repo-description" { "Description" }
                input #repo-description name="description" value=(text(&repository["description"]));
                button type="submit" #save-description { "Save" }
            }
        }
        section #comments {
            h2 { "Comments" }
            @if array(&comments).is_empty() { (none("comments")) }
            @for c in array(&comments) {
                article.comment {
                    p.meta { (text(&c["author"])) " · " (when(&c["created_at"])) }
                    // The sanitizer's output (see `crate::markdown`), the only HTML taken as is.
                    div.body.markdown { (PreEscaped(c["body_html"].as_str().unwrap_or_default())) }
                    // Shown where the API allows it: the author's own, and everyone's to administrators.
                    @if signed.user.admin || c["author"].as_str() == Some(signed.user.username.as_str()) {
                        (button_form(
                            &format!("/repositories/{id}/comments/{}/delete", c["id"]),
                            &signed.csrf,
                            &[],
                            "Delete comment",
                            "delete-comment",
                        ))
                    }
                }
            }
            (pager_by(&format!("/repositories/{id}"), "comments", "Pages of comments", comments_page, comments_pages))
            form.card #new-comment method="post" action={ "/repositories/" (id) "/comments" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                label for="comment-body" { "Add a comment (Markdown)" }
                textarea #comment-body name="body" rows="4" maxlength="16384" required {}
                button type="submit" { "Comment" }
            }
        }
    };
    Ok(signed.page(&format!("Repository {}", text(&repository["name"])), body))
}

/// `POST /repositories/{id}/star` with `starred=true|false`.
pub(crate) async fn star(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let method = if field(&form, "starred") == "false" {
        Method::DELETE
    } else {
        Method::PUT
    };
    signed
        .submit(&form, method, &format!("/api/v1/repositories/{id}/star"), None)
        .await?;
    Ok(back(format!("/repositories/{id}")))
}

/// `POST /repositories/{id}/comments` with `body`.
pub(crate) async fn add_comment(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let body = serde_json::json!({ "body": field(&form, "body") });
    signed
        .submit(
            &form,
            Method::POST,
            &format!("/api/v1/repositories/{id}/comments"),
            Some(body),
        )
        .await?;
    Ok(back(format!("/repositories/{id}#comments")))
}

/// `POST /repositories/{id}/comments/{comment_id}/delete`.
pub(crate) async fn delete_comment(
    signed: Signed,
    Path((raw, comment)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let (id, comment) = (id(&raw)?, id(&comment)?);
    signed
        .submit(
            &form,
            Method::DELETE,
            &format!("/api/v1/repositories/{id}/comments/{comment}"),
            None,
        )
        .await?;
    Ok(back(format!("/repositories/{id}#comments")))
}

/// How the tag page orders findings (`?sort=`).
fn sort_findings(findings: &mut [Value], sort: &str) {
    let package = |v: &Value| text(&v["packages"][0][0]);
    match sort {
        "severity_asc" => findings.sort_by_key(|v| std::cmp::Reverse(severity_rank(&text(&v["severity"])))),
        "id" => findings.sort_by_key(|v| text(&v["id"])),
        "package" => findings.sort_by_key(package),
        _ => findings.sort_by_key(|v| severity_rank(&text(&v["severity"]))),
    }
}

/// Whether the signed-in user may delete images in the namespace `id`: the API's own answer
/// (`permissions.delete`); the API refuses a deletion anyway when not.
pub(super) async fn may_delete(signed: &Signed, namespace_id: &Value) -> Result<bool, PageError> {
    Ok(namespace_permissions(signed, namespace_id).await?["delete"].as_bool() == Some(true))
}

/// What the user may do in the namespace `namespace_id` (the API's `permissions`; nothing
/// without a namespace).
async fn namespace_permissions(signed: &Signed, namespace_id: &Value) -> Result<Value, PageError> {
    let Some(id) = namespace_id.as_i64() else {
        return Ok(Value::Null);
    };
    let namespace = signed.get(&format!("/api/v1/namespaces/{id}")).await?;
    Ok(namespace["permissions"].clone())
}

/// `POST /repositories/{id}`: saves the description.
pub(crate) async fn update_repository(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    signed
        .submit(
            &form,
            Method::PUT,
            &format!("/api/v1/repositories/{id}"),
            Some(serde_json::json!({"description": field(&form, "description")})),
        )
        .await?;
    Ok(back(format!("/repositories/{id}")))
}

/// `GET /tags/{id}`: the tag's facts (digest, size, pusher, push time), its pull commands,
/// each scanner's state and time, and the findings merged across scanners, sortable.
pub(crate) async fn tag(
    signed: Signed,
    Path(raw): Path<String>,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let shown = signed.get(&format!("/api/v1/tags/{id}")).await?;
    let answer = signed.get(&format!("/api/v1/tags/{id}/vulnerabilities")).await?;
    let (tag, security) = (&answer["tag"], &answer["security"]);
    let deletable = may_delete(&signed, &tag["namespace_id"]).await?;
    let sort = field(&query, "sort");
    let mut findings = array(&security["vulnerabilities"]).to_vec();
    sort_findings(&mut findings, sort);
    let severity_order = if sort.is_empty() || sort == "severity" {
        "severity_asc"
    } else {
        "severity"
    };
    let backends = security["backends"].as_object().cloned().unwrap_or_default();
    let reference = format!("{}:{}", text(&tag["repository"]), text(&tag["name"]));
    let body = html! {
        dl.facts #facts {
            dt { "Repository" }
            dd { a href={ "/repositories/" (tag["repository_id"]) } { (text(&tag["repository"])) } }
            dt { "Digest" } dd { (full_digest(&tag["digest"])) }
            // Measured from the registry's manifests when the push or a sync is applied (a
            // Portus import brings its own); unknown while the registry could not be read.
            dt { "Size" } dd #size {
                @if shown["size"].is_null() { "not known yet" }
                @else { (image_size(&shown["size"], &shown["platforms"])) }
            }
            dt { "Kind" } dd #kind {
                @if shown["kind_label"].is_null() { "not known yet" } @else { (text(&shown["kind_label"])) }
                @if shown["signed"].as_bool() == Some(true) { " " span.badge.signed data-signed="true" { "signed" } }
                @if !shown["subject"].is_null() { " of " (full_digest(&shown["subject"])) }
            }
            dt { "Pushed by" } dd #pushed-by { @if shown["pushed_by"].is_null() { "unknown" } @else { (text(&shown["pushed_by"])) } }
            dt { "Pushed at" } dd #pushed-at { (when(&shown["updated_at"])) }
            dt { "Last pull" } dd #pulled-at { @if shown["pulled_at"].is_null() { "never" } @else { (when(&shown["pulled_at"])) } }
            dt { "Pulls" } dd #pull-count { (shown["pull_count"].as_u64().unwrap_or(0)) }
            dt { "Security" } dd { (security_badge(security["status"].as_str().unwrap_or_default(), &security["counts"])) }
        }
        (pull_commands(signed.registry_host.as_deref(), &reference))
        @if deletable {
            p { a.button.danger-link href={ "/tags/" (id) "/delete" } #delete-tag { "Delete this tag…" } }
        }
        h2 { "Scanners" }
        ul #backends {
            @for (name, state) in &backends {
                li {
                    strong { (name) } ": " (text(state))
                    @if !security["scanned_at"][name].is_null() { " · " (when(&security["scanned_at"][name])) }
                }
            }
            @if backends.is_empty() { li { "No scanner is configured." } }
        }
        h2 { "Vulnerabilities" }
        @if findings.is_empty() {
            p.empty { "No vulnerabilities reported by the scanners that finished." }
        } @else {
            (findings_table(&findings, sort, severity_order))
        }
    };
    Ok(signed.page(&reference, body))
}

fn findings_table(findings: &[Value], sort: &str, severity_order: &str) -> maud::Markup {
    html! {
            table #vulnerabilities {
                thead {
                    tr {
                        th { a href={ "?sort=id" } { "Identifier" } }
                        th aria-sort=(aria_sort(sort)) { a href={ "?sort=" (severity_order) } #sort-severity { "Severity" } }
                        th { a href={ "?sort=package" } { "Package" } }
                        th { "Fixed in" }
                        th { "Found by" }
                        th { "Links" }
                    }
                }
                tbody {
                    @for v in findings {
                        tr {
                            td { (text(&v["id"])) }
                            td { span class={ "sev sev-" (text(&v["severity"]).to_ascii_lowercase()) } { (text(&v["severity"])) } }
                            td {
                                @for p in array(&v["packages"]) {
                                    div { (text(&p[0])) @if !p[1].is_null() { " " (text(&p[1])) } }
                                }
                            }
                            td { @for f in array(&v["fixed_in"]) { div { (text(f)) } } }
                            td { (array(&v["found_by"]).iter().map(text).collect::<Vec<_>>().join(", ")) }
                            td {
                                @for l in array(&v["links"]) {
                                    @let link = text(l);
                                    @if link.starts_with("https://") || link.starts_with("http://") {
                                        div { a href=(link) rel="noopener noreferrer" { (link) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
    }
}

fn aria_sort(sort: &str) -> &'static str {
    match sort {
        "" | "severity" => "descending",
        "severity_asc" => "ascending",
        _ => "none",
    }
}
