//! A namespace's outgoing webhooks: the list with the form that creates one (its signing secret
//! shown once, on the answer to that form), and each webhook's page with its settings, its
//! delivery log and the buttons that enable, disable, delete and re-send. Every change goes
//! through the REST API, which decides who may.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Fields, array, back, field, id, page_number};
use crate::web::views::{button_form, csrf_field, none, notice, pager, text, when};
use crate::web::{PageError, Signed};

/// The events a webhook may ask for, with what each means.
const EVENTS: [(&str, &str); 5] = [
    ("push", "an image is pushed"),
    ("delete", "an image or tag is deleted"),
    ("scan_completed", "a scan finished"),
    ("scan_failed", "a scan failed"),
    (
        "vulnerability_found",
        "a scan found a vulnerability at or above the severity",
    ),
];

const SEVERITIES: [&str; 5] = ["negligible", "low", "medium", "high", "critical"];

fn webhooks_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/webhooks")
}

/// The settings a form sets, as the API's create or update body. On update (`creating` false)
/// empty credential fields leave the stored ones, and the headers are replaced only when the
/// form says so, since their values are never shown to be edited.
fn settings_of(form: &Fields, creating: bool) -> Result<Value, PageError> {
    let mut body = json!({
        "name": field(form, "name"),
        "url": field(form, "url"),
        "method": field(form, "method"),
        "content_type": field(form, "content_type"),
        "events": EVENTS.iter().filter(|(e, _)| form.contains_key(&format!("event_{e}"))).map(|(e, _)| *e).collect::<Vec<_>>(),
        "min_severity": field(form, "min_severity"),
        "enabled": form.contains_key("enabled"),
    });
    let username = field(form, "username");
    if creating || !username.is_empty() || form.contains_key("remove_credentials") {
        let removing = form.contains_key("remove_credentials");
        body["username"] = json!(if removing { "" } else { username });
        if !removing && !field(form, "password").is_empty() {
            body["password"] = json!(field(form, "password"));
        }
    }
    if creating || form.contains_key("replace_headers") {
        body["headers"] = json!(headers_of(field(form, "headers"))?);
    }
    Ok(body)
}

/// `Name: value` lines as a header map; a line without a colon is refused, not dropped.
fn headers_of(lines: &str) -> Result<BTreeMap<String, String>, PageError> {
    lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_owned(), value.trim().to_owned())),
            _ => Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "Give each custom header on its own line as Name: value.",
            )),
        })
        .collect()
}

/// The fields of a webhook's settings, filled from `webhook` (the API's view) when editing.
fn settings_fields(webhook: Option<&Value>) -> Markup {
    let current = |key: &str| webhook.map(|w| text(&w[key])).unwrap_or_default();
    let wants = |event: &str| {
        webhook.map_or(event == "push", |w| {
            array(&w["events"]).iter().any(|e| e.as_str() == Some(event))
        })
    };
    let severity = webhook.map_or_else(|| "high".to_owned(), |w| text(&w["min_severity"]));
    let method = webhook.map_or_else(|| "POST".to_owned(), |w| text(&w["method"]));
    let form_body = webhook.is_some_and(|w| w["content_type"].as_str() != Some("application/json"));
    html! {
        label for="wh-name" { "Name" }
        input #wh-name name="name" required value=(current("name"));
        label for="wh-url" { "URL (http:// or https://)" }
        input #wh-url name="url" type="url" required value=(current("url"));
        label for="wh-method" { "Method" }
        select #wh-method name="method" {
            @for m in ["POST", "GET"] { option value=(m) selected[method == m] { (m) } }
        }
        label for="wh-content-type" { "Body" }
        select #wh-content-type name="content_type" {
            option value="json" selected[!form_body] { "JSON" }
            option value="form" selected[form_body] { "Form (application/x-www-form-urlencoded)" }
        }
        fieldset {
            legend { "Events" }
            @for (event, meaning) in EVENTS {
                label.check {
                    input type="checkbox" name={ "event_" (event) } checked[wants(event)];
                    " " code { (event) } ": " (meaning)
                }
            }
        }
        label for="wh-severity" { "Least severity of vulnerability_found" }
        select #wh-severity name="min_severity" {
            @for s in SEVERITIES { option value=(s) selected[severity == s] { (s) } }
        }
        label.check {
            input type="checkbox" name="enabled" checked[webhook.is_none_or(|w| w["enabled"].as_bool() == Some(true))];
            " Enabled"
        }
        label for="wh-username" { "HTTP Basic user name (optional)" }
        input #wh-username name="username" autocomplete="off";
        label for="wh-password" { "HTTP Basic password" }
        input #wh-password name="password" type="password" autocomplete="new-password";
        @if webhook.is_some_and(|w| w["has_credentials"].as_bool() == Some(true)) {
            label.check { input type="checkbox" name="remove_credentials"; " Send no credentials any more" }
        }
        label for="wh-headers" { "Custom headers, one Name: value per line" }
        textarea #wh-headers name="headers" rows="2" {}
        @if webhook.is_some() {
            label.check { input type="checkbox" name="replace_headers"; " Replace the custom headers with these" }
        }
    }
}

