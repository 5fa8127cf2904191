//! A webhook's settings made from what a user typed, the same way for the REST API and the
//! command line: names parsed, the URL checked by the SSRF guard, the signing secret, the
//! credentials and the custom header values sealed.

use portus_core::model::{WebhookContentType, WebhookEvent, WebhookMethod, WebhookSettings};
use portus_core::traits::Severity;

use super::{Sealer, WebhookSecrets, check_target};
use crate::Error;

/// Changes to a webhook as a user gives them; absent fields stay as they are (for a new
/// webhook: POST, JSON, the `push` event, `high`, enabled, no credentials, no headers).
#[derive(Debug, Default, Clone)]
pub struct WebhookChanges {
    /// A name, unique in its namespace.
    pub name: Option<String>,
    /// `http://` or `https://`.
    pub url: Option<String>,
    /// `GET` or `POST`.
    pub method: Option<String>,
    /// `json` or `form` (or their MIME types).
    pub content_type: Option<String>,
    /// Event names.
    pub events: Option<Vec<String>>,
    /// A severity name, for `vulnerability_found`.
    pub min_severity: Option<String>,
    /// Whether deliveries are made.
    pub enabled: Option<bool>,
    /// The HTTP Basic user name; empty removes the credentials.
    pub username: Option<String>,
    /// The HTTP Basic password.
    pub password: Option<String>,
    /// Replaces every custom header.
    pub headers: Option<Vec<(String, String)>>,
}

impl WebhookChanges {
    fn touches_secrets(&self) -> bool {
        self.username.is_some() || self.password.is_some() || self.headers.is_some()
    }
}

/// The lowercase name of a severity, as users write it.
pub fn severity_name(severity: Severity) -> String {
    format!("{severity:?}").to_ascii_lowercase()
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidWebhook(message.into())
}

fn parse_content_type(text: &str) -> Result<WebhookContentType, Error> {
    match text.trim().to_ascii_lowercase().as_str() {
        "json" => Ok(WebhookContentType::Json),
        "form" => Ok(WebhookContentType::Form),
        other => other.parse().map_err(|e: portus_core::Error| invalid(e.to_string())),
    }
}

fn parse_severity(text: &str) -> Result<Severity, Error> {
    Severity::ALL
        .into_iter()
        .find(|s| severity_name(*s) == text.trim().to_ascii_lowercase())
        .ok_or_else(|| invalid(format!("unknown severity '{text}'")))
}

fn parse_events(events: &[String]) -> Result<Vec<WebhookEvent>, Error> {
    events
        .iter()
        .map(|e| e.trim().parse().map_err(|e: portus_core::Error| invalid(e.to_string())))
        .collect()
}

/// The settings of a new webhook, and its signing secret (to be shown once). `name` and `url`
/// are required.
pub async fn new_webhook_settings(
    changes: WebhookChanges,
    sealer: &Sealer,
    allow_private_targets: bool,
) -> Result<(WebhookSettings, String), Error> {
    if changes.name.as_deref().is_none_or(|n| n.trim().is_empty()) || changes.url.is_none() {
        return Err(invalid("a webhook needs a name and a URL"));
    }
    let secret = WebhookSecrets::generate_secret()?;
    let fresh = WebhookSecrets {
        secret: secret.clone(),
        username: None,
        password: None,
        headers: Vec::new(),
    };
    let mut settings = WebhookSettings {
        name: String::new(),
        url: String::new(),
        method: WebhookMethod::Post,
        content_type: WebhookContentType::Json,
        events: vec![WebhookEvent::Push],
        min_severity: Severity::High,
        enabled: true,
        header_names: Vec::new(),
        has_credentials: false,
        sealed: String::new(),
    };
    change(&mut settings, Some(fresh), changes, sealer, allow_private_targets).await?;
    Ok((settings, secret))
}

/// Applies `changes` to an existing webhook's `settings`. The sealed part is opened and sealed
/// again only when the changes touch credentials or headers: enabling a webhook never needs
/// its secrets.
pub async fn change_webhook_settings(
    settings: &mut WebhookSettings,
    changes: WebhookChanges,
    sealer: &Sealer,
    allow_private_targets: bool,
) -> Result<(), Error> {
    change(settings, None, changes, sealer, allow_private_targets).await
}

/// Gives a webhook a new signing secret (its credentials and headers stay); returns it, to be
/// shown once. Deliveries signed from then on use it, including re-sends of older ones.
pub fn rotate_webhook_secret(settings: &mut WebhookSettings, sealer: &Sealer) -> Result<String, Error> {
    let mut secrets = sealer.open(&settings.sealed)?;
    secrets.secret = WebhookSecrets::generate_secret()?;
    settings.sealed = sealer.seal(&secrets)?;
    Ok(secrets.secret)
}

