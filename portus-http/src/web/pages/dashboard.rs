//! The dashboard and search.

use super::Fields;
use super::array;
use super::encode;
use super::field;
use super::page_number;
use crate::web::PageError;
use crate::web::Signed;
use crate::web::views::HOST_PLACEHOLDER;
use crate::web::views::none;
use crate::web::views::pager;
use crate::web::views::security_badge;
use crate::web::views::text;
use crate::web::views::when;
use axum::extract::Query;
use axum::response::Response;
use maud::Markup;
use maud::html;
use serde_json::Value;

/// How long the dashboard waits for the health check of the scanners.
const HEALTH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// A list of search hits linking to `path` + id; tags show their repository.
fn hit_links(hits: &Value, path: &str, tags: bool) -> Markup {
    html! {
        ul.hits {
            @for h in array(hits) {
                li {
                    a href={ (path) (h["id"]) } {
                        @if tags { (text(&h["repository"])) ":" } (text(&h["name"]))
                    }
                }
            }
        }
    }
}

pub(super) fn repository_rows(repositories: &[Value]) -> Markup {
    html! {
        table {
            thead { tr { th { "Repository" } th { "Tags" } th { "Stars" } th { "Security" } } }
            tbody {
                @for r in repositories {
                    tr {
                        td { a href={ "/repositories/" (r["id"]) } { (text(&r["name"])) } }
                        td { (text(&r["tags_count"])) }
                        td { (text(&r["stars"])) }
                        td { (repository_badge(r)) }
                    }
                }
            }
        }
    }
}

/// A repository's badge: its merged counts when every tag finished, else its overall state.
pub(super) fn repository_badge(repository: &Value) -> Markup {
    let security = &repository["security"];
    security_badge(security["status"].as_str().unwrap_or_default(), &security["counts"])
}

/// Where an activity's target is shown, when the API linked it (it exists and the user may
/// see it); `None` shows it as plain text.
fn activity_href(link: &Value) -> Option<String> {
    let id = link["id"].as_i64()?;
    Some(match link["kind"].as_str()? {
        "tag" => format!("/tags/{id}"),
        "repository" => format!("/repositories/{id}"),
        "namespace" => format!("/namespaces/{id}"),
        "team" => format!("/teams/{id}"),
        "user" => format!("/admin/users#user-{id}"),
        _ => return None,
    })
}