/// Page `page` of the webhooks of namespace `id`, with the webhook just `created` (and its
/// secret).
async fn webhooks_page(signed: &Signed, id: &str, page: usize, created: Option<&Value>) -> Result<Response, PageError> {
    let namespace = signed.get(&format!("/api/v1/namespaces/{id}")).await?;
    let (webhooks, pages) = signed.list(&webhooks_path(id), page).await?;
    let name = text(&namespace["name"]);
    let body = html! {
        p { a href={ "/namespaces/" (id) } { "Back to " (name) } }
        @if let Some(created) = created {
            (notice(html! {
                p { "Webhook " strong { (text(&created["name"])) } " created. Its signing secret — copy it now, it is shown only once:" }
                p { code #webhook-secret { (text(&created["secret"])) } }
                p { "Each delivery carries " code { "X-Portus-Signature-256: sha256=<HMAC-SHA256 of the body with this secret>" } "." }
            }))
        }
        @if array(&webhooks).is_empty() { (none("webhooks")) }
        @else {
            table #webhooks {
                thead { tr { th { "Name" } th { "URL" } th { "Events" } th { "State" } } }
                tbody {
                    @for w in array(&webhooks) {
                        tr {
                            td { a href={ "/namespaces/" (id) "/webhooks/" (w["id"]) } { (text(&w["name"])) } }
                            td { code { (text(&w["url"])) } }
                            td { @for e in array(&w["events"]) { code { (text(e)) } " " } }
                            td { @if w["enabled"].as_bool() == Some(true) { "enabled" } @else { "disabled" } }
                        }
                    }
                }
            }
        }
        (pager(&format!("/namespaces/{id}/webhooks"), page, pages))
        @if namespace["permissions"]["create_webhook"].as_bool() == Some(true) {
            form.card method="post" action={ "/namespaces/" (id) "/webhooks" } {
                h2 { "New webhook" }
                (csrf_field(&signed.csrf))
                (settings_fields(None))
                button #create-webhook type="submit" { "Create webhook" }
            }
        }
    };
    Ok(signed.page(&format!("Webhooks of {name}"), body))
}

/// `GET /namespaces/{id}/webhooks` (`?page=` for the next ones).
pub(crate) async fn webhooks(
    signed: Signed,
    Path(raw): Path<String>,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    webhooks_page(&signed, id(&raw)?, page_number(&query), None).await
}

/// `POST /namespaces/{id}/webhooks`: answers with the page showing the new webhook's secret
/// once (no redirect, so the secret is in no URL and no later page).
pub(crate) async fn create_webhook(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let body = settings_of(&form, true)?;
    let created = signed
        .submit(&form, Method::POST, &webhooks_path(id), Some(body))
        .await?;
    webhooks_page(&signed, id, 1, Some(&created)).await
}