async fn change(
    settings: &mut WebhookSettings,
    secrets: Option<WebhookSecrets>,
    changes: WebhookChanges,
    sealer: &Sealer,
    allow_private_targets: bool,
) -> Result<(), Error> {
    if let Some(url) = &changes.url {
        let url = url.trim();
        check_target(url, allow_private_targets)
            .await
            .map_err(|e| invalid(e.to_string()))?;
        settings.url = url.to_owned();
    }
    if let Some(name) = &changes.name {
        settings.name = name.trim().to_owned();
    }
    if let Some(method) = &changes.method {
        settings.method = method
            .trim()
            .parse()
            .map_err(|e: portus_core::Error| invalid(e.to_string()))?;
    }
    if let Some(content_type) = &changes.content_type {
        settings.content_type = parse_content_type(content_type)?;
    }
    if let Some(events) = &changes.events {
        settings.events = parse_events(events)?;
    }
    if let Some(severity) = &changes.min_severity {
        settings.min_severity = parse_severity(severity)?;
    }
    if let Some(enabled) = changes.enabled {
        settings.enabled = enabled;
    }
    if let Some((name, _)) = changes.headers.iter().flatten().find(|(n, _)| n.trim().is_empty()) {
        return Err(invalid(format!("a custom header needs a name (got '{name}')")));
    }
    let touches_secrets = changes.touches_secrets();
    let mut secrets = match secrets {
        Some(secrets) => secrets,
        None if touches_secrets => sealer.open(&settings.sealed)?,
        None => return Ok(()),
    };
    if let Some(username) = changes.username {
        secrets.username = Some(username).filter(|u| !u.is_empty());
        secrets.password = if secrets.username.is_some() {
            changes.password
        } else {
            None
        };
    } else if let Some(password) = changes.password {
        secrets.password = Some(password);
    }
    if let Some(headers) = changes.headers {
        secrets.headers = headers;
    }
    settings.header_names = secrets.headers.iter().map(|(n, _)| n.clone()).collect();
    settings.has_credentials = secrets.username.is_some();
    settings.sealed = sealer.seal(&secrets)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(&[7; 32]).unwrap()
    }

    fn named(name: &str, url: &str) -> WebhookChanges {
        WebhookChanges {
            name: Some(name.into()),
            url: Some(url.into()),
            ..WebhookChanges::default()
        }
    }

    #[tokio::test]
    async fn a_new_webhook_gets_the_defaults_and_a_secret_sealed_with_its_credentials() {
        let sealer = sealer();
        let changes = WebhookChanges {
            username: Some("robot".into()),
            password: Some("pw".into()),
            headers: Some(vec![("X-Team".into(), "blue".into())]),
            ..named("ci", "http://203.0.113.10/hook")
        };
        let (settings, secret) = new_webhook_settings(changes, &sealer, false).await.unwrap();
        assert_eq!(
            (settings.method, settings.content_type, settings.min_severity),
            (WebhookMethod::Post, WebhookContentType::Json, Severity::High)
        );
        assert_eq!(settings.events, [WebhookEvent::Push]);
        assert!(settings.enabled && settings.has_credentials);
        let opened = sealer.open(&settings.sealed).unwrap();
        assert_eq!(opened.secret, secret);
        assert_eq!(opened.password.as_deref(), Some("pw"));
        assert_eq!(opened.headers, [("X-Team".to_owned(), "blue".to_owned())]);
    }

    #[tokio::test]
    async fn rule_breaking_settings_are_refused_as_invalid() {
        let sealer = sealer();
        for changes in [
            named("x", "http://127.0.0.1/hook"),
            named("x", "ftp://203.0.113.10/"),
            WebhookChanges {
                events: Some(vec!["pushed".into()]),
                ..named("x", "http://203.0.113.10/")
            },
            WebhookChanges {
                min_severity: Some("apocalyptic".into()),
                ..named("x", "http://203.0.113.10/")
            },
            WebhookChanges {
                headers: Some(vec![(" ".into(), "v".into())]),
                ..named("x", "http://203.0.113.10/")
            },
            named(" ", "http://203.0.113.10/"),
        ] {
            let refused = new_webhook_settings(changes.clone(), &sealer, false).await;
            assert!(
                matches!(refused, Err(Error::InvalidWebhook(_))),
                "{changes:?}: {refused:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_rotated_secret_replaces_the_old_one_and_keeps_the_credentials() {
        let sealer = sealer();
        let changes = WebhookChanges {
            username: Some("robot".into()),
            password: Some("pw".into()),
            ..named("ci", "http://203.0.113.10/hook")
        };
        let (mut settings, old) = new_webhook_settings(changes, &sealer, false).await.unwrap();
        let new = rotate_webhook_secret(&mut settings, &sealer).unwrap();
        assert_ne!(new, old);
        let opened = sealer.open(&settings.sealed).unwrap();
        assert_eq!((opened.secret, opened.password.as_deref()), (new, Some("pw")));
    }

    #[tokio::test]
    async fn changes_keep_the_secrets_they_do_not_touch() {
        let sealer = sealer();
        let changes = WebhookChanges {
            username: Some("robot".into()),
            password: Some("pw".into()),
            ..named("ci", "http://203.0.113.10/hook")
        };
        let (mut settings, secret) = new_webhook_settings(changes, &sealer, false).await.unwrap();
        let sealed = settings.sealed.clone();
        let rename = WebhookChanges {
            name: Some("renamed".into()),
            enabled: Some(false),
            ..WebhookChanges::default()
        };
        change_webhook_settings(&mut settings, rename, &sealer, false)
            .await
            .unwrap();
        assert_eq!((settings.name.as_str(), settings.enabled), ("renamed", false));
        assert_eq!(settings.sealed, sealed, "not re-sealed");
        let remove = WebhookChanges {
            username: Some(String::new()),
            ..WebhookChanges::default()
        };
        change_webhook_settings(&mut settings, remove, &sealer, false)
            .await
            .unwrap();
        assert!(!settings.has_credentials);
        let opened = sealer.open(&settings.sealed).unwrap();
        assert_eq!((opened.secret, opened.username, opened.password), (secret, None, None));
    }
}