/// Rows of the activity log, each target linked to its object when it still exists.
pub(super) fn activity_rows(activities: &[Value]) -> Markup {
    html! {
        table #activities {
            thead { tr { th { "When" } th { "Who" } th { "What" } th { "On" } } }
            tbody {
                @for a in activities {
                    tr {
                        td { (when(&a["at"])) }
                        td { (text(&a["actor"])) }
                        td { (text(&a["action"])) }
                        td {
                            @match activity_href(&a["link"]) {
                                Some(href) => a href=(href) { (text(&a["target"])) },
                                None => (text(&a["target"])),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /`: recent activity and starred repositories; for a new installation, what to do
/// first (create a namespace, connect the registry and push); for administrators, each
/// security scanner's health with the age of its vulnerability data (or that it has none).
pub(crate) async fn dashboard(signed: Signed) -> Result<Response, PageError> {
    let activities = signed.get("/api/v1/activities?per_page=20").await?;
    let stars = signed.get("/api/v1/stars").await?;
    let (repositories, _) = signed.list("/api/v1/repositories", 1).await?;
    let namespaces = signed.get("/api/v1/namespaces?per_page=100").await?;
    // Administrators see whether each scanner works and how old its vulnerability data is.
    // A scanner that hangs must not hold the page: its check gets a few seconds here.
    let scanners: Option<Vec<(String, Value)>> = if signed.user.admin {
        match tokio::time::timeout(HEALTH_PATIENCE, signed.health()).await {
            Ok(health) => Some(
                health?
                    .as_object()
                    .map(|components| {
                        components
                            .iter()
                            .filter_map(|(name, c)| Some((name.strip_prefix("scanner:")?.to_owned(), c.clone())))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Err(_) => None,
        }
    } else {
        Some(Vec::new())
    };
    let no_images = array(&repositories).is_empty();
    // Personal namespaces and the global one exist from the start: a team's namespace is the
    // first one somebody makes.
    let no_namespaces = !array(&namespaces)
        .iter()
        .any(|n| n["personal"] != true && n["global"] != true);
    let body = html! {
        @if no_namespaces || no_images {
            (onboarding(&signed, no_namespaces, no_images))
        }
        section aria-labelledby="starred" {
            h2 #starred { "Starred repositories" }
            @if array(&stars).is_empty() { (none("starred repositories")) }
            @else { (repository_rows(array(&stars))) }
        }
        section aria-labelledby="activity" {
            h2 #activity { "Recent activity" }
            @if array(&activities).is_empty() { (none("activity")) }
            @else { (activity_rows(array(&activities))) }
        }
        @match &scanners {
            Some(scanners) if scanners.is_empty() => {}
            Some(scanners) => section aria-labelledby="scanners" {
                h2 #scanners { "Security scanners" }
                ul #scanner-health {
                    @for (name, component) in scanners {
                        @let healthy = component["success"] == true;
                        li data-healthy=(healthy) {
                            strong { (name) } ": " @if !healthy { "not working — " } (text(&component["msg"]))
                        }
                    }
                }
            },
            None => section aria-labelledby="scanners" {
                h2 #scanners { "Security scanners" }
                p #scanner-health { "The health check gave no answer within " (HEALTH_PATIENCE.as_secs()) " s." }
            },
        }
    };
    Ok(signed.page("Dashboard", body))
}

/// The first steps of a new installation: a namespace to push into, then the registry.
fn onboarding(signed: &Signed, no_namespaces: bool, no_images: bool) -> Markup {
    let host = signed.registry_host.as_deref().unwrap_or(HOST_PLACEHOLDER);
    html! {
        section.card #getting-started aria-labelledby="getting-started-heading" {
            h2 #getting-started-heading { "Getting started" }
            ol {
                @if no_namespaces {
                    li #step-namespace {
                        strong { "Create a namespace." } " Images live in namespaces, and namespaces belong to teams: "
                        a href="/teams" { "create a team" } ", then "
                        a href="/namespaces" { "a namespace" } " for it. Everyone can also push to their personal namespace ("
                        code { (signed.user.username) } ")."
                    }
                }
                @if no_images {
                    li #step-registry {
                        strong { "Connect the registry." }
                        @if signed.user.admin {
                            " Run " code { "portus config registry" } " and add its " code { "auth" } " and "
                            code { "notifications" } " sections to the registry's " code { "config.yml" } ", set "
                            code { "registry.url" } " (and " code { "registry.external_hostname" } " if users reach the registry by another name) in "
                            code { "portus.toml" } ", then restart both. Pushes then show up here."
                        } @else {
                            " No image has been pushed yet. An administrator connects the registry; then push one:"
                        }
                    }
                    li #step-push {
                        strong { "Push an image." }
                        pre { code {
                            "docker login " (host) "\n"
                            "docker tag IMAGE " (host) "/" (signed.user.username) "/IMAGE:TAG\n"
                            "docker push " (host) "/" (signed.user.username) "/IMAGE:TAG"
                        } }
                        @if signed.registry_host.is_none() {
                            p.hint { "Replace " code { (HOST_PLACEHOLDER) } " with the registry's host name." }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /search?q=`: namespaces, repositories and tags the user may see.
pub(crate) async fn search(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
    let q = field(&query, "q");
    if q.is_empty() {
        return Ok(signed.page("Search", html! { p { "Type a name into the search box." } }));
    }
    let page = page_number(&query);
    let (hits, pages) = signed.list(&format!("/api/v1/search?q={}", encode(q)), page).await?;
    let totals = &hits["totals"];
    let sections = [
        (
            "namespaces",
            "Namespaces",
            hit_links(&hits["namespaces"], "/namespaces/", false),
        ),
        (
            "repositories",
            "Repositories",
            hit_links(&hits["repositories"], "/repositories/", false),
        ),
        ("tags", "Tags", hit_links(&hits["tags"], "/tags/", true)),
    ];
    let any = sections
        .iter()
        .any(|(kind, _, _)| !array(&hits[*kind]).is_empty() || totals[*kind].as_u64().is_some_and(|n| n > 0));
    let body = html! {
        @if !any {
            p.empty #no-hits { "Nothing matched «" (q) "»." }
        } @else {
            p {
                "Results for " strong { (q) } ": "
                (totals["namespaces"]) " namespaces, " (totals["repositories"]) " repositories, "
                (totals["tags"]) " tags"
            }
        }
        @for (kind, heading, links) in &sections {
            // Only the kinds with hits get a heading.
            @if !array(&hits[*kind]).is_empty() {
                section aria-labelledby={ "hits-" (kind) } {
                    h2 id={ "hits-" (kind) } { (heading) }
                    (links)
                }
            }
        }
        (pager(&format!("/search?q={}", encode(q)), page, pages))
    };
    Ok(signed.page("Search", body))
}
