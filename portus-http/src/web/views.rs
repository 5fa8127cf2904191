//! HTML of the pages (maud): the layout, and the pieces several pages share. Everything shown
//! comes from the REST API's JSON; maud escapes every value it interpolates.

use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::Signed;

/// Severities, most severe first, as the API names them.
pub(super) const SEVERITIES: [&str; 6] = ["Critical", "High", "Medium", "Low", "Negligible", "Unknown"];

/// Rank of a severity name (0 = most severe); unknown names rank last.
pub(super) fn severity_rank(name: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|s| s.eq_ignore_ascii_case(name))
        .unwrap_or(SEVERITIES.len())
}

/// A JSON value as display text (`""` for null).
pub(super) fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The page frame: navigation (with the search box and sign-out when signed in) and `body`.
pub(super) fn layout(title: &str, signed: Option<&Signed>, body: Markup) -> Markup {
    frame(title, signed, true, body)
}

/// The frame of a page for visitors, whose navigation offers the explore page only when
/// `explore` (`web.anonymous_browsing`): a link that would send them to sign in is left out.
pub(super) fn visitor_layout(title: &str, explore: bool, body: Markup) -> Markup {
    frame(title, None, explore, body)
}

fn frame(title: &str, signed: Option<&Signed>, explore: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Portus" }
                link rel="stylesheet" href="/assets/portus.css";
                script src="/assets/portus.js" defer {}
            }
            body {
                a.skip href="#content" { "Skip to content" }
                header.top {
                    nav aria-label="Main" {
                        a.brand href="/" { "Portus" }
                        @if let Some(signed) = signed {
                            a href="/repositories" { "Repositories" }
                            a href="/namespaces" { "Namespaces" }
                            a href="/teams" { "Teams" }
                            a href="/tokens" { "Application tokens" }
                            a href="/activities" { "Activity" }
                            a #profile-link href="/profile" { "Profile" }
                            @if signed.user.admin {
                                a href="/admin/users" { "Users" }
                            }
                            form.search role="search" method="get" action="/search" {
                                label.visually-hidden for="q" { "Search" }
                                input #q type="search" name="q" placeholder="Search namespaces, repositories, tags";
                                button type="submit" { "Search" }
                            }
                            form.inline method="post" action="/sign_out" {
                                (csrf_field(&signed.csrf))
                                span.who { (signed.user.username) }
                                button type="submit" #sign-out { "Sign out" }
                            }
                        } @else {
                            @if explore { a href="/explore" { "Explore" } }
                            a href="/sign_in" { "Sign in" }
                        }
                    }
                }
                main #content {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The page for an error answer, whose navigation offers the explore page only when `explore`
/// (`web.anonymous_browsing`), as the other visitors' pages.
pub(super) fn error_page(title: &str, message: &str, explore: bool) -> Markup {
    frame(
        title,
        None,
        explore,
        html! {
            p.error role="alert" { (message) }
            p { a href="/" { "Back to the dashboard" } }
        },
    )
}

/// The hidden CSRF field of a form.
pub(super) fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A form with one button posting `fields` to `action`.
pub(super) fn button_form(action: &str, csrf: &str, fields: &[(&str, &str)], label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(csrf))
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" class=(class) { (label) }
        }
    }
}

/// What a tag holds when it is not a plain image (`Helm chart demo 0.1.0`, `signature`, ...)
/// and a "signed" badge when a signature refers to it; nothing for an unsigned image.
pub(super) fn artifact_badges(tag: &Value) -> Markup {
    let kind = tag["kind"].as_str().unwrap_or_default();
    html! {
        @if !kind.is_empty() && kind != "image" {
            " " span.badge.kind data-kind=(kind) title=(text(&tag["artifact_type"])) { (text(&tag["kind_label"])) }
        }
        @if tag["signed"].as_bool() == Some(true) {
            " " span.badge.signed data-signed="true" { "signed" }
        }
    }
}

