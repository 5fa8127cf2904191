//! `portus webhook ...`: a namespace's outgoing webhooks and their delivery log.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use portus_scan::webhooks::WebhookChanges;
use serde::{Deserialize, Serialize};

use super::backend::WebhookBackend;
use super::table::Table;
use super::views::json;
use crate::Error;

/// `portus webhook ...`
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// List a namespace's webhooks (never their secrets, credentials or header values).
    List {
        /// Namespace name.
        namespace: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a webhook; its signing secret is printed once, alone on the last line.
    Create {
        /// Namespace name.
        namespace: String,
        /// Webhook name, unique in the namespace.
        #[arg(long)]
        name: String,
        /// Where deliveries go (`http://` or `https://`; internal addresses need
        /// `webhooks.allow_private_targets`).
        #[arg(long)]
        url: String,
        /// The other settings.
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Change a webhook; options not given stay as they are.
    Update {
        /// Namespace name.
        namespace: String,
        /// Webhook name.
        webhook: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new URL.
        #[arg(long)]
        url: Option<String>,
        /// The other settings.
        #[command(flatten)]
        settings: SettingsArgs,
        /// Send no HTTP Basic credentials any more.
        #[arg(long, conflicts_with_all = ["username", "password_stdin"])]
        remove_credentials: bool,
        /// Send no custom headers any more.
        #[arg(long, conflicts_with = "headers")]
        remove_headers: bool,
    },
    /// Give a webhook a new signing secret, printed once, alone on the last line; deliveries
    /// from now on are signed with it.
    RotateSecret {
        /// Namespace name.
        namespace: String,
        /// Webhook name.
        webhook: String,
    },
    /// Delete a webhook and its delivery log.
    Delete {
        /// Namespace name.
        namespace: String,
        /// Webhook name.
        webhook: String,
    },
    /// Show a webhook's latest deliveries (newest first).
    Deliveries {
        /// Namespace name.
        namespace: String,
        /// Webhook name.
        webhook: String,
        /// Print JSON (with the bodies sent and the answers' headers and bodies).
        #[arg(long)]
        json: bool,
    },
    /// Queue a delivery again.
    Resend {
        /// Namespace name.
        namespace: String,
        /// Webhook name.
        webhook: String,
        /// The delivery's id (as `webhook deliveries` shows it).
        delivery: i64,
    },
}

/// The settings `create` and `update` share.
#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// `POST` or `GET`.
    #[arg(long)]
    method: Option<String>,
    /// The body's encoding: `json` or `form`.
    #[arg(long)]
    content_type: Option<String>,
    /// An event to deliver (repeatable; replaces the list): `push`, `delete`,
    /// `scan_completed`, `scan_failed`, `vulnerability_found`.
    #[arg(long = "event", value_name = "EVENT")]
    events: Vec<String>,
    /// The least severity `vulnerability_found` reports: negligible, low, medium, high,
    /// critical.
    #[arg(long)]
    min_severity: Option<String>,
    /// Enable deliveries.
    #[arg(long, conflicts_with = "disable")]
    enable: bool,
    /// Disable deliveries (they are not queued while disabled).
    #[arg(long)]
    disable: bool,
    /// HTTP Basic user name; the password is read from the first line of standard input with
    /// `--password-stdin`.
    #[arg(long)]
    username: Option<String>,
    /// Read the HTTP Basic password from standard input.
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// A custom header, `Name: value` (repeatable; replaces every custom header).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
}

