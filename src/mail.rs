//! The SMTP [`Mailer`] of the `portus` program (lettre): one connection per mail, STARTTLS
//! when the server offers it on `smtp://`, TLS from the start on `smtps://`.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portus_http::mail::{Mail, MailError, Mailer};

use crate::Error;
use crate::config::EmailConfig;

/// Sends mail through the SMTP server of `[email]`.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The server, without a password, for logs.
    label: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.label)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// The mailer `config` describes (checked as at load).
    pub fn new(config: &EmailConfig) -> Result<Self, Error> {
        config.validate()?;
        let server = config.server()?;
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| Error::Config(format!("email.from: {e}")))?;
        let tls = TlsParameters::new(server.host.clone())
            .map_err(|e| Error::Config(format!("email.smtp_url: TLS cannot be set up: {e}")))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
            .port(server.port)
            .timeout(Some(Duration::from_secs(30)))
            .tls(if server.implicit_tls {
                Tls::Wrapper(tls)
            } else {
                Tls::Opportunistic(tls)
            });
        if let Some((user, password)) = server.credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
            label: config.server_label(),
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let to = mail
            .to
            .parse::<Mailbox>()
            .map_err(|e| MailError(format!("the address {:?} is not one: {e}", mail.to)))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| MailError(format!("the mail cannot be built: {e}")))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| MailError(format!("{}: {e}", self.label)))?;
        Ok(())
    }
}