/// The security badge of a tag or repository: counts by severity once every backend finished;
/// "pending", "failed" and "not scanned" shown as such, never as clean.
pub(super) fn security_badge(status: &str, counts: &Value) -> Markup {
    let mut found: Vec<(&str, u64)> = SEVERITIES
        .iter()
        .filter_map(|s| {
            let count = counts
                .as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(s))
                .and_then(|(_, v)| v.as_u64())?;
            (count > 0).then_some((*s, count))
        })
        .collect();
    found.sort_by_key(|(s, _)| severity_rank(s));
    match status {
        "done" if found.is_empty() => html! { span.badge.clean data-status="clean" { "No known vulnerabilities" } },
        "done" => {
            let worst = found[0].0.to_ascii_lowercase();
            let summary: Vec<String> = found
                .iter()
                .map(|(s, n)| format!("{n} {}", s.to_ascii_lowercase()))
                .collect();
            html! {
                span class={ "badge vulnerable worst-" (worst) } data-status="vulnerable" {
                    (summary.join(" · "))
                }
            }
        }
        "failed" => html! { span.badge.failed data-status="failed" { "Scan failed" } },
        "pending" | "scanning" => html! { span.badge.pending data-status="pending" { "Scan pending" } },
        // Charts, signatures and other artifacts: scanners read images only.
        "notanimage" => html! { span.badge.unscanned data-status="not-an-image" { "Not scanned: not an image" } },
        _ => html! { span.badge.unscanned data-status="not-scanned" { "Not scanned" } },
    }
}

/// A byte count for people ("—" until the catalog sync has measured it).
pub(super) fn size(bytes: &Value) -> String {
    let Some(bytes) = bytes.as_u64() else {
        return "—".into();
    };
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// An image size for people with the exact byte count in its tooltip; for an index, each
/// platform's size below the total.
pub(super) fn image_size(total: &Value, platforms: &Value) -> Markup {
    let platforms = platforms.as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        @if let Some(bytes) = total.as_u64() {
            span.size title={ (bytes) " bytes" } data-bytes=(bytes) { (size(total)) }
            @if !platforms.is_empty() {
                ul.platforms {
                    @for p in platforms {
                        @let name = text(&p["platform"]);
                        li title={ (text(&p["size"])) " bytes" } {
                            (if name.is_empty() { "unnamed platform".to_owned() } else { name }) ": " (size(&p["size"]))
                        }
                    }
                }
            }
        } @else {
            span.size title="not measured yet" { "—" }
        }
    }
}

/// The pull command of one tag, `podman pull <host>/<reference>`, with a copy button (the
/// placeholder host when none is configured, as [`pull_commands`] explains).
pub(super) fn pull_command(host: Option<&str>, reference: &str) -> Markup {
    let command = format!("podman pull {}/{reference}", host.unwrap_or(HOST_PLACEHOLDER));
    html! {
        code.pull-command { (command) } " " (copy_button(&command, &format!("the pull command of {reference}")))
    }
}

/// A timestamp as the API gives it, shortened to the minute.
pub(super) fn when(value: &Value) -> Markup {
    let raw = text(value);
    let short = raw.get(..16).unwrap_or(&raw).replace('T', " ");
    html! { time datetime=(raw) { (short) } }
}

/// A digest shortened for tables, whole in the tooltip.
pub(super) fn digest(value: &Value) -> Markup {
    let raw = text(value);
    let short = raw.get(..19).unwrap_or(&raw).to_owned();
    html! { code title=(raw) { (short) } }
}

/// A button copying `value` to the clipboard (the script shows it; without the script the
/// text is still there to select). `what` names it for screen readers.
pub(super) fn copy_button(value: &str, what: &str) -> Markup {
    html! {
        button.copy type="button" data-copy=(value) aria-label={ "Copy " (what) } hidden { "Copy" }
    }
}

