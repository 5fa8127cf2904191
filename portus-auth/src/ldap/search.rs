//! Finding a user's entry: the escaped search filter, the search under `admin_base` then
//! `base`, and reading the entry found (attribute values, the e-mail guessed from its DN).

use ldap3::{Ldap, Scope, SearchEntry, SearchOptions};
use portus_core::Error as CoreError;
use tracing::warn;

use super::LdapAuthenticator;
use super::error::{RC_NO_SUCH_OBJECT, RC_REFERRAL, RC_SIZE_LIMIT_EXCEEDED, result_error, unavailable};

/// The user search filter; the user name is escaped so it can only ever be a literal value.
pub(super) fn user_filter(uid: &str, username: &str, extra_filter: &str) -> String {
    format!("(&({uid}={}){extra_filter})", ldap3::ldap_escape(username))
}

/// `<username>@<dc parts joined by dots>`, or `None` when the DN has no `dc` part.
pub(super) fn email_from_dn(username: &str, dn: &str) -> Option<String> {
    if username.contains('@') {
        return None;
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in dn.chars().chain([',']) {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' => {
                current.push(c);
                escaped = true;
            }
            ',' | '+' => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    let domain: Vec<&str> = parts
        .iter()
        .filter_map(|part| part.split_once('='))
        .filter(|(kind, value)| kind.trim().eq_ignore_ascii_case("dc") && !value.trim().is_empty())
        .map(|(_, value)| value.trim())
        .collect();
    (!domain.is_empty()).then(|| format!("{username}@{}", domain.join(".")))
}

/// Values of `attribute` in `entry` (servers may answer with another letter case).
pub(super) fn values<'a>(entry: &'a SearchEntry, attribute: &str) -> impl Iterator<Item = &'a String> {
    entry
        .attrs
        .iter()
        .filter(move |(name, _)| name.eq_ignore_ascii_case(attribute))
        .flat_map(|(_, values)| values)
}

/// The outcome of the user search.
pub(super) enum UserSearch {
    NotFound,
    /// The entry, and whether it was found under `admin_base`.
    Found(SearchEntry, bool),
    /// More than one entry has this user name: refuse rather than pick one.
    Ambiguous,
}

impl LdapAuthenticator {
    /// Searches the user under `admin_base`, then `base`.
    pub(super) async fn find_user(&self, ldap: &mut Ldap, username: &str) -> Result<UserSearch, CoreError> {
        let filter = user_filter(&self.config.uid, username, &self.extra_filter);
        let mut attributes = vec![self.config.uid.clone()];
        if self.config.guess_email.enabled && !self.config.guess_email.attr.is_empty() {
            attributes.push(self.config.guess_email.attr.clone());
        }
        let bases = self
            .admin_base
            .iter()
            .map(|base| (base.as_str(), true))
            .chain([(self.config.base.as_str(), false)]);
        for (base, admin) in bases {
            // Two entries are enough to know the name is ambiguous.
            let timelimit = i32::try_from(self.config.timeout).unwrap_or(i32::MAX);
            ldap.with_search_options(SearchOptions::new().sizelimit(2).timelimit(timelimit));
            let ldap3::SearchResult(entries, result) = self
                .connector
                .within("user search", ldap.search(base, Scope::Subtree, &filter, &attributes))
                .await
                .map_err(unavailable)?;
            match result.rc {
                0 => {}
                RC_SIZE_LIMIT_EXCEEDED => return Ok(UserSearch::Ambiguous),
                RC_NO_SUCH_OBJECT | RC_REFERRAL => {
                    warn!(base, code = result.rc, "LDAP search base does not exist on this server");
                    continue;
                }
                _ => return Err(result_error("user search", &result)),
            }
            let mut entries = entries.into_iter();
            match (entries.next(), entries.next()) {
                (None, _) => continue,
                (Some(entry), None) => return Ok(UserSearch::Found(SearchEntry::construct(entry), admin)),
                (Some(_), Some(_)) => return Ok(UserSearch::Ambiguous),
            }
        }
        Ok(UserSearch::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_escaped_in_the_filter() {
        assert_eq!(user_filter("uid", "alice", ""), "(&(uid=alice))");
        assert_eq!(
            user_filter("uid", "*)(uid=*", "(objectClass=person)"),
            r"(&(uid=\2a\29\28uid=\2a)(objectClass=person))"
        );
        assert_eq!(user_filter("uid", r"a\b", ""), r"(&(uid=a\5cb))");
        for hostile in ["*", "alice)(uid=*", "*)(|(uid=*", r"\", "a\0b"] {
            let filter = user_filter("uid", hostile, "(objectClass=person)");
            assert!(ldap3::parse_filter(&filter).is_ok(), "{filter}");
            let value = &filter["(&(uid=".len()..filter.len() - ")(objectClass=person))".len()];
            assert!(!value.contains(['*', '(', ')', '\0']), "unescaped: {filter}");
        }
    }

    #[test]
    fn email_is_guessed_from_the_dn() {
        assert_eq!(
            email_from_dn("alice", "uid=alice,ou=people,dc=example,dc=org").as_deref(),
            Some("alice@example.org")
        );
        assert_eq!(
            email_from_dn("bob", "CN=Bob\\, Jr,OU=Users,DC=corp,DC=example,DC=com").as_deref(),
            Some("bob@corp.example.com")
        );
        assert_eq!(email_from_dn("carol", "uid=carol,o=acme"), None);
        assert_eq!(
            email_from_dn("dave", "uid=dave, dc = acme , dc=io").as_deref(),
            Some("dave@acme.io")
        );
        assert_eq!(email_from_dn("e@x", "uid=e,dc=example,dc=org"), None);
    }
}
