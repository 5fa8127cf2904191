//! Validation of user, team and namespace names, and the personal-namespace name derivation.

use crate::scope::validate_path_component;
use crate::{Error, Result};

/// Longest accepted user, team or namespace name.
pub const MAX_NAME_LEN: usize = 255;

/// Checks a namespace name: one distribution path component (`[a-z0-9]+` with single `.`, `_`,
/// `__` or `-` separators), at most 255 characters.
pub fn validate_namespace_name(name: &str) -> Result<()> {
    if name.len() > MAX_NAME_LEN {
        return Err(Error::Invalid(format!(
            "namespace name is longer than {MAX_NAME_LEN} characters"
        )));
    }
    validate_path_component(name).map_err(|reason| Error::Invalid(format!("invalid namespace name: {reason}")))
}

/// Checks a new bot (`Rule` otherwise): it has no password (it signs in with application tokens) and is no
/// administrator (a stolen CI token must not run the installation).
pub fn validate_bot(new: &crate::model::NewUser) -> Result<()> {
    if new.bot && new.password_hash.is_some() {
        return Err(Error::Rule(
            "a bot has no password: it signs in with application tokens".into(),
        ));
    }
    if new.bot && new.admin {
        return Err(Error::Rule("a bot cannot be an administrator".into()));
    }
    Ok(())
}

/// Checks a user name: 1 to 255 printable characters without `:` (it separates user and
/// password in Basic auth) or white space.
pub fn validate_username(name: &str) -> Result<()> {
    // Characters, as documented (and as PostgreSQL counts them), not bytes.
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(Error::Invalid(format!(
            "user name must be 1 to {MAX_NAME_LEN} characters"
        )));
    }
    if name.chars().any(|c| c == ':' || c.is_whitespace() || c.is_control()) {
        return Err(Error::Invalid(
            "user name must not contain ':', spaces or control characters".into(),
        ));
    }
    Ok(())
}

/// Longest accepted e-mail address (RFC 5321's path limit less its angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// Checks an e-mail address as mail systems take it: `local@domain` with a local part of 1 to
/// 64 characters and a domain of dot-separated labels (letters, digits, `-`; at least two
/// labels), at most 254 characters, no white space or control characters. Quoted local parts
/// and address literals are refused: no registry account needs them and they are how header
/// injection and look-alike tricks get in.
pub fn validate_email(email: &str) -> Result<()> {
    let invalid = || Error::Invalid(format!("'{}' is not a valid e-mail address", email.escape_default()));
    if email.len() > MAX_EMAIL_LEN || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(invalid());
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok { Ok(()) } else { Err(invalid()) }
}

/// Checks a team name: 1 to 255 characters without control characters or leading/trailing
/// white space.
pub fn validate_team_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.chars().count() > MAX_NAME_LEN
        || name.trim() != name
        || name.chars().any(char::is_control)
    {
        return Err(Error::Invalid(format!(
            "team name must be 1 to {MAX_NAME_LEN} characters, without control characters or surrounding spaces"
        )));
    }
    Ok(())
}

/// Derives a valid namespace name from a user name, as Portus' `Namespace.make_valid`:
/// lower-case, invalid characters replaced by `_`, separator runs collapsed, non-alphanumerics
/// trimmed at both ends. Returns `None` when nothing usable is left.
pub fn namespace_name_for_user(username: &str) -> Option<String> {
    let mut out = String::with_capacity(username.len());
    for c in username.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '_'
        };
        let last_is_separator = out.chars().last().is_some_and(|l| !l.is_ascii_alphanumeric());
        if !c.is_ascii_alphanumeric() && last_is_separator {
            // Collapse a run of separators into a single '_'.
            out.pop();
            out.push('_');
        } else {
            out.push(c);
        }
    }
    let trimmed = out.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut name: String = trimmed.chars().take(MAX_NAME_LEN - 8).collect();
    while name.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        name.pop();
    }
    (!name.is_empty()).then_some(name)
}

/// The first of `base`, `base_2`, `base_3`, ... that `taken` says is free (for the names of
/// personal namespaces and their hidden teams).
pub fn first_free_name(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (2u32..)
        .map(|n| format!("{base}_{n}"))
        .find(|candidate| !taken(candidate))
        .expect("an unbounded sequence has a free name")
}

/// The user names an external sign-in may take at its first visit, in order: `base`, then as
/// Portus' `suggest_username` `base_01`, `base_02`, ... `base_998` (`base` shortened where the
/// suffix would pass [`MAX_NAME_LEN`]). Portus gives up after `_998`; so do its callers here.
pub fn suffixed_user_names(base: &str) -> impl Iterator<Item = String> + use<> {
    let short: String = base.chars().take(MAX_NAME_LEN - 4).collect();
    std::iter::once(base.to_owned()).chain((1..=998).map(move |n| format!("{short}_{n:02}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_namespace_names_are_valid() {
        let cases = [
            ("alice", "alice"),
            ("Alice.Smith", "alice.smith"),
            ("john doe", "john_doe"),
            ("__x__", "x"),
            ("a..b", "a_b"),
            ("a-.-b", "a_b"),
            ("user@example.com", "user_example.com"),
        ];
        for (user, expected) in cases {
            let name = namespace_name_for_user(user).unwrap();
            assert_eq!(name, expected, "{user}");
            validate_namespace_name(&name).unwrap();
        }
        assert_eq!(namespace_name_for_user("@@@"), None);
    }

    #[test]
    fn first_free_name_appends_a_counter() {
        assert_eq!(first_free_name("a", |_| false), "a");
        assert_eq!(first_free_name("a", |n| n == "a" || n == "a_2"), "a_3");
    }

    #[test]
    fn suffixed_user_names_follow_portus() {
        let names: Vec<String> = suffixed_user_names("admin").collect();
        assert_eq!(names.len(), 999);
        assert_eq!(names[..3], ["admin", "admin_01", "admin_02"]);
        assert_eq!(names[10], "admin_10");
        assert_eq!(names.last().unwrap(), "admin_998");
        let long = "x".repeat(MAX_NAME_LEN);
        for name in suffixed_user_names(&long)
            .take(3)
            .chain(suffixed_user_names(&long).skip(998))
        {
            validate_username(&name).unwrap();
        }
    }

    #[test]
    fn e_mail_addresses_are_checked() {
        for good in [
            "alice@example.org",
            "a.b+ci@mail.example.co.uk",
            "o'neil@x.io",
            "jürgen@bücher.de",
        ] {
            assert!(validate_email(good).is_ok(), "{good}");
        }
        let long = format!("{}@example.org", "a".repeat(65));
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.org",
            "alice@localhost",
            "alice@example..org",
            "alice@-example.org",
            ".alice@example.org",
            "al..ice@example.org",
            "alice smith@example.org",
            "alice@example.org\r\nBcc: eve@example.org",
            "\"alice\"@example.org",
            "alice@[127.0.0.1]",
            long.as_str(),
        ] {
            assert!(validate_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        assert!(validate_namespace_name("Alice").is_err());
        assert!(validate_namespace_name("a/b").is_err());
        assert!(validate_namespace_name("").is_err());
        assert!(validate_username("a:b").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("").is_err());
        assert!(validate_username("alice@example.com").is_ok());
        assert!(validate_team_name(" x").is_err());
        assert!(validate_team_name("Dev Team").is_ok());
        // Lengths are in characters: 255 two-byte characters are fine, 256 are not.
        assert!(validate_username(&"é".repeat(255)).is_ok());
        assert!(validate_username(&"é".repeat(256)).is_err());
        assert!(validate_team_name(&"é".repeat(255)).is_ok());
    }
}