/// A digest whole, with a copy button.
pub(super) fn full_digest(value: &Value) -> Markup {
    let raw = text(value);
    html! { code.digest #digest { (raw) } " " (copy_button(&raw, "the digest")) }
}

/// What stands for the registry's host in pull commands when none is configured.
pub(super) const HOST_PLACEHOLDER: &str = "REGISTRY_HOST";

/// The `docker pull` and `podman pull` commands of `reference` (`namespace/repository[:tag]`)
/// at the registry `host`, each with a copy button; without a host, the commands with a
/// placeholder and how to configure it.
pub(super) fn pull_commands(host: Option<&str>, reference: &str) -> Markup {
    let shown_host = host.unwrap_or(HOST_PLACEHOLDER);
    html! {
        section.pull aria-labelledby="pull-heading" {
            h2 #pull-heading { "Pull" }
            @for client in ["docker", "podman"] {
                @let command = format!("{client} pull {shown_host}/{reference}");
                p.command {
                    code data-pull=(client) { (command) } " "
                    (copy_button(&command, &format!("the {client} pull command")))
                }
            }
            @if host.is_none() {
                p.hint #pull-hint {
                    "Replace " code { (HOST_PLACEHOLDER) } " with the registry's host name. An administrator can show it here by setting "
                    code { "registry.external_hostname" } " (or " code { "registry.url" } ") in portus.toml."
                }
            }
        }
    }
}

/// Links to the previous and next page of a list shown on `path`, when there are several.
pub(super) fn pager(path: &str, page: usize, pages: usize) -> Markup {
    pager_by(path, "page", "Pages", page, pages)
}

/// [`pager`] for one of several lists on a page: its page number is the query parameter
/// `param`, and `label` names the navigation.
pub(super) fn pager_by(path: &str, param: &str, label: &str, page: usize, pages: usize) -> Markup {
    // A path with a query of its own (a search) takes the page as one more parameter.
    let join = if path.contains('?') { "&" } else { "?" };
    html! {
        @if pages > 1 {
            nav.pager aria-label=(label) {
                @if page > 1 { a rel="prev" href={ (path) (join) (param) "=" (page - 1) } { "Previous" } }
                span { "Page " (page) " of " (pages) }
                @if page < pages { a rel="next" href={ (path) (join) (param) "=" (page + 1) } { "Next" } }
            }
        }
    }
}

/// A notice shown once, for example a new application token.
pub(super) fn notice(body: Markup) -> Markup {
    html! { div.notice role="status" { (body) } }
}

/// The empty-state line of a table.
pub(super) fn none(what: &str) -> Markup {
    html! { p.empty { "No " (what) " yet." } }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn badge(status: &str, counts: Value) -> String {
        security_badge(status, &counts).into_string()
    }

    #[test]
    fn only_finished_scans_without_findings_are_clean() {
        let counts = json!({"Critical": 1, "Low": 2, "High": 0});
        let vulnerable = badge("done", counts.clone());
        assert!(vulnerable.contains("1 critical · 2 low"), "{vulnerable}");
        assert!(vulnerable.contains("worst-critical") && vulnerable.contains("data-status=\"vulnerable\""));
        assert!(badge("done", json!({})).contains("data-status=\"clean\""));
        assert!(badge("done", json!({"High": 0})).contains("data-status=\"clean\""));
        // Findings of the backends that finished do not make a pending or failed tag look done.
        for (status, expected) in [
            ("pending", "Scan pending"),
            ("scanning", "Scan pending"),
            ("failed", "Scan failed"),
            ("notscanned", "Not scanned"),
            ("something-new", "Not scanned"),
        ] {
            let shown = badge(status, counts.clone());
            assert!(shown.contains(expected), "{status}: {shown}");
            assert!(
                !shown.contains("clean") && !shown.contains("No known"),
                "{status}: {shown}"
            );
        }
    }

    #[test]
    fn values_are_escaped_and_formatted() {
        assert_eq!(size(&json!(512)), "512 B");
        assert_eq!(size(&json!(3 * 1024 * 1024)), "3.0 MiB");
        assert_eq!(size(&Value::Null), "—");
        let page = layout("<script>x</script>", None, html! { (text(&json!("<b>"))) }).into_string();
        assert!(!page.contains("<script>x") && page.contains("&lt;script&gt;") && page.contains("&lt;b&gt;"));
        assert_eq!(severity_rank("critical"), 0);
        assert_eq!(severity_rank("bogus"), SEVERITIES.len());
    }
}