/// One delivery of the log: its state, and what was sent and answered behind a disclosure.
fn delivery_row(signed: &Signed, base: &str, delivery: &Value, may_resend: bool) -> Markup {
    let attempt = &delivery["last_attempt"];
    html! {
        tr {
            td { (when(&delivery["created_at"])) }
            td { code { (text(&delivery["event"])) } }
            td.state { (text(&delivery["state"])) }
            td { (text(&delivery["attempts"])) }
            td { @if attempt["status"].is_null() { "—" } @else { (text(&attempt["status"])) } }
            td { @if attempt.is_null() { "—" } @else { (text(&attempt["duration_ms"])) " ms" } }
            td {
                details {
                    summary { "Details" }
                    @if let Some(error) = attempt["error"].as_str() { p.error { (error) } }
                    h3 { "Request headers" } pre { (text(&attempt["request_headers"])) }
                    h3 { "Body sent" } pre { (text(&delivery["body"])) }
                    h3 { "Response headers" } pre { (text(&attempt["response_headers"])) }
                    h3 { "Response body" } pre { (text(&attempt["response_body"])) }
                }
            }
            td {
                @if may_resend {
                    (button_form(&format!("{base}/deliveries/{}/resend", delivery["id"]), &signed.csrf, &[], "Re-send", ""))
                }
            }
        }
    }
}

/// `GET /namespaces/{id}/webhooks/{webhook_id}`: the settings (never a secret), the buttons,
/// and the delivery log, newest first.
pub(crate) async fn webhook(
    signed: Signed,
    Path((raw, raw_webhook)): Path<(String, String)>,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    webhook_page(&signed, id(&raw)?, id(&raw_webhook)?, page_number(&query), None).await
}

/// `POST /namespaces/{id}/webhooks/{webhook_id}/secret`: answers with the webhook's page
/// showing the new secret once (no redirect, as on creation).
pub(crate) async fn rotate_webhook_secret(
    signed: Signed,
    Path((raw, raw_webhook)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let (id, webhook_id) = (id(&raw)?, id(&raw_webhook)?);
    let rotated = signed
        .submit(
            &form,
            Method::POST,
            &format!("{}/{webhook_id}/secret", webhooks_path(id)),
            None,
        )
        .await?;
    webhook_page(&signed, id, webhook_id, 1, Some(&text(&rotated["secret"]))).await
}

/// The page of webhook `webhook_id` of namespace `id` with page `page` of its delivery log, and
/// its `new_secret` when just made.
async fn webhook_page(
    signed: &Signed,
    id: &str,
    webhook_id: &str,
    page: usize,
    new_secret: Option<&str>,
) -> Result<Response, PageError> {
    let namespace = signed.get(&format!("/api/v1/namespaces/{id}")).await?;
    let api = format!("{}/{webhook_id}", webhooks_path(id));
    let webhook = signed.get(&api).await?;
    let (deliveries, pages) = signed.list(&format!("{api}/deliveries"), page).await?;
    let may_manage = namespace["permissions"]["manage_webhook"].as_bool() == Some(true);
    let may_delete = namespace["permissions"]["create_webhook"].as_bool() == Some(true);
    let base = format!("/namespaces/{id}/webhooks/{webhook_id}");
    let enabled = webhook["enabled"].as_bool() == Some(true);
    let body = html! {
        p { a href={ "/namespaces/" (id) "/webhooks" } { "All webhooks of " (text(&namespace["name"])) } }
        @if let Some(secret) = new_secret {
            (notice(html! {
                p { "The new signing secret — copy it now, it is shown only once:" }
                p { code #webhook-secret { (secret) } }
            }))
        }
        p.meta #webhook-state {
            @if enabled { "Enabled" } @else { "Disabled" }
            " · " (text(&webhook["method"])) " " code { (text(&webhook["url"])) }
            " · " (text(&webhook["content_type"]))
            @if webhook["has_credentials"].as_bool() == Some(true) { " · sends HTTP Basic credentials" }
            @if !array(&webhook["headers"]).is_empty() {
                " · custom headers: " @for h in array(&webhook["headers"]) { code { (text(h)) } " " }
            }
        }
        @if may_manage {
            (button_form(&format!("{base}/toggle"), &signed.csrf, &[("enabled", if enabled { "false" } else { "true" })],
                if enabled { "Disable" } else { "Enable" }, ""))
            " "
            (button_form(&format!("{base}/secret"), &signed.csrf, &[], "New signing secret", ""))
        }
        h2 { "Deliveries" }
        @if array(&deliveries).is_empty() { (none("deliveries")) }
        @else {
            table #deliveries {
                thead { tr { th { "Queued" } th { "Event" } th { "State" } th { "Attempts" } th { "Status" } th { "Duration" } th { "" } th { "" } } }
                tbody { @for d in array(&deliveries) { (delivery_row(signed, &base, d, may_manage)) } }
            }
        }
        (pager(&base, page, pages))
        @if may_manage {
            form.card method="post" action=(base) {
                h2 { "Edit" }
                (csrf_field(&signed.csrf))
                (settings_fields(Some(&webhook)))
                button type="submit" { "Save" }
            }
        }
        @if may_delete {
            (button_form(&format!("{base}/delete"), &signed.csrf, &[], "Delete this webhook and its deliveries", "danger"))
        }
    };
    Ok(signed.page(&format!("Webhook {}", text(&webhook["name"])), body))
}