impl SettingsArgs {
    /// The changes these options ask for.
    fn changes(self, name: Option<String>, url: Option<String>) -> Result<WebhookChanges, Error> {
        let password = match self.password_stdin {
            true => Some(super::password::read_password()?.expose().to_owned()),
            false => None,
        };
        let headers = self
            .headers
            .iter()
            .map(|h| match h.split_once(':') {
                Some((name, value)) => Ok((name.trim().to_owned(), value.trim().to_owned())),
                None => Err(Error::Usage(format!("--header '{h}': give it as 'Name: value'"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(WebhookChanges {
            name,
            url,
            method: self.method,
            content_type: self.content_type,
            events: Some(self.events).filter(|e| !e.is_empty()),
            min_severity: self.min_severity,
            enabled: match (self.enable, self.disable) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            username: self.username,
            password,
            headers: Some(headers).filter(|h| !h.is_empty()),
        })
    }
}

/// A webhook as listed: never its secret, credentials or header values.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WebhookView {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) method: String,
    pub(crate) content_type: String,
    pub(crate) events: Vec<String>,
    pub(crate) min_severity: String,
    pub(crate) enabled: bool,
    /// The names of the custom headers.
    pub(crate) headers: Vec<String>,
    pub(crate) has_credentials: bool,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// The last attempt at a delivery.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AttemptView {
    pub(crate) at: Option<DateTime<Utc>>,
    pub(crate) status: Option<u16>,
    pub(crate) duration_ms: u64,
    pub(crate) request_headers: String,
    pub(crate) response_headers: String,
    pub(crate) response_body: String,
    pub(crate) error: Option<String>,
}

/// A delivery of the log.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct DeliveryView {
    pub(crate) id: i64,
    pub(crate) event: String,
    pub(crate) event_key: String,
    pub(crate) state: String,
    pub(crate) attempts: u32,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) next_attempt_at: DateTime<Utc>,
    pub(crate) body: String,
    pub(crate) last_attempt: Option<AttemptView>,
}

fn webhooks_table(webhooks: &[WebhookView]) -> String {
    let mut table = Table::new(&["ID", "NAME", "URL", "EVENTS", "ENABLED"]);
    for w in webhooks {
        table.row(vec![
            w.id.to_string(),
            w.name.clone(),
            format!("{} {}", w.method, w.url),
            w.events.join(","),
            if w.enabled { "yes" } else { "no" }.to_owned(),
        ]);
    }
    table.render()
}

fn deliveries_table(deliveries: &[DeliveryView]) -> String {
    let mut table = Table::new(&["ID", "QUEUED", "EVENT", "STATE", "ATTEMPTS", "LAST ANSWER"]);
    for d in deliveries {
        let answer = match &d.last_attempt {
            None => "-".to_owned(),
            Some(a) => match (a.status, &a.error) {
                (Some(status), _) => format!("HTTP {status} in {} ms", a.duration_ms),
                (None, Some(error)) => error.clone(),
                (None, None) => "-".to_owned(),
            },
        };
        table.row(vec![
            d.id.to_string(),
            d.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            d.event.clone(),
            d.state.clone(),
            d.attempts.to_string(),
            answer,
        ]);
    }
    table.render()
}

pub(super) async fn run<B: WebhookBackend>(backend: &B, command: WebhookCommand) -> Result<(), Error> {
    match command {
        WebhookCommand::List {
            namespace,
            json: as_json,
        } => {
            let webhooks = backend.webhooks(&namespace).await?;
            print!(
                "{}",
                if as_json {
                    json(&webhooks) + "\n"
                } else {
                    webhooks_table(&webhooks)
                }
            );
        }
        WebhookCommand::Create {
            namespace,
            name,
            url,
            settings,
        } => {
            let changes = settings.changes(Some(name), Some(url))?;
            let (webhook, secret) = backend.create_webhook(&namespace, changes).await?;
            eprintln!(
                "created webhook '{}' of {namespace}; its signing secret (shown only now) follows",
                webhook.name
            );
            println!("{secret}");
        }
        WebhookCommand::Update {
            namespace,
            webhook,
            name,
            url,
            settings,
            remove_credentials,
            remove_headers,
        } => {
            let mut changes = settings.changes(name, url)?;
            if remove_credentials {
                changes.username = Some(String::new());
            }
            if remove_headers {
                changes.headers = Some(Vec::new());
            }
            let updated = backend.update_webhook(&namespace, &webhook, changes).await?;
            println!("updated webhook '{}' of {namespace}", updated.name);
        }
        WebhookCommand::RotateSecret { namespace, webhook } => {
            let secret = backend.rotate_secret(&namespace, &webhook).await?;
            eprintln!("webhook '{webhook}' of {namespace} has a new signing secret (shown only now)");
            println!("{secret}");
        }
        WebhookCommand::Delete { namespace, webhook } => {
            backend.delete_webhook(&namespace, &webhook).await?;
            println!("deleted webhook '{webhook}' of {namespace}");
        }
        WebhookCommand::Deliveries {
            namespace,
            webhook,
            json: as_json,
        } => {
            let deliveries = backend.deliveries(&namespace, &webhook).await?;
            print!(
                "{}",
                if as_json {
                    json(&deliveries) + "\n"
                } else {
                    deliveries_table(&deliveries)
                }
            );
        }
        WebhookCommand::Resend {
            namespace,
            webhook,
            delivery,
        } => {
            let queued = backend.resend(&namespace, &webhook, delivery).await?;
            println!("queued delivery {} again as delivery {}", delivery, queued.id);
        }
    }
    Ok(())
}
