//! `[email]`: sending mail (password resets) through an SMTP server. Without the section no
//! mail is sent and password resets are off.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::Error;

/// The SMTP server and the sender address.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtp://host:port` (STARTTLS when the server offers it; port 587 by default) or
    /// `smtps://host:port` (TLS from the start; port 465 by default), optionally with
    /// `user:password@` (percent-encoded) to authenticate. Never logged with its password.
    pub smtp_url: String,
    /// The sender: `portus@example.org` or `Portus <portus@example.org>`.
    pub from: String,
}

impl std::fmt::Debug for EmailConfig {
    // The URL may carry the SMTP password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConfig")
            .field("smtp_url", &self.server_label())
            .field("from", &self.from)
            .finish()
    }
}

/// The parts of a valid `smtp_url`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpServer {
    /// TLS from the start (`smtps`), else STARTTLS when offered.
    pub implicit_tls: bool,
    /// The server's host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// User name and password, percent-decoded, when the URL has them.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("implicit_tls", &self.implicit_tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

fn invalid(message: String) -> Error {
    Error::Config(format!("email.{message}"))
}

impl EmailConfig {
    /// The SMTP server `smtp_url` names, or why it is not one.
    pub fn server(&self) -> Result<SmtpServer, Error> {
        let url = Url::parse(&self.smtp_url)
            .map_err(|e| invalid(format!("smtp_url must be smtp://host:port or smtps://host:port ({e})")))?;
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => {
                return Err(invalid(format!(
                    "smtp_url must be smtp://host:port or smtps://host:port (not {other}://)"
                )));
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("smtp_url has no host".into()))?;
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("smtp_url is only scheme, credentials, host and port".into()));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) if !user.is_empty() => Some((decode(user), decode(password))),
            _ => return Err(invalid("smtp_url needs both a user and a password, or neither".into())),
        };
        Ok(SmtpServer {
            implicit_tls,
            host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
            port: url.port().unwrap_or(if implicit_tls { 465 } else { 587 }),
            credentials,
        })
    }

    /// The server for people and logs: the URL without its password.
    pub fn server_label(&self) -> String {
        match Url::parse(&self.smtp_url) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("redacted"));
                }
                url.to_string()
            }
            Err(_) => "<invalid smtp_url>".into(),
        }
    }

    /// Checks the URL and the sender address.
    pub fn validate(&self) -> Result<(), Error> {
        self.server()?;
        self.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| invalid(format!("from must be an address such as portus@example.org ({e})")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(url: &str, from: &str) -> EmailConfig {
        EmailConfig {
            smtp_url: url.into(),
            from: from.into(),
        }
    }

    #[test]
    fn urls_name_a_server_with_tls_and_credentials() {
        let plain = email("smtp://mail.example.org:2525", "portus@example.org");
        plain.validate().unwrap();
        let server = plain.server().unwrap();
        assert_eq!(
            (server.implicit_tls, server.host.as_str(), server.port),
            (false, "mail.example.org", 2525)
        );
        assert_eq!(server.credentials, None);
        let tls = email(
            "smtps://bot%40x:p%40ss+w@mail.example.org",
            "Portus <portus@example.org>",
        );
        tls.validate().unwrap();
        let server = tls.server().unwrap();
        assert_eq!((server.implicit_tls, server.port), (true, 465));
        assert_eq!(server.credentials, Some(("bot@x".into(), "p@ss+w".into())));
        assert_eq!(email("smtp://127.0.0.1", "a@b").server().unwrap().port, 587);
    }

    #[test]
    fn the_password_is_never_printed() {
        let config = email("smtps://bot:hunter2-secret@mail.example.org:465", "portus@example.org");
        let printed = format!("{config:?} {:?} {}", config.server().unwrap(), config.server_label());
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("mail.example.org"));
    }

    #[test]
    fn bad_urls_and_senders_are_refused() {
        for (url, from, expected) in [
            ("http://mail.example.org", "a@b.org", "smtp://host:port"),
            ("mail.example.org:25", "a@b.org", "smtp://host:port"),
            ("smtp://", "a@b.org", "no host"),
            ("smtp://mail.example.org/x", "a@b.org", "only scheme"),
            ("smtp://user@mail.example.org", "a@b.org", "both a user and a password"),
            ("smtp://mail.example.org", "not an address", "from must be"),
        ] {
            let error = email(url, from).validate().unwrap_err().to_string();
            assert!(
                error.contains(expected) && error.contains("email."),
                "{url} {from}: {error}"
            );
        }
    }
}