/// `POST /namespaces/{id}/webhooks/{webhook_id}`: saves the edit form.
pub(crate) async fn update_webhook(
    signed: Signed,
    Path((raw, raw_webhook)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let (id, webhook_id) = (id(&raw)?, id(&raw_webhook)?);
    let body = settings_of(&form, false)?;
    signed
        .submit(
            &form,
            Method::PUT,
            &format!("{}/{webhook_id}", webhooks_path(id)),
            Some(body),
        )
        .await?;
    Ok(back(format!("/namespaces/{id}/webhooks/{webhook_id}")))
}

/// `POST /namespaces/{id}/webhooks/{webhook_id}/toggle` with `enabled`.
pub(crate) async fn toggle_webhook(
    signed: Signed,
    Path((raw, raw_webhook)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let (id, webhook_id) = (id(&raw)?, id(&raw_webhook)?);
    let enabled = field(&form, "enabled") == "true";
    signed
        .submit(
            &form,
            Method::PUT,
            &format!("{}/{webhook_id}", webhooks_path(id)),
            Some(json!({"enabled": enabled})),
        )
        .await?;
    Ok(back(format!("/namespaces/{id}/webhooks/{webhook_id}")))
}

/// `POST /namespaces/{id}/webhooks/{webhook_id}/delete`.
pub(crate) async fn delete_webhook(
    signed: Signed,
    Path((raw, raw_webhook)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let (id, webhook_id) = (id(&raw)?, id(&raw_webhook)?);
    signed
        .submit(
            &form,
            Method::DELETE,
            &format!("{}/{webhook_id}", webhooks_path(id)),
            None,
        )
        .await?;
    Ok(back(format!("/namespaces/{id}/webhooks")))
}

/// `POST /namespaces/{id}/webhooks/{webhook_id}/deliveries/{delivery_id}/resend`.
pub(crate) async fn resend_delivery(
    signed: Signed,
    Path((raw, raw_webhook, raw_delivery)): Path<(String, String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let (id, webhook_id, delivery) = (id(&raw)?, id(&raw_webhook)?, id(&raw_delivery)?);
    signed
        .submit(
            &form,
            Method::POST,
            &format!("{}/{webhook_id}/deliveries/{delivery}/resend", webhooks_path(id)),
            None,
        )
        .await?;
    Ok(back(format!("/namespaces/{id}/webhooks/{webhook_id}")))
}
